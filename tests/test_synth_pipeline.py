"""End-to-end synthesis with tiny checkpoints made here (no trained model needed)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import write_jsonl
from v2vtool.io.video import open_video, read_frames
from v2vtool.synthesis import iter_synthesis, synthesize
from v2vtool.synthesis.finetune import finetune_on_examples, frozen_modules
from v2vtool.models.checkpoint import load_generator

from tests.conftest import make_checkpoint

def video_info(path: Path) -> tuple[int, float, tuple[int, int]]:
    with open_video(path) as r:
        n = sum(1 for _ in r)
        return n, r.fps, r.size


@pytest.mark.parametrize("k", [1, 3])
def test_clip_driver_end_to_end(pose_ckpt, heldout_clip, synth_dataset, tmp_path, k):
    manifest = json.loads((synth_dataset / "manifest.json").read_text())
    other = next(c for c in manifest["clips"] if c["split"] == "test"
                 and synth_dataset / c["path"] != heldout_clip)
    examples = [f"{synth_dataset / other['path']}:" + ",".join(str(i) for i in range(0, 3 * k, 3))]
    out = tmp_path / "out.mp4"
    seen = []
    res = synthesize(examples, heldout_clip, out, checkpoint=pose_ckpt, attention_maps=tmp_path
                     / "att", frames_dir=tmp_path / "frames", device="cpu",
                     progress=lambda d, t, f: seen.append((d, t)))
    clip = Clip(heldout_clip)
    n, fps, size = video_info(out)
    assert (n, fps, size) == (len(clip), clip.fps, (64, 64))
    assert res.frames == len(clip) and res.k == k and res.retargeted
    assert seen[-1] == (len(clip), len(clip))
    assert len(list((tmp_path / "frames").glob("*.png"))) == len(clip)
    att = sorted((tmp_path / "att").glob("*.png"))
    assert len(att) == len(clip)
    panel = np.asarray(__import__("PIL.Image").Image.open(att[5]))
    assert panel.shape == (64, 64 * k, 3)
    if k == 3:  # the examples are tinted differently (attention differs between examples)
        tiles = [panel[:, 64 * i:64 * (i + 1)].astype(float) for i in range(3)]
        assert max(np.abs(tiles[0] - t).mean() for t in tiles[1:]) > 1.0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["k"] == k and side["checkpoint_sha256"] == res.checkpoint_sha256
    assert side["config"]["generator"]["kind"] == "pose" and side["seed"] == 0
    assert side["held_frames"] == 0 and side["timing"]["frames_per_second"] > 0
    assert side["v2vtool_version"] and side["driver"]["fps"] == clip.fps


def test_side_by_side_and_size(pose_ckpt, heldout_clip, tmp_path):
    out = tmp_path / "sbs.mp4"
    synthesize([f"{heldout_clip}:0"], heldout_clip, out, checkpoint=pose_ckpt, side_by_side=True,
               size=(96, 64), device="cpu")
    n, _, size = video_info(out)
    assert n == len(Clip(heldout_clip)) and size == (3 * 96, 64)
    first = read_frames(out, limit=1)[0]
    assert first[:, :96].mean() < first[:, 96:192].mean()  # a skeleton on black | the example


def test_keypoint_driver_with_gaps_and_no_retarget(pose_ckpt, heldout_clip, tmp_path):
    frames = Clip(heldout_clip).keypoints
    frames = [[]] + frames[1:5] + [[], []] + frames[7:]
    write_jsonl(tmp_path / "kp.jsonl", frames)
    out = tmp_path / "o.mp4"
    res = synthesize([f"{heldout_clip}:0"], tmp_path / "kp.jsonl", out, checkpoint=pose_ckpt,
                     retarget=False, device="cpu", driver_fps=12.5)
    assert res.held_frames == 3 and not res.retargeted
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["held_frames"] == 3 and side["driver"]["fps_assumed"] is False
    assert video_info(out)[:2] == (len(frames), 12.5)


def test_openpose_folder_driver(pose_ckpt, heldout_clip, tmp_path):
    from v2vtool.io.keypoints import write_openpose_json

    frames = Clip(heldout_clip).keypoints[:6]
    for i, f in enumerate(frames):
        write_openpose_json(tmp_path / "op" / f"clip_{i:012d}_keypoints.json", f)
    res = synthesize([f"{heldout_clip}:0"], tmp_path / "op", tmp_path / "o.mp4",
                     checkpoint=pose_ckpt, device="cpu")
    assert video_info(tmp_path / "o.mp4")[:2] == (6, 30.0) and res.frames == 6
    side = json.loads((tmp_path / "o.json").read_text())
    assert side["driver"]["source"] == "openpose" and side["driver"]["fps_assumed"] is True


def test_real_media_face_driver(tmp_path, data_dir):
    """carphone (real video, 176x144, 29.97 fps): face landmarks extracted on the fly."""
    ckpt = make_checkpoint(tmp_path / "face", "face")
    first = read_frames(data_dir / "carphone_pristine.mp4", limit=1)[0]
    __import__("PIL.Image").Image.fromarray(first).save(tmp_path / "ex.png")
    out = tmp_path / "face.mp4"
    res = synthesize([tmp_path / "ex.png"], data_dir / "carphone_pristine.mp4", out,
                     checkpoint=ckpt, device="cpu")
    n, fps, _ = video_info(out)
    with open_video(data_dir / "carphone_pristine.mp4") as r:
        assert (n, fps) == (r.frame_count, r.fps)
    assert res.retargeted


def test_video_driver_audio_copied(tmp_path, data_dir):
    """An edges model driven by a video with an audio track: output keeps fps and audio."""
    import av

    ckpt = make_checkpoint(tmp_path / "edges", "edges")
    frame = read_frames(data_dir / "no_person.mp4", limit=1)[0]
    __import__("PIL.Image").Image.fromarray(frame).save(tmp_path / "ex.png")
    out = tmp_path / "a.mp4"
    synthesize([tmp_path / "ex.png"], data_dir / "with_audio.mp4", out, checkpoint=ckpt,
               device="cpu")
    with av.open(str(out)) as c:
        assert c.streams.audio and c.streams.video
    assert video_info(out)[:2] == (10, 25.0)
    assert json.loads(out.with_suffix(".json").read_text())["driver"]["audio_copied"]


def test_finetune_updates_only_e_and_h(pose_ckpt, heldout_clip):
    loaded = load_generator(pose_ckpt)
    g = loaded.generator
    names = {n for n, _ in frozen_modules(g)}
    assert names == {"flow_prev", "flow_ref"}
    before = {k: v.clone() for k, v in g.state_dict().items()}
    clip = Clip(heldout_clip)
    from v2vtool.synthesis.stream import prepare_examples
    ex = prepare_examples(loaded.config.generator, [clip.frame(0), clip.frame(6)],
                          [clip.keypoints[0], clip.keypoints[6]])
    rep = finetune_on_examples(g, ex.image_tensor, ex.semantic_tensor, steps=3, lr=1e-3)
    after = g.state_dict()
    frozen = [k for k in before if k.startswith(("flow_prev.", "flow_ref."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("weightgen.") for k in changed)
    assert any(k.startswith(("blocks.", "to_image.")) for k in changed)
    assert any(k.startswith("encoder.") for k in changed)
    assert rep.steps == 3 and rep.frozen > 0 and rep.trainable > 0
    assert all(p.requires_grad for p in g.parameters())  # flags restored


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def test_streaming_bounded_memory_and_lazy_driver(tmp_path, heldout_clip):
    """~1000-frame keypoint driver: the driver is pulled lazily and RSS stays flat."""
    ckpt = make_checkpoint(tmp_path / "c32", "pose", ("generator.height=32",
                                                      "generator.width=32"))
    loaded = load_generator(ckpt)
    clip = Clip(heldout_clip)
    kps = clip.keypoints
    pulled = []

    def driver():
        for i in range(1000):
            pulled.append(i)
            yield kps[i % len(kps)]

    it = iter_synthesis(loaded.generator, loaded.config, [clip.frame(0)], [kps[0]], driver(),
                        driver_size=clip.size)
    first = next(it)
    assert first.image.shape == (32, 32, 3) and len(pulled) <= 20  # small look-ahead only
    rss = {}
    for f in it:
        if f.index in (100, 999):
            rss[f.index] = _rss_mb()
    assert len(pulled) == 1000 and set(rss) == {100, 999}
    assert rss[999] - rss[100] < 25, rss
