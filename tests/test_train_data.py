"""Training data: clip discovery + splits, sampling keys, augmentation geometry, flow, guards."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from v2vtool.config import DataConfig, GeneratorConfig
from v2vtool.data.augment import FACE_70_FLIP, View, flip_person, make_view
from v2vtool.data.dataset import (FewShotBatchSampler, FewShotDataset, SampleKey, check_clips,
                                  find_clips)
from v2vtool.data.flow import FlowEstimator, warp_numpy
from v2vtool.errors import UserError
from v2vtool.io.clipdir import ClipWriter
from v2vtool.io.keypoints import BODY_25_FLIP, Person
from v2vtool.semantics.render import render_face, render_pose


def _pose_person(t: float, size: int, rng: np.random.Generator) -> Person:
    """A stick figure (BODY_25) swaying with t, in pixels of a size x size frame."""
    s = size / 64
    cx = 32 * s + 4 * s * np.sin(t)
    pts = {0: (0, -22), 1: (0, -16), 2: (-5, -16), 3: (-8, -8), 4: (-9, 0), 5: (5, -16),
           6: (8, -8), 7: (9 + 3 * np.sin(2 * t), 0), 8: (0, 2), 9: (-3, 2), 10: (-4, 12),
           11: (-4, 22), 12: (3, 2), 13: (4, 12), 14: (4, 22), 15: (-1, -23), 16: (1, -23)}
    pose = np.zeros((25, 3), np.float32)
    for j, (x, y) in pts.items():
        pose[j] = (cx + x * s, 32 * s + y * s, 0.9)
    return Person(pose=pose)


def _face_person(t: float, size: int) -> Person:
    s = size / 64
    ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    r = 18 * s * (1 + 0.05 * np.sin(t))
    face = np.zeros((70, 3), np.float32)
    face[:68, 0] = 32 * s + r * np.cos(ang) * 0.8
    face[:68, 1] = 32 * s + r * np.sin(ang)
    face[:68, 2] = 0.9
    return Person(face=face)


def make_clip(path: Path, kind: str, n: int = 10, size: int = 64, seed: int = 0,
              **meta) -> Path:
    """A small synthetic clip dir of any kind (frames consistent with the semantics)."""
    rng = np.random.default_rng(seed)
    color = rng.integers(60, 255, 3)
    with ClipWriter(path, kind, fps=10) as w:
        for i in range(n):
            t = i * 0.4 + seed
            yy, xx = np.mgrid[0:size, 0:size]
            frame = np.zeros((size, size, 3), np.uint8)
            frame[..., 0] = (xx * 2 + i) % 256
            frame[..., 1] = 40
            frame[..., 2] = yy * 2
            kp, sem = None, None
            if kind == "pose":
                kp = [_pose_person(t, size, rng)]
                m = render_pose(kp, (size, size)).max(-1) > 0
                frame[m] = color
            elif kind == "face":
                kp = [_face_person(t, size)]
                m = render_face(kp, (size, size)) > 0
                frame[m] = color
            elif kind == "edges":
                x0 = 10 + i
                frame[20:40, x0:x0 + 15] = color
                sem = np.zeros((size, size), np.uint8)
                sem[20, x0:x0 + 15] = sem[39, x0:x0 + 15] = 255
                sem[20:40, x0] = sem[20:40, x0 + 14] = 255
            elif kind == "segmentation":
                sem = np.zeros((size, size), np.uint8)
                sem[size // 2:] = 1
                sem[10:30, 5 + i:25 + i] = 2
                frame[sem == 1] = (80, 80, 80)
                frame[sem == 2] = color
            w.add(frame, keypoints=kp, semantic=sem)
        w.close(**meta)
    return path


def test_find_clips_manifest_split(tmp_path):
    root = tmp_path / "set"
    for name, ident in (("a", "0"), ("b", "1"), ("c", "2")):
        make_clip(root / name, "pose", n=6, identity=ident)
    (root / "manifest.json").write_text(json.dumps({"clips": [
        {"path": "a", "identity": "0", "split": "train"},
        {"path": "b", "identity": "1", "split": "train"},
        {"path": "c", "identity": "2", "split": "test"}]}))
    train = find_clips([root], "train")
    test = find_clips([root], "test")
    assert [e.path.name for e in train] == ["a", "b"] and [e.path.name for e in test] == ["c"]
    # without a manifest: recursive discovery, all clips are training clips
    (root / "manifest.json").unlink()
    assert len(find_clips([root], "train")) == 3 and find_clips([root], "test") == []


def test_guards(tmp_path):
    with pytest.raises(UserError, match="not found"):
        find_clips([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no training clip"):
        check_clips(find_clips([tmp_path / "empty"]), [tmp_path / "empty"], "pose", "tiny", 4)
    make_clip(tmp_path / "p" / "c", "pose", n=5)
    entries = find_clips([tmp_path / "p"])
    with pytest.raises(UserError, match="does not match preset 'face-256'"):
        check_clips(entries, [tmp_path / "p"], "face", "face-256", 4)
    with pytest.raises(UserError, match="shorter than the training window of 8"):
        check_clips(entries, [tmp_path / "p"], "pose", "tiny", 8)


def test_batch_sampler_fixed_k_and_sharding():
    sched = lambda s: 1 if s < 2 else 4  # noqa: E731
    full = FewShotBatchSampler(10, 4, 3, sched, seed=5, world_size=1)
    r0 = FewShotBatchSampler(10, 2, 3, sched, seed=5, rank=0, world_size=2)
    r1 = FewShotBatchSampler(10, 2, 3, sched, seed=5, rank=1, world_size=2)
    ks = set()
    for s in range(6):
        b = full.keys(s)
        assert len({k.k for k in b}) == 1 and all(k.t == sched(s) for k in b)
        ks.add(b[0].k)
        assert r0.keys(s)[0].k == r1.keys(s)[0].k  # K agreed across ranks
        clips = [k.clip for k in r0.keys(s) + r1.keys(s)]
        if (s * 4) // 10 == (s * 4 + 3) // 10:  # within one epoch the shards are disjoint
            assert len(set(clips)) == len(clips)
    assert ks <= {1, 2, 3} and len(ks) > 1
    # resuming at step 3 gives the same batches as an uninterrupted stream
    it = iter(FewShotBatchSampler(10, 4, 3, sched, seed=5, start_step=3))
    assert next(it) == full.keys(3) and next(it) == full.keys(4)


@pytest.mark.parametrize("kind,c", [("pose", 3), ("face", 1), ("edges", 1), ("segmentation", 5)])
def test_dataset_sample_shapes(tmp_path, kind, c):
    make_clip(tmp_path / "c", kind, n=8, size=48)
    entries = find_clips([tmp_path])
    g = GeneratorConfig(kind=kind, n_classes=5, height=32, width=32)
    ds = FewShotDataset(entries, g, DataConfig(frame_stride=2, example_window=4))
    s = ds[SampleKey(0, 2, 3, 123)]
    assert s["examples"].shape == (2, 3, 32, 32) and s["example_semantics"].shape == (2, c, 32, 32)
    assert s["images"].shape == (3, 3, 32, 32) and s["semantics"].shape == (3, c, 32, 32)
    assert s["flow"].shape == (3, 2, 32, 32) and s["flow_conf"].shape == (3, 1, 32, 32)
    assert s["images"].min() >= -1 and s["images"].max() <= 1
    assert s["semantics"].max() > 0 and s["semantics"].min() >= 0
    again = ds[SampleKey(0, 2, 3, 123)]
    assert all(torch.equal(s[k], again[k]) for k in s)  # a sample is a function of its key
    ex, tg, _, _ = ds.indices(SampleKey(0, 2, 3, 123))
    assert all(e < 4 for e in ex) and tg == list(range(tg[0], tg[0] + (tg[1] - tg[0]) * 3, tg[1] - tg[0]))


def test_flip_swaps_left_right():
    p = Person()
    p.pose[2] = (10, 5, 1)   # RShoulder
    p.pose[5] = (20, 5, 1)   # LShoulder
    p.hand_left[0] = (30, 3, 1)
    q = flip_person(p, 64)
    assert tuple(q.pose[5]) == (53, 5, 1) and tuple(q.pose[2]) == (43, 5, 1)
    assert q.hand_right[0, 0] == 33 and q.hand_left[0, 2] == 0
    for perm in (BODY_25_FLIP, FACE_70_FLIP):
        assert sorted(perm) == list(range(len(perm)))
        assert all(perm[perm[i]] == i for i in range(len(perm)))  # an involution
    assert len(FACE_70_FLIP) == 70


def test_crop_keypoints_follow_pixels():
    """A marked pixel and its keypoint land at the same place through crop + resize + flip."""
    img = np.zeros((100, 80, 3), np.uint8)
    img[40:44, 30:34] = 255  # centre (31.5, 41.5)
    person = Person()
    person.pose[1] = (31.5, 41.5, 1)
    person.pose[8] = (31.5, 71.5, 1)
    for flip in (False, True):
        view = make_view((80, 100), (32, 32), [[person]], True, 1.5, flip)
        assert isinstance(view, View) and view.ch == 45
        out = view.image(img).astype(float).sum(-1)
        ys, xs = np.nonzero(out > 0.5 * out.max())
        kp = view.keypoints([person])[0].pose
        idx = 1
        assert abs(xs.mean() - kp[idx, 0]) < 0.6 and abs(ys.mean() - kp[idx, 1]) < 0.6


def test_flow_estimator_recovers_shift():
    rng = np.random.default_rng(0)
    import cv2
    a = cv2.resize((rng.random((8, 8, 3)) * 255).astype(np.uint8), (64, 64),
                   interpolation=cv2.INTER_CUBIC)
    b = np.roll(a, 2, axis=1)  # content moved right by 2: b(p) = a(p - 2)
    flow, conf = FlowEstimator()(b, a)
    assert abs(np.median(flow[..., 0]) + 2) < 0.3 and abs(np.median(flow[..., 1])) < 0.3
    assert conf.mean() > 0.8
    err = np.abs(warp_numpy(a, flow).astype(float) - b)[8:-8, 8:-8].mean()
    assert err < 6


def test_workers_give_the_same_batches(tmp_path):
    from torch.utils.data import DataLoader

    from v2vtool.training.loop import _worker_init

    for i in range(3):
        make_clip(tmp_path / f"c{i}", "pose", n=8, size=32, seed=i)
    ds = FewShotDataset(find_clips([tmp_path]), GeneratorConfig(height=32, width=32),
                        DataConfig())
    batches = []
    for workers in (0, 2):
        sampler = FewShotBatchSampler(len(ds), 2, 2, lambda s: 1 + s, seed=3, end_step=3)
        loader = DataLoader(ds, batch_sampler=sampler, num_workers=workers,
                            worker_init_fn=_worker_init,
                            multiprocessing_context="spawn" if workers else None)
        batches.append(list(loader))
    for a, b in zip(*batches):
        assert a["images"].shape[1] == b["images"].shape[1]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert [b["images"].shape[1] for b in batches[1]] == [1, 2, 3]


def test_view_map_to_maps_the_same_source_pixel():
    """Two crops of one camera's frame: map_to carries an output pixel of one crop to the output
    pixel of the other that shows the same source pixel (background alignment in synthesis)."""
    from v2vtool.data.augment import View

    a = View(10, 20, 80, 80, 64, 64)
    b = View(-5, 0, 120, 120, 64, 64)
    src = np.array([[37.0, 55.0], [0.0, 0.0], [90.0, 100.0]])
    def to_out(v, s):
        return (s - [v.x0, v.y0] + 0.5) * [v.out_w / v.cw, v.out_h / v.ch] - 0.5
    m = a.map_to(b)
    pa, pb = to_out(a, src), to_out(b, src)
    np.testing.assert_allclose(pa @ m[:, :2].T + m[:, 2], pb, atol=1e-4)
    np.testing.assert_allclose(a.map_to(a), np.eye(2, 3), atol=1e-6)


def test_a_folder_of_symlinked_clip_dirs_is_found(tmp_path):
    """A split made of symlinks to clip dirs (benchmarks/realdev.py) trains on every linked
    clip; a clip dir given itself is found too."""
    from v2vtool.data.dataset import find_clips

    for name in ("a", "b"):
        make_clip(tmp_path / "all" / name, "pose", n=2, size=16)
    split = tmp_path / "split"
    split.mkdir()
    (split / "a").symlink_to(tmp_path / "all" / "a")
    found = find_clips([split])
    assert [e.path.name for e in found] == ["a"]
    assert [e.path.name for e in find_clips([tmp_path / "all" / "b"])] == ["b"]
    assert sorted(e.path.name for e in find_clips([tmp_path / "all"])) == ["a", "b"]


def test_sample_has_the_examples_silhouettes_and_the_plate(synth_dataset):
    """Keypoint-prior samples carry each example's person and the scene behind it: the plate
    equals the examples' frame where it is seen (no person colour) and is filled elsewhere."""
    entries = find_clips([synth_dataset])
    g = GeneratorConfig(height=64, width=64)
    ds = FewShotDataset(entries, g, DataConfig(color_jitter=0.0, flip=False), augment=False)
    s = ds[SampleKey(0, 2, 1, 7)]
    masks, plate = s["example_masks"], s["plate"]
    assert masks.shape == (2, 1, 64, 64) and plate.shape == (4, 64, 64)
    assert set(masks.unique().tolist()) == {0.0, 1.0} and 0 < masks.mean() < 0.6
    known = plate[3] > 0.5
    assert 0.2 < known.float().mean() < 1.0  # both seen scene and inpainted pixels
    assert (known <= (masks[0, 0] < 0.5) | (masks[1, 0] < 0.5)).all()  # never on both people
    from v2vtool.data.plate import person_hole

    seen_in_first = torch.from_numpy(~person_hole(masks[0, 0].numpy() > 0.5))
    assert (known >= seen_in_first).all()
    torch.testing.assert_close(plate[:3][:, seen_in_first], s["examples"][0][:, seen_in_first],
                               atol=1 / 127.5, rtol=0)


