"""Procedural dancers: determinism, split, keypoints vs masks, views, exact re-rendering."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from v2vtool.data.synth import (Identity, generate_dataset, read_manifest, render_identity,
                                render_motion_clip, sample_identity)
from v2vtool.data.synth.appearance import clothing_texture
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _clips(ds: Path) -> list[Clip]:
    return [Clip(ds / c["path"]) for c in read_manifest(ds)["clips"]]


def test_same_seed_gives_identical_files(tmp_path):
    kw = dict(identities=2, clips_per_identity=1, frames=6, size=64, test_identities=1)
    a = _files(generate_dataset(tmp_path / "a", seed=5, **kw))
    b = _files(generate_dataset(tmp_path / "b", seed=5, workers=2, **kw))  # parallel: same
    c = _files(generate_dataset(tmp_path / "c", seed=6, **kw))
    assert len(a) > 20 and a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a)
    assert a["id0000/clip00/frames/000000.png"] != c["id0000/clip00/frames/000000.png"]
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind


def test_manifest_and_disjoint_split(synth_dataset):
    m = json.loads((synth_dataset / "manifest.json").read_text())
    assert m["format"] == "v2v-synth/1" and m["seed"] == 0 and m["size"] == 64
    train, test = set(m["train"]), set(m["test"])
    assert len(test) == 2 and len(train) == 4 and not train & test
    assert train | test == set(m["identities"])
    assert len(m["clips"]) == 12
    for c in m["clips"]:
        assert c["split"] == ("test" if c["identity"] in test else "train")
        clip = Clip(synth_dataset / c["path"])
        assert clip.kind == "pose" and len(clip) == 24 and clip.size == (64, 64)
        assert clip.meta["identity"] == c["identity"] and len(clip.meta["views"]) == 24
    # identities really differ in appearance
    apps = [Identity.from_dict(a) for a in m["identities"].values()]
    assert len({a.top for a in apps}) == len(apps)


def test_keypoints_lie_inside_person_mask(synth_dataset):
    for clip in _clips(synth_dataset):
        for i, frame in enumerate(clip.keypoints):
            assert len(frame) == 1
            mask = clip.mask(i)
            assert 0.02 < (mask > 0).mean() < 0.5
            pts = np.concatenate([frame[0].pose, frame[0].face])
            pts = pts[pts[:, 2] > 0]
            xy = np.round(pts[:, :2]).astype(int)
            near = np.pad(mask, 1)  # a keypoint may sit on the silhouette's edge pixel
            near = np.max([near[dy:dy + 64, dx:dx + 64] for dy in range(3)
                           for dx in range(3)], axis=0)
            inside = near[np.clip(xy[:, 1], 0, 63), np.clip(xy[:, 0], 0, 63)] > 0
            assert (mask[np.clip(xy[:, 1], 0, 63), np.clip(xy[:, 0], 0, 63)] > 0).mean() > 0.9
            assert inside.all(), (clip.path, i, pts[~inside])


def test_every_view_occurs_and_face_only_from_front(synth_dataset):
    views_all = set()
    for clip in _clips(synth_dataset):
        views = clip.meta["views"]
        views_all |= set(views)
        assert {"front", "side", "back"} <= set(views), clip.path  # every clip turns around
        for view, frame in zip(views, clip.keypoints):
            face_found = frame[0].face[:, 2].any()
            if view == "back":
                assert not face_found and frame[0].pose[0, 2] == 0  # no face, no nose
            if view == "front":
                assert face_found
    assert views_all == {"front", "side", "back"}


def test_front_and_back_clothing_differ():
    for i in range(20):
        app = sample_identity(np.random.default_rng([0, i]))
        assert app.front != app.back
        assert not np.array_equal(clothing_texture(app, "front"), clothing_texture(app, "back"))


def test_render_identity_reproduces_clip_frames(synth_dataset):
    clip = _clips(synth_dataset)[3]
    rendered = list(render_identity(synth_dataset, clip.meta["identity"], clip.keypoints, 64))
    assert len(rendered) == len(clip)
    for i, (img, mask) in enumerate(rendered):
        assert np.array_equal(img, clip.frame(i)) and np.array_equal(mask, clip.mask(i))
    # any frame size: a wider frame, keypoints shifted right by 16 px -> same person, shifted
    moved = [[p.transformed(1.0, np.array([16.0, 0.0], np.float32)) for p in f]
             for f in clip.keypoints[:2]]
    wide = list(render_identity(synth_dataset, clip.meta["identity"], moved, (96, 64)))
    assert wide[0][0].shape == (64, 96, 3)
    assert abs(int((wide[0][1] > 0).sum()) - int((rendered[0][1] > 0).sum())) < 20


def test_motion_from_renders_identity_a_with_b_keypoints(synth_dataset, tmp_path):
    m = read_manifest(synth_dataset)
    b_clip = Clip(synth_dataset / m["clips"][0]["path"])  # identity id0000
    a_id = m["test"][0]
    assert a_id != b_clip.meta["identity"]
    out = render_motion_clip(synth_dataset, a_id, b_clip.path, tmp_path / "a_as_b")
    a_as_b = Clip(out)
    assert a_as_b.meta["identity"] == a_id and a_as_b.meta["views"] == b_clip.meta["views"]
    truth = list(render_identity(synth_dataset, a_id, b_clip.keypoints, 64))
    for i in range(len(b_clip)):
        kb, ka = b_clip.keypoints[i][0], a_as_b.keypoints[i][0]
        assert np.array_equal(kb.pose, ka.pose) and np.array_equal(kb.face, ka.face)
        assert np.array_equal(a_as_b.semantic(i), b_clip.semantic(i))
        assert np.array_equal(a_as_b.frame(i), truth[i][0])
        assert np.array_equal(a_as_b.mask(i), truth[i][1])
    assert not np.array_equal(a_as_b.frame(0), b_clip.frame(0))  # different person
    with pytest.raises(UserError, match="no identity"):
        render_motion_clip(synth_dataset, "id9999", b_clip.path, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kw, msg", [
    (dict(size=32), "--size"), (dict(test_identities=2), "--test-identities"),
    (dict(frames=0), "--frames")])
def test_bad_arguments_raise_user_error(tmp_path, kw, msg):
    args = dict(identities=2, clips_per_identity=1, frames=4, size=64, seed=0,
                test_identities=1) | kw
    with pytest.raises(UserError, match=msg):
        generate_dataset(tmp_path / "d", **args)
    assert not (tmp_path / "d").exists()
