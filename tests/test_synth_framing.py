"""`synthesize --framing full|crop` end to end on constructed static-camera scenes (the true
scene is known exactly): the output outside the driven person is the scene, the frame keeps the
driver's size (or --max-height), no bars or stripes, the view on record, evaluate reads it."""
from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_checkpoint
from tests.scenes import (draw_person, person_mask, skeleton, textured_scene,
                          write_scene_clip)
from v2vtool.io.clipdir import Clip
from v2vtool.io.video import read_frames

HEIGHT = 80  # body height (px) of the person in the small scenes
SIZE = (192, 128)
CENTRES = [(40 + 22 * i, 80) for i in range(6)]  # the person walks left -> right
# "the driven person's dilated mask": the drawn person dilated by this x body height. The
# blend reaches the model's body mask (semantics.prior, wider than the drawn limbs) + 6 % of
# the model height + its feather: measured at most 0.29 x body height here.
MARGIN = 0.35


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "pose")


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory):
    return write_scene_clip(tmp_path_factory.mktemp("scene") / "clip", SIZE, CENTRES, HEIGHT)


def _outside(i: int, size=SIZE, centres=CENTRES, height=HEIGHT) -> np.ndarray:
    mask = person_mask(skeleton(*centres[i], height), size, height).astype(np.uint8)
    r = int(round(MARGIN * height))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask, k) == 0


def test_full_framing_static_camera_shows_the_scene_outside_the_person(ckpt, scene_clip,
                                                                      tmp_path):
    """Examples = frames 0 and 5 of one static camera (the person at the two ends): outside the
    driven person's dilated mask every output pixel is the true scene (PNG frames: lossless;
    tolerance: mean abs difference < 0.5 levels, max 2), including where an example's own
    person stood (seen in the other example)."""
    from v2vtool.synthesis import synthesize

    clip, scene = scene_clip
    res = synthesize([f"{clip}:0,5"], clip, tmp_path / "o.mp4", checkpoint=ckpt, device="cpu",
                     retarget=False, frames_dir=tmp_path / "frames")
    assert res.framing == "full" and res.size == SIZE and res.background_aligned
    frames = read_frames(tmp_path / "frames")
    assert len(frames) == len(CENTRES)
    for i in (1, 2, 3):  # the driven person away from both examples' persons
        out = _outside(i)
        diff = np.abs(frames[i].astype(int) - scene)[out]
        assert diff.mean() < 0.5 and diff.max() <= 2, (i, diff.mean(), diff.max())
        under_examples = (~_outside(0)) | (~_outside(5))
        assert np.abs(frames[i].astype(int) - scene)[out & under_examples].max() <= 2
        # the person is drawn where the driver's is (red), not in the examples' places
        body = person_mask(skeleton(*CENTRES[i], HEIGHT), SIZE, HEIGHT)
        assert frames[i][body][:, 0].mean() > frames[i][body][:, 1].mean() + 60
    side = json.loads((tmp_path / "o.json").read_text())
    assert side["view"]["framing"] == "full" and side["view"]["blend"] == "person"
    assert side["view"]["output_size"] == list(SIZE)


def test_one_example_has_its_own_person_inpainted(ckpt, scene_clip, tmp_path):
    """K = 1: nobody else sees behind the example's person, so that part of the plate is
    inpainted: no red person left there, and close to the true scene."""
    from v2vtool.synthesis import synthesize

    clip, scene = scene_clip
    synthesize([f"{clip}:0"], clip, tmp_path / "o.mp4", checkpoint=ckpt, device="cpu",
               retarget=False, frames_dir=tmp_path / "frames")
    frame = read_frames(tmp_path / "frames")[3]
    where = person_mask(skeleton(*CENTRES[0], HEIGHT), SIZE, HEIGHT) & _outside(3)
    got = frame[where].astype(int)
    assert got[:, 0].mean() < got[:, 1].mean() + 40  # not the person's red (220, 40, 40)
    assert np.abs(got - scene[where]).mean() < 30


