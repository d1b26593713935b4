"""Display matrix / rotate tag -> upright frames (io/orientation.py), against PyAV's own
rotation semantics: counter-clockwise degrees, then the mirror."""
from __future__ import annotations

import av
import numpy as np
import pytest

from tests.phone_media import write_video
from v2vtool.io.orientation import Orientation, from_rotate_tag
from v2vtool.io.video import open_video


def _picture() -> np.ndarray:
    img = np.full((48, 64, 3), 60, np.uint8)  # distinct corners: any turn or mirror shows
    img[:8, :16] = 255
    img[40:, :4] = (255, 0, 0)
    img[:4, 56:] = (0, 0, 255)
    return img


def _expected(img, degrees, hflip, vflip):
    out = np.rot90(img, degrees // 90)
    out = out[:, ::-1] if hflip else out
    return out[::-1] if vflip else out


@pytest.mark.parametrize("degrees", [0, 90, 180, -90])
@pytest.mark.parametrize("hflip,vflip", [(False, False), (True, False), (False, True),
                                         (True, True)])
def test_display_matrix_every_turn_and_mirror(tmp_path, degrees, hflip, vflip):
    img = _picture()
    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"crf": "0"}
        s.set_display_rotation(degrees, hflip, vflip)
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = 0
        for p in [*s.encode(f), *s.encode(None)]:
            c.mux(p)
    want = _expected(img, degrees, hflip, vflip)
    with open_video(path) as r:
        got = next(iter(r))
        assert r.size == (want.shape[1], want.shape[0])
    assert np.abs(got.astype(int) - want).mean() < 3


@pytest.mark.parametrize("tag,turns", [("90", -1), ("180", 2), ("270", 1), ("-90", 1),
                                       ("0", 0)])
def test_rotate_tag(tmp_path, tag, turns):
    img = _picture()
    path = write_video(tmp_path / "v.mkv", [img], rotate_tag=tag)
    with open_video(path) as r:
        got = next(iter(r))
        assert r.orientation.source == ("rotate tag" if turns else None)
    assert np.abs(got.astype(int) - np.rot90(img, turns)).mean() < 3


def test_odd_angles_are_read_as_stored(caplog):
    assert from_rotate_tag("45") == Orientation() and "not a multiple of 90" in caplog.text
    assert from_rotate_tag("sideways") == Orientation()
    img = _picture()
    assert Orientation().apply(img) is img and Orientation().describe() is None
