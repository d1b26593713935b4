"""The view (data/view.py, View in data/augment.py): the directions of the static-camera mapping
and of the full-frame placement pinned with marked pixels, the record's round trip, output
sizes, and crops past the frame edge filled by inpainting instead of replicated stripes."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from v2vtool.data.augment import View
from v2vtool.data.view import ViewRecord, full_output_size
from v2vtool.errors import UserError


def _apply(a: np.ndarray, x: float, y: float) -> tuple[float, float]:
    return tuple(float(v) for v in a @ np.array([x, y, 1.0]))


def test_map_to_puts_a_marked_scene_pixel_at_its_known_place():
    """Two crops of one camera with a known shift (and scale): the driver-crop pixel showing a
    marked scene point maps to the example-crop pixel showing the same point, and sampling the
    example crop there (what the model does with `background`) shows the mark there. The
    inverse mapping (b.map_to(a)) puts it elsewhere."""
    scene = np.zeros((200, 240, 3), np.uint8)
    scene[90:92, 120:122] = 255  # a 2x2 mark centred at (120.5, 90.5)
    driver = View(100, 50, 128, 128, 64, 64)  # scale 0.5: the mark -> pixel (10, 20)
    example = View(84, 66, 64, 64, 64, 64)  # scale 1: the mark -> (36.5, 24.5)
    m = driver.map_to(example)
    assert _apply(m, 10, 20) == pytest.approx((36.5, 24.5))
    assert _apply(example.map_to(driver), 10, 20) != pytest.approx((36.5, 24.5))
    # what the synthesizer feeds the model: output px -> example px, sampled backward
    seen = cv2.warpAffine(example.image(scene), m, (64, 64),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    y, x = np.unravel_index(np.argmax(seen[..., 0]), seen.shape[:2])
    assert (x, y) == (10, 20)
    assert np.argmax(driver.image(scene)[..., 0]) == np.ravel_multi_index((20, 10), (64, 64))


def test_affine_maps_source_pixels_into_the_view():
    v = View(100, 50, 128, 128, 64, 64)
    assert _apply(v.affine(), 120.5, 90.5) == pytest.approx((10, 20))
    kp = v.keypoints([__import__("v2vtool.io.keypoints", fromlist=["Person"]).Person(
        pose=np.array([[120.5, 90.5, 1.0]] * 25, np.float32))])
    assert tuple(kp[0].pose[0, :2]) == pytest.approx((10, 20))  # same convention as keypoints


def test_full_placement_puts_a_marked_model_pixel_at_its_known_driver_place():
    crop = View(100, 50, 128, 128, 64, 64)  # model pixel (10, 20) shows driver px (120.5, 90.5)
    same = ViewRecord("full", (640, 360), crop, (640, 360))
    assert _apply(same.placement(), 10, 20) == pytest.approx((120.5, 90.5))
    half = ViewRecord("full", (640, 360), crop, (320, 180))  # --max-height 180
    assert _apply(half.placement(), 10, 20) == pytest.approx((60, 45))
    assert _apply(half.driver_to_output(), 120.5, 90.5) == pytest.approx((60, 45))
    cropped = ViewRecord("crop", (640, 360), crop, (128, 128))  # --framing crop --size 128x128
    assert _apply(cropped.placement(), 10, 20) == pytest.approx((20.5, 40.5))
    assert _apply(cropped.driver_to_output(), 120.5, 90.5) == pytest.approx((20.5, 40.5))


def test_full_framing_draws_a_marked_model_pixel_at_its_driver_place():
    """FullFraming (synthesis) with the record above: the mark lands on driver px 120..121 x
    90..91 (and on 60, 45 at half size)."""
    from v2vtool.synthesis.framing import FullFraming
    from v2vtool.synthesis.stream import SynthFrame

    crop = View(100, 50, 128, 128, 64, 64)
    gray = np.full((360, 640, 3), 60, np.uint8)
    model = np.full((64, 64, 3), 60, np.uint8)
    model[20, 10] = 255
    frame = SynthFrame(0, model, None, 0, None, False, 0.0)
    for out, expect in (((640, 360), {(120, 90), (121, 90), (120, 91), (121, 91)}),
                        ((320, 180), {(60, 45)})):
        framer = FullFraming(ViewRecord("full", (640, 360), crop, out), [gray], [crop], None,
                             same_camera=True, body=False)
        img = framer.frame(frame).image
        assert img.shape == (out[1], out[0], 3)
        y, x = np.unravel_index(np.argmax(img[..., 0]), img.shape[:2])
        assert (int(x), int(y)) in expect
        assert img[0, 0, 0] == 60 and img[-1, -1, 0] == 60  # the plate outside the crop


def test_view_record_round_trips_and_refuses_malformed():
    rec = ViewRecord("full", (1280, 720), View(-20, 33, 600, 600, 128, 128), (640, 360))
    back = ViewRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert back == rec and back.crop.box == (-20, 33, 600, 600)
    assert np.allclose(rec.to_dict()["placement"], rec.placement(), atol=1e-6)
    bad = dict(rec.to_dict(), crop_box=[1, 2, 3])
    with pytest.raises(UserError, match="out.json: malformed"):
        ViewRecord.from_dict(bad, "out.json")
    with pytest.raises(UserError, match="framing"):
        ViewRecord.from_dict(dict(rec.to_dict(), framing="letterbox"), "out.json")


@pytest.mark.parametrize("driver, cap, expect", [((1280, 720), 1080, (1280, 720)),
                                                 ((1280, 720), 360, (640, 360)),
                                                 ((1920, 1080), 1080, (1920, 1080)),
                                                 ((641, 361), 1080, (640, 360)),
                                                 ((176, 144), 1080, (176, 144))])
def test_full_output_size(driver, cap, expect):
    assert full_output_size(driver, cap) == expect


def test_crop_past_the_frame_edge_is_inpainted_not_replicated():
    """A synthesis input whose crop runs 40 px past the left edge: no column of the outside
    part repeats the edge column (replication would make every one a copy); inside the frame
    both ways agree."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 1.5)
    img = np.ascontiguousarray(img)
    v = View(-40, 10, 100, 100, 100, 100)  # identity scale: columns 0..39 lie outside
    rep, inp = v.image(img), v.image(img, outside="inpaint")
    assert np.array_equal(rep[:, 40:], inp[:, 40:])
    edge = rep[:, 40:41].astype(int)
    assert np.all(rep[:, :40] == edge)  # replication: stripes
    same = np.all(inp[:, :40].astype(int) == edge, axis=2)
    assert same.mean() < 0.2, same.mean()
    assert inp[:, :40].std(axis=1).mean() > 1.0  # varies along the rows, not a copy
    with pytest.raises(ValueError):
        v.image(img, outside="wrap")