def test_synthesizer_background_direction(ckpt, tmp_path):
    """The static-camera mapping the synthesizer hands the model (`Synthesizer.background`,
    `View.map_to`): with the examples' crops shifted against the driver's, a marked scene pixel
    away from the persons appears in the generated (model-px) frame where the driver's crop
    sees it."""
    from v2vtool.data.augment import View
    from v2vtool.io.keypoints import Person
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.synthesis.stream import Synthesizer

    size = (256, 160)
    scene = np.full((size[1], size[0], 3), 40, np.uint8)
    mark = (150, 40)  # between the persons, inside every crop
    scene[mark[1] - 2:mark[1] + 3, mark[0] - 2:mark[0] + 3] = (0, 255, 0)
    ex_kp, drv_kp = skeleton(95, 95, 90), skeleton(170, 105, 90)
    loaded = load_generator(ckpt)
    synth = Synthesizer(loaded.generator, loaded.config, [draw_person(scene, ex_kp, 90)],
                        [[Person(pose=ex_kp)]])
    frames = list(synth.run([[Person(pose=drv_kp)]] * 2, driver_size=size, retarget=False))
    drv, ex = synth.view, synth.examples.views[0]
    assert drv.box != ex.box  # a real shift between the crops
    at_driver = View.affine(drv) @ np.array([*mark, 1.0])
    at_example = View.affine(ex) @ np.array([*mark, 1.0])
    assert synth.background[0] @ np.append(at_driver, 1) == pytest.approx(at_example, abs=1e-4)
    green = frames[-1].image[..., 1].astype(int) - frames[-1].image[..., 0]
    y, x = np.unravel_index(np.argmax(green), green.shape)
    assert abs(x - at_driver[0]) <= 1.5 and abs(y - at_driver[1]) <= 1.5, ((x, y), at_driver)


@pytest.fixture(scope="module")
def hd_inputs(tmp_path_factory):
    """A 1280x720 clip driver (2 frames) and a 240x200 example photo of another camera."""
    root = tmp_path_factory.mktemp("hd")
    clip, _ = write_scene_clip(root / "clip", (1280, 720), [(600, 420), (620, 420)], 400)
    ex = draw_person(textured_scene((240, 200), 5), skeleton(120, 110, 150), 150)
    Image.fromarray(ex).save(root / "ex.png")
    return clip, root / "ex.png"


def _bars_or_stripes(img: np.ndarray, band: int = 16) -> list[str]:
    """The sides of a frame with a black bar (its border line dark) or replicated stripes: the
    edge's visible texture (mean step along the edge > 2 levels) repeated unchanged across the
    outer band (> 90 % of it persisting from line to line), what edge replication paints."""
    bad = []
    for name, b in (("top", img[:band]), ("bottom", img[-band:]),
                    ("left", img[:, :band].transpose(1, 0, 2)),
                    ("right", img[:, -band:].transpose(1, 0, 2))):
        step = np.diff(b.astype(float), axis=1)  # along the edge, per line of the band
        texture = np.abs(step).mean()
        persisting = np.abs(step.mean(0)).mean() / max(texture, 1e-9)
        if b.mean() < 30:
            bad.append(f"{name}: bar")
        if texture > 2 and persisting > 0.9:
            bad.append(f"{name}: stripes")
    return bad


def test_the_stripe_check_sees_replication():
    img = textured_scene((200, 120))
    v = __import__("v2vtool.data.augment", fromlist=["View"]).View(-30, -20, 200, 120, 200, 120)
    assert _bars_or_stripes(v.image(img), band=12) == ["top: stripes", "left: stripes"]
    assert _bars_or_stripes(v.image(img, outside="inpaint"), band=12) == []
    black = img.copy()
    black[:, -12:] = 0
    assert _bars_or_stripes(black, band=12) == ["right: bar"]


def test_hd_driver_keeps_its_size_and_max_height_scales(ckpt, hd_inputs, tmp_path):
    from v2vtool.synthesis import synthesize

    clip, photo = hd_inputs
    res = synthesize([photo], clip, tmp_path / "full.mp4", checkpoint=ckpt, device="cpu",
                     frames_dir=tmp_path / "full")
    assert res.size == (1280, 720) and not res.background_aligned
    frames = read_frames(tmp_path / "full")
    assert frames[0].shape == (720, 1280, 3)
    assert _bars_or_stripes(frames[0]) == []
    with __import__("v2vtool.io.video", fromlist=["open_video"]).open_video(
            tmp_path / "full.mp4") as r:
        assert tuple(r.size) == (1280, 720)
    res = synthesize([photo], clip, tmp_path / "small.mp4", checkpoint=ckpt, device="cpu",
                     max_height=360, frames_dir=tmp_path / "small")
    assert res.size == (640, 360)
    small = read_frames(tmp_path / "small")[0]
    assert small.shape == (360, 640, 3)
    assert _bars_or_stripes(small, band=8) == []
    side = json.loads((tmp_path / "small.json").read_text())["view"]
    assert side["driver_size"] == [1280, 720] and side["output_size"] == [640, 360]
    # the placement is the 1280x720 one scaled by 1/2
    big = json.loads((tmp_path / "full.json").read_text())["view"]
    assert big["crop_box"] == side["crop_box"]
    assert side["placement"][0][0] == pytest.approx(big["placement"][0][0] / 2, rel=1e-4)


