"""A folder of good and bad inputs for the bad-input tests (tests/test_bad_input*.py).

Everything a hostile user could point a command at, in one directory that the tests use as
the working directory, so every path in a case is relative and "nothing changed" means
"nothing changed anywhere in this folder" (`snapshot`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.conftest import make_checkpoint

CLIP = "clip"  # a held-out clip (pose, 12 frames, 64 px) copied out of the dataset


def _kp_line(value) -> str:
    """An OpenPose frame whose first body point's x is `value` (as JSON text)."""
    pose = ["X"] + [10.0, 1.0] + [10.0, 10.0, 1.0] * 24
    text = json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": pose}]})
    return text.replace('"X"', value)


def build(root: Path) -> Path:
    """Create the world under `root` (seconds: a 4-identity procedural set, a tiny model)."""
    from v2vtool.data.synth import generate_dataset
    from v2vtool.io.clipdir import Clip
    from v2vtool.io.video import VideoWriter

    root.mkdir(parents=True, exist_ok=True)
    ck = make_checkpoint(root / "ckpt")
    generate_dataset(root / "data", identities=4, clips_per_identity=2, frames=12, size=64,
                     seed=0, test_identities=1)
    man = json.loads((root / "data" / "manifest.json").read_text())
    test_clip = root / "data" / next(c["path"] for c in man["clips"] if c["split"] == "test")
    shutil.copytree(test_clip, root / CLIP)
    shutil.copytree(test_clip / "frames", root / "frames")  # a plain folder of frames
    clip = Clip(root / CLIP)
    Image.fromarray(clip.frame(0)).save(root / "ex.png")
    with VideoWriter(root / "driver.mp4", clip.fps, preset="ultrafast") as w:
        for i in range(len(clip)):
            w.write(clip.frame(i))
    shutil.copy(root / "driver.mp4", root / "gen.mp4")
    (root / "synth").mkdir()  # a synthesize output with its sidecar (read by evaluate)
    shutil.copy(root / "driver.mp4", root / "synth" / "o.mp4")
    (root / "synth" / "o.json").write_text(json.dumps({"format": "v2v-synthesis/1"}))
    (root / "badside").mkdir()  # a "sidecar" that is not an object: ignored, not a crash
    shutil.copy(root / "driver.mp4", root / "badside" / "o.mp4")
    (root / "badside" / "o.json").write_text("[]")
    with VideoWriter(root / "one.mp4", clip.fps, preset="ultrafast") as w:
        w.write(clip.frame(0))
    shutil.copy(root / CLIP / "keypoints.jsonl", root / "kp.jsonl")
    (root / "metrics.json").write_text(json.dumps({"format": "v2v-metrics/1",
                                                  "metrics": {"psnr": 20.0}}))
    (root / "metrics_list.json").write_text(json.dumps({"metrics": [1, 2]}))
    (root / "text.txt").write_text("just some text\n")
    (root / "text.png").write_text("not an image")
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.json").write_text('{"my": "notes"}\n')  # a user's JSON file
    user = root / "userdir"  # a folder of the user's: never to be removed or written into
    user.mkdir()
    (user / "thesis.tex").write_text("\\documentclass{article}\n")
    (user / "000000.png").write_bytes((root / "ex.png").read_bytes())
    (root / "userdir_config").mkdir()
    (root / "userdir_config" / "config.json").write_text('{"my": "settings"}\n')
    (user / "driver").mkdir()  # what `extract driver.mp4 --out userdir` would replace
    (user / "driver" / "keep.txt").write_text("mine\n")

    # keypoint files: NaN, inf, huge, a string, "people": 5, confidence 2, nested lists
    bad = root / "kp_bad"
    bad.mkdir()
    for name, value in (("nan", "NaN"), ("inf", "Infinity"), ("big", "1e12"),
                        ("str", '"12"'), ("huge_int", "1" + "0" * 400), ("nested", "[1, 2]")):
        (bad / f"{name}.jsonl").write_text(_kp_line("10.0") + "\n" + _kp_line(value) + "\n")
    (bad / "people5.jsonl").write_text('{"version": 1.3, "people": 5}\n')
    (bad / "person_str.jsonl").write_text('{"version": 1.3, "people": ["me"]}\n')
    (bad / "conf2.jsonl").write_text(_kp_line("10.0").replace(", 1.0, 10.0", ", 2.0, 10.0")
                                     + "\n")
    (bad / "list.jsonl").write_text("[1, 2, 3]\n")
    op = root / "op_nan"  # an OpenPose folder with a NaN frame
    op.mkdir()
    (op / "f000_keypoints.json").write_text(_kp_line("10.0"))
    (op / "f001_keypoints.json").write_text(_kp_line("NaN"))

    # clip dirs broken in one way each
    for name in ("clip_nankp", "clip_badmeta", "clip_nokpcount"):
        shutil.copytree(root / CLIP, root / name)
    lines = (root / "clip_nankp" / "keypoints.jsonl").read_text().splitlines()
    lines[5] = _kp_line("NaN")
    (root / "clip_nankp" / "keypoints.jsonl").write_text("\n".join(lines) + "\n")
    meta = json.loads((root / "clip_badmeta" / "meta.json").read_text())
    meta["fps"] = "fast"
    (root / "clip_badmeta" / "meta.json").write_text(json.dumps(meta))
    (root / "clip_nokpcount" / "keypoints.jsonl").write_text("\n".join(lines[:3]) + "\n")

    # a folder with a clip whose middle frames are cut short: a valid PNG header (it passes the
    # up-front check of sizes), no picture (found only while training)
    shutil.copytree(root / CLIP, root / "corrupt" / "c0")
    cut = (root / CLIP / "frames" / "000000.png").read_bytes()[:48]
    for i in range(1, 11):
        (root / "corrupt" / "c0" / "frames" / f"{i:06d}.png").write_bytes(cut)
    # a v2v-synth set whose training clip has those broken frames (found mid-training)
    sc = root / "set_corrupt"
    shutil.copytree(root / "corrupt" / "c0", sc / "a")
    shutil.copytree(root / CLIP, sc / "b")
    ident = next(iter(man["identities"].values()))
    (sc / "manifest.json").write_text(json.dumps(dict(
        man, train=["a"], test=["b"], identities={"a": ident, "b": ident},
        clips=[{"path": "a", "identity": "a", "split": "train"},
               {"path": "b", "identity": "b", "split": "test"}])))
    # datasets whose manifest.json is broken (the manifest is all a reader looks at first)
    for name, text in (("set_list", "[]"), ("set_clips", json.dumps(dict(man, clips=[{}]))),
                       ("set_train", json.dumps(dict(man, train="id0000"))),
                       ("set_notest", json.dumps(dict(man, test=[]))),
                       ("set_escape", json.dumps(dict(man, clips=[{"path": "../clip"}]))),
                       ("set_json", "{not json"),
                       ("set_nosize", json.dumps({k: v for k, v in man.items()
                                                  if k != "size"}))):
        (root / name).mkdir()
        (root / name / "manifest.json").write_text(text)

    # checkpoints broken in one way each
    for name in ("ck_ngf", "ck_list", "ck_null", "ck_str", "ck_nan", "ck_trunc", "ck_range",
                 "ck_nested"):
        shutil.copytree(ck, root / name)
    cfg = json.loads((ck / "config.json").read_text())
    for name, change in (("ck_ngf", lambda c: c["generator"].update(ngf=32)),
                         ("ck_str", lambda c: c["generator"].update(ngf="8")),
                         ("ck_range", lambda c: c["train"].update(batch_size=0)),
                         ("ck_nested", lambda c: c.update(generator=[1, 2]))):
        c = json.loads(json.dumps(cfg))
        change(c)
        (root / name / "config.json").write_text(json.dumps(c))
    (root / "ck_list" / "config.json").write_text("[]")
    (root / "ck_null" / "config.json").write_text("null")
    _nan_weights(root / "ck_nan" / "generator.safetensors")
    data = (root / "ck_trunc" / "generator.safetensors").read_bytes()
    (root / "ck_trunc" / "generator.safetensors").write_bytes(data[: len(data) // 2])

    # a run dir whose latest checkpoint has a broken config / trainer state
    for name, conf, state in (("run_badcfg", "[]", {"step": 1}),
                              ("run_badstate", None, {"step": "one"})):
        step = root / name / "checkpoints" / "step-0000001"
        shutil.copytree(ck, step)
        if conf is not None:
            (step / "config.json").write_text(conf)
        (step / "trainer_state.json").write_text(json.dumps(state))
        (step / "trainer_state.safetensors").write_bytes(
            (ck / "generator.safetensors").read_bytes())
        os.symlink("step-0000001", root / name / "checkpoints" / "latest")

    # an importable dataset (OpenPose layout) and one whose keypoints are all NaN
    for name, value in (("src", "10.0"), ("src_nan", "NaN")):
        img, ann = root / name / "images" / "seq", root / name / "poses-openpose" / "seq"
        img.mkdir(parents=True)
        ann.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(clip.frame(i)).save(img / f"f{i:03d}.png")
            (ann / f"f{i:03d}_keypoints.json").write_text(_kp_line(value))

    # an examples dir for `v2v demo --examples-dir`
    ex = root / "exdir"
    ex.mkdir()
    shutil.copytree(root / CLIP, ex / "driver")
    shutil.copytree(root / CLIP, ex / "truth")
    for n in ("target_front.png", "target_back.png"):
        shutil.copy(root / "ex.png", ex / n)

    # a 16-bit grayscale example (Pillow reads it as mode I;16)
    gray = (np.asarray(Image.open(root / "ex.png").convert("L")).astype(np.uint16) * 257)
    Image.fromarray(gray).save(root / "ex16.png")

    # ---- phone footage (issue 21, items 1-2): clips whose meta.json frame_times are broken --
    n = len(clip)
    for name, times in (("clip_times_short", [0.0, 0.1]),
                        ("clip_times_back", [i / 10 for i in range(n)]),
                        ("clip_times_null", [i / 10 for i in range(n)])):
        shutil.copytree(root / CLIP, root / name)
        meta = json.loads((root / name / "meta.json").read_text())
        meta["frame_times"] = times
        if name == "clip_times_back":
            times[5] = 0.1
        if name == "clip_times_null":
            times[3] = None
        (root / name / "meta.json").write_text(json.dumps(meta))
    _robust_world(root)
    return root


def _nan_weights(path: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, str(path))


_HASHES: dict[str, tuple] = {}  # path -> (stat signature, sha1): unchanged files hash once


def _sha1(p: Path) -> str:
    st = p.stat()
    sig = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    cached = _HASHES.get(str(p))
    if cached is None or cached[0] != sig:
        cached = (sig, hashlib.sha1(p.read_bytes()).hexdigest())
        _HASHES[str(p)] = cached
    return cached[1]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` -> (kind, size, content hash / link target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath) / d
            rel = str(p.relative_to(root))
            out[rel] = ("link", os.readlink(p)) if p.is_symlink() else ("dir",)
        for f in filenames:
            p = Path(dirpath) / f
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            else:
                out[rel] = ("file", p.stat().st_size, _sha1(p))
    return out


def diff(before: dict, after: dict) -> list[str]:
    changes = [f"new: {k}" for k in after if k not in before]
    changes += [f"gone: {k}" for k in before if k not in after]
    changes += [f"changed: {k}" for k in before if k in after and before[k] != after[k]]
    return sorted(changes)


# ---- issue 21 (items 3-10): clip dirs vs their files, checkpoint sanity, far keypoints,
# identity of outputs, resume validation, the model-size cap -----------------------------------

FAR = "-10000.0"  # a coordinate more than one frame size outside any frame here


def _far_line(line: str, every: bool) -> str:
    """A keypoint line with every found point (every) or only the first body point moved to
    x = FAR."""
    obj = json.loads(line)
    for person in obj["people"]:
        pose = person["pose_keypoints_2d"]
        for j in range(0, len(pose), 3):
            if pose[j + 2] > 0:
                pose[j] = float(FAR)
                if not every:
                    break
        if every:
            for key in ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
                pts = person.get(key) or []
                for j in range(0, len(pts), 3):
                    if pts[j + 2] > 0:
                        pts[j] = float(FAR)
    return json.dumps(obj)


def _robust_world(root: Path) -> None:
    from safetensors.torch import load_file, save_file

    clip = root / CLIP
    lines = (clip / "keypoints.jsonl").read_text().splitlines()
    n = len(lines)
    # clip dirs whose files disagree with meta.json
    shutil.copytree(clip, root / "clip_missing")  # meta.json: 12 frames; 6 on disk
    for i in range(6, n):
        (root / "clip_missing" / "frames" / f"{i:06d}.png").unlink()
    shutil.copytree(clip, root / "clip_wide")  # frame 3 is 100x40 in a 64x64 clip
    Image.new("RGB", (100, 40), (90, 20, 20)).save(root / "clip_wide" / "frames" / "000003.png")
    shutil.copytree(clip, root / "clip_garbage")  # frame 5 is not an image at all
    (root / "clip_garbage" / "frames" / "000005.png").write_text("garbage")
    shutil.copytree(clip, root / "clip_extra")  # two frames beyond meta.json's 12: usable
    for i in (n, n + 1):
        shutil.copy(clip / "frames" / "000000.png", root / "clip_extra" / "frames" /
                    f"{i:06d}.png")
    man = json.loads((root / "data" / "manifest.json").read_text())
    shutil.copytree(root / "data", root / "set_gone")  # manifest lists 8 clips, 7 on disk
    shutil.rmtree(root / "set_gone" / man["clips"][0]["path"])
    # keypoints more than a frame size outside the frame: all of them, or one per frame
    for name, every in (("clip_far", True), ("clip_somefar", False)):
        shutil.copytree(clip, root / name)
        (root / name / "keypoints.jsonl").write_text(
            "".join(_far_line(ln, every) + "\n" for ln in lines))
    for name, value in (("src_far", FAR), ("src_somefar", None)):
        img, ann = root / name / "images" / "seq", root / name / "poses-openpose" / "seq"
        shutil.copytree(root / "src" / "images" / "seq", img)
        ann.mkdir(parents=True)
        for i in range(3):
            far = value is not None or i == 0  # src_somefar: one far point in frame 0
            text = _kp_line(FAR if far else "10.0")
            (ann / f"f{i:03d}_keypoints.json").write_text(
                text if value is None else _far_line(text, every=True))
    # an output path that is the driver under another name / through a symlinked folder
    os.link(root / "driver.mp4", root / "hard.mp4")
    (root / "linkclip").symlink_to(CLIP, target_is_directory=True)
    # checkpoints: all zero, int8, one constant value, a model above the pixel cap
    ck = root / "ckpt"
    state = load_file(str(ck / "generator.safetensors"))
    for name, change in (("ck_zero", lambda t: torch.zeros_like(t)),
                         ("ck_int8", lambda t: (t * 100).round().clamp(-128, 127).to(torch.int8)),
                         ("ck_const", lambda t: torch.full_like(t, 0.5))):
        shutil.copytree(ck, root / name)
        save_file({k: change(v) if v.is_floating_point() else v for k, v in state.items()},
                  str(root / name / "generator.safetensors"))
    shutil.copytree(ck, root / "ck_large")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["generator"].update(width=2048, height=2048)
    (root / "ck_large" / "config.json").write_text(json.dumps(cfg))
    # a run whose latest checkpoint has truncated generator weights; its config.json asks for
    # 3 steps, so a rewrite by `train --steps 2 --resume` would show
    step = root / "run_badweights" / "checkpoints" / "step-0000001"
    shutil.copytree(ck, step)
    data = (ck / "generator.safetensors").read_bytes()
    (step / "generator.safetensors").write_bytes(data[: len(data) // 2])
    (step / "trainer_state.json").write_text(json.dumps({"step": 1}))
    (step / "trainer_state.safetensors").write_bytes(data)
    os.symlink("step-0000001", root / "run_badweights" / "checkpoints" / "latest")
    run_cfg = dict(cfg, train=dict(cfg["train"], steps=3))
    run_cfg["generator"] = json.loads((ck / "config.json").read_text())["generator"]
    (root / "run_badweights" / "config.json").write_text(json.dumps(run_cfg))