def test_camera_look_is_drawn_per_sample_and_backdrops_only_behind_procedural_dancers(
        synth_dataset, tmp_path):
    """data.backdrop / data.camera: examples and targets share one backdrop (a photo where the
    procedural painted background was); off (0) the sample is the clip itself; a real clip (no
    v2v-synth extractor) keeps its own background."""
    entries = find_clips([synth_dataset])
    g = GeneratorConfig(height=64, width=64)
    plain = FewShotDataset(entries, g, DataConfig(color_jitter=0.0, flip=False))
    photo = FewShotDataset(entries, g, DataConfig(color_jitter=0.0, flip=False, backdrop=1.0))
    key = SampleKey(0, 1, 2, 11)
    a, b = plain[key], photo[key]
    import torch.nn.functional as F

    # inside the example's own person (1 px in from its outline: the seam is feathered) the
    # example is unchanged; most of the rest is the photo now
    person = -F.max_pool2d(-b["example_masks"][:, 0][None], 3, 1, 1)[0, 0] > 0.5
    changed = (a["examples"][0] - b["examples"][0]).abs().amax(0) > 0.05
    assert changed.float().mean() > 0.3 and not changed[person].any()
    # the backdrop is one picture: where the plain targets agree (the painted static background
    # seen in both), the photo targets agree too
    # (up to a few pixels at the dancers' feathered outlines)
    same = (a["images"][0] - a["images"][1]).abs().amax(0) < 1e-6
    agree = (b["images"][0][:, same] - b["images"][1][:, same]).abs().amax(0) < 0.02
    assert same.float().mean() > 0.5 and agree.float().mean() > 0.99
    cam = FewShotDataset(entries, g, DataConfig(color_jitter=0.0, flip=False, camera=1.0))
    assert not torch.equal(cam[key]["images"], a["images"])
    real = make_clip(tmp_path / "real", "pose", n=8, size=48)
    real_ds = FewShotDataset(find_clips([real]), GeneratorConfig(height=32, width=32),
                             DataConfig(color_jitter=0.0, flip=False, backdrop=1.0))
    plain_real = FewShotDataset(find_clips([real]), GeneratorConfig(height=32, width=32),
                                DataConfig(color_jitter=0.0, flip=False))
    assert torch.equal(real_ds[key]["images"], plain_real[key]["images"])