def test_crop_framing_keeps_the_model_size_behaviour(ckpt, hd_inputs, tmp_path):
    """--framing crop: the model's person view at the model's size (or --size), as before."""
    from v2vtool.synthesis import synthesize

    clip, photo = hd_inputs
    res = synthesize([photo], clip, tmp_path / "c.mp4", checkpoint=ckpt, device="cpu",
                     framing="crop")
    assert res.size == (64, 64)
    res = synthesize([photo], clip, tmp_path / "c2.mp4", checkpoint=ckpt, device="cpu",
                     framing="crop", size=(96, 64))
    assert res.size == (96, 64)
    side = json.loads((tmp_path / "c2.json").read_text())["view"]
    assert side["framing"] == "crop" and side["output_size"] == [96, 64]
    assert side["model_size"] == [64, 64] and side["blend"] == "resize"


def test_keypoint_only_driver_defaults_to_crop(ckpt, scene_clip, tmp_path):
    from v2vtool.io.keypoints import write_jsonl
    from v2vtool.synthesis import synthesize

    clip, _ = scene_clip
    write_jsonl(tmp_path / "kp.jsonl", Clip(clip).keypoints)
    res = synthesize([f"{clip}:0"], tmp_path / "kp.jsonl", tmp_path / "o.mp4",
                     checkpoint=ckpt, device="cpu")
    assert res.framing == "crop" and res.size == (64, 64)


def test_side_by_side_and_attention_maps_follow_full_framing(ckpt, scene_clip, tmp_path):
    from v2vtool.synthesis import synthesize

    clip, _ = scene_clip
    synthesize([f"{clip}:0,5"], clip, tmp_path / "s.mp4", checkpoint=ckpt, device="cpu",
               side_by_side=True, attention_maps=tmp_path / "att")
    first = read_frames(tmp_path / "s.mp4", limit=1)[0]
    assert first.shape == (SIZE[1], 3 * SIZE[0], 3)
    att = np.asarray(Image.open(sorted((tmp_path / "att").glob("*.png"))[0]))
    assert att.shape == (SIZE[1], 3 * SIZE[0], 3)  # 2 examples + the tinted output


def test_evaluate_reads_the_view_and_old_sidecars_warn(ckpt, scene_clip, tmp_path, caplog):
    """Crop framing: evaluate crops the real frames by the sidecar's crop box (no --driver
    needed); a sidecar without the view (older v2vtool) gets it recomputed from the driver's
    keypoints with a warning, and the same scores."""
    import v2vtool.cli.evaluate  # noqa: F401
    from typer.testing import CliRunner

    from v2vtool.cli.app import app
    from v2vtool.synthesis import synthesize

    clip, _ = scene_clip
    out = tmp_path / "o.mp4"
    synthesize([f"{clip}:0,5"], clip, out, checkpoint=ckpt, device="cpu", retarget=False,
               framing="crop")

    def evaluate(*extra):
        r = CliRunner().invoke(app, ["evaluate", "-g", str(out), "--real", str(clip),
                                     "--json", str(tmp_path / "m.json"), *extra])
        assert r.exit_code == 0, r.output
        return json.loads((tmp_path / "m.json").read_text())

    new = evaluate()
    assert any("cropped like the driver" in n for n in new["notes"])
    assert any("view from the synthesis sidecar" in n for n in new["notes"])
    side = json.loads(out.with_suffix(".json").read_text())
    del side["view"]
    out.with_suffix(".json").write_text(json.dumps(side))
    with caplog.at_level(logging.WARNING):
        old = evaluate("--driver", str(clip))
    assert any("no view record" in n for n in old["notes"])
    assert any("no view record" in r.getMessage() for r in caplog.records)
    assert old["metrics"]["psnr"] == pytest.approx(new["metrics"]["psnr"], abs=1e-6)


def test_example_crop_past_its_frame_has_no_stripes(ckpt, hd_inputs):
    """The person view itself: the photo's person-centred crop runs past its bottom edge;
    the model sees the inpainted extension there, not replicated rows."""
    from v2vtool.io.image import read_rgb
    from v2vtool.io.keypoints import Person
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.synthesis.stream import Synthesizer

    _, photo = hd_inputs
    loaded = load_generator(ckpt)
    synth = Synthesizer(loaded.generator, loaded.config, [read_rgb(photo)],
                        [[Person(pose=skeleton(120, 110, 150))]])
    view = synth.examples.views[0]
    assert view.y0 + view.ch > 200  # runs past the bottom
    img = synth.examples.images[0]
    assert _bars_or_stripes(img, band=4) == []
    assert _bars_or_stripes(view.image(read_rgb(photo)), band=4) == ["bottom: stripes"]