def test_data_mix_draws_folders_by_weight_and_is_a_function_of_the_step():
    from v2vtool.data.dataset import FewShotBatchSampler

    groups = [list(range(0, 10)), list(range(10, 12))]  # 10 procedural clips, 2 real ones
    s = FewShotBatchSampler(12, 8, 2, lambda step: 1, seed=3, groups=groups, weights=[1, 3])
    clips = [k.clip for step in range(200) for k in s.keys(step)]
    real = np.mean([c >= 10 for c in clips])
    assert 0.7 < real < 0.8  # a quarter procedural, three quarters real
    assert s.keys(57) == FewShotBatchSampler(12, 8, 2, lambda step: 1, seed=3, groups=groups,
                                             weights=[1, 3]).keys(57)
    # ranks share the draw: rank 0 and 1 together = the world-size-1 batch of twice the size
    r0, r1 = (FewShotBatchSampler(12, 4, 2, lambda step: 1, seed=3, rank=r, world_size=2,
                                  groups=groups, weights=[1, 3]).keys(9) for r in (0, 1))
    assert len({k.clip for k in r0 + r1}) >= 2
    plain = FewShotBatchSampler(12, 8, 2, lambda step: 1, seed=3)
    assert plain.keys(4) == FewShotBatchSampler(12, 8, 2, lambda step: 1, seed=3,
                                                groups=groups, weights=[]).keys(4)


def test_data_mix_must_match_the_folders(tmp_path):
    from v2vtool.data.dataset import mix_groups

    make_clip(tmp_path / "a" / "c", "pose", n=4, size=32)
    (tmp_path / "b").mkdir()
    entries = find_clips([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(UserError, match="2 weights for 3"):
        mix_groups(entries, [1, 1], [tmp_path / "a", tmp_path / "b", tmp_path / "a"])
    with pytest.raises(UserError, match="no training clip"):
        mix_groups(entries, [1, 1], [tmp_path / "a", tmp_path / "b"])
    assert mix_groups(entries, [1, 0], [tmp_path / "a", tmp_path / "b"]) == [[0], []]
