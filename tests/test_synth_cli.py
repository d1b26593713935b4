"""`v2v synthesize` through typer's CliRunner: a working run and every bad input (exit 2)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from v2vtool.cli import app
from v2vtool.io.clipdir import ClipWriter
from v2vtool.io.keypoints import Person


runner = CliRunner()



def run(*args: str):
    return runner.invoke(app, ["synthesize", *map(str, args)])


def test_cli_multi_value_examples(pose_ckpt, heldout_clip, tmp_path):  # noqa: F811
    out = tmp_path / "o.mp4"
    res = run("--examples", f"{heldout_clip}:0", f"{heldout_clip}:4", f"{heldout_clip}:8",
              "--driver", heldout_clip, "--out", out, "--checkpoint", pose_ckpt,
              "--attention-maps", tmp_path / "att.mp4", "--no-retarget", "--seed", "3",
              "--device", "cpu")
    assert res.exit_code == 0, res.output
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["k"] == 3 and side["seed"] == 3 and side["retarget"]["requested"] is False
    assert (tmp_path / "att.mp4").is_file() and "held frames" in res.output


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faceclip") / "clip"
    with ClipWriter(path, "face", 25) as w:
        for _ in range(3):
            face = np.zeros((70, 3), np.float32)
            face[:, :2] = np.random.default_rng(0).uniform(10, 50, (70, 2))
            face[:, 2] = 1
            w.add(np.zeros((64, 64, 3), np.uint8), keypoints=[Person(face=face)],
                  semantic=np.zeros((64, 64), np.uint8))
        w.close()
    return path


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "text.png").write_text("not an image")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(d / "black.png")
    (d / "empty.jsonl").write_text(json.dumps({"version": 1.3, "people": []}) + "\n")
    return {"text": d / "text.png", "black": d / "black.png", "empty": d / "empty.jsonl"}


CASES = {
    "missing example": lambda c, b, f: (["--examples", "nope.jpg", "--driver", c], "nope.jpg"),
    "unreadable example": lambda c, b, f: (["--examples", b["text"], "--driver", c],
                                           "text.png"),
    "no person in example": lambda c, b, f: (["--examples", b["black"], "--driver", c],
                                             "black.png"),
    "missing driver": lambda c, b, f: (["--examples", f"{c}:0", "--driver", "nodrv.mp4"],
                                       "nodrv.mp4"),
    "driver kind mismatch": lambda c, b, f: (["--examples", f"{c}:0", "--driver", f], "kind"),
    "driver without detections": lambda c, b, f: (["--examples", f"{c}:0", "--driver",
                                                   b["empty"]], "no keypoints detected"),
    "too many examples": lambda c, b, f: (["--examples", f"{c}:" + ",".join(["0"] * 33),
                                           "--driver", c], "at most"),
    "frame index out of range": lambda c, b, f: (["--examples", f"{c}:999", "--driver", c],
                                                 "out of range"),
    "bad size": lambda c, b, f: (["--examples", f"{c}:0", "--driver", c, "--size", "big"],
                                 "--size"),
    "bad device": lambda c, b, f: (["--examples", f"{c}:0", "--driver", c, "--device",
                                    "tpu9"], "device"),
    "bad framing": lambda c, b, f: (["--examples", f"{c}:0", "--driver", c, "--framing",
                                     "letterbox"], "--framing 'letterbox'"),
    "bad max height": lambda c, b, f: (["--examples", f"{c}:0", "--driver", c, "--max-height",
                                        "8"], "--max-height"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_bad_input(case, pose_ckpt, heldout_clip, face_clip, bad_files, tmp_path):  # noqa: F811
    args, needle = CASES[case](heldout_clip, bad_files, face_clip)
    out = tmp_path / "out.mp4"
    res = run(*args, "--out", out, "--checkpoint", pose_ckpt)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.output
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_cli_bad_checkpoint_and_output(heldout_clip, tmp_path):  # noqa: F811
    res = run("--examples", f"{heldout_clip}:0", "--driver", heldout_clip, "--out", tmp_path / "o.mp4",
              "--checkpoint", tmp_path / "nockpt")
    assert res.exit_code == 2 and "checkpoint not found" in res.output
    res = run("--examples", f"{heldout_clip}:0", "--driver", heldout_clip, "--out", tmp_path / "o.avi",
              "--checkpoint", tmp_path / "nockpt")
    assert res.exit_code == 2 and ".mp4" in res.output
    assert not list(tmp_path.iterdir())


def test_cli_fast_path_options(pose_ckpt, heldout_clip, tmp_path):  # noqa: F811
    """--amp picks the precision (recorded in the sidecar; bf16 output close to fp32);
    a bad --amp is one error line, nothing written."""
    from v2vtool.io.video import read_frames

    frames = {}
    for amp in ("none", "bf16"):
        out = tmp_path / f"{amp}.mp4"
        res = run("--examples", f"{heldout_clip}:0", "--driver", heldout_clip, "--out", out,
                  "--checkpoint", pose_ckpt, "--device", "cpu", "--amp", amp,
                  "--frames-dir", tmp_path / amp)
        assert res.exit_code == 0, res.output
        side = json.loads(out.with_suffix(".json").read_text())
        assert side["fast_path"]["amp"] == amp and side["fast_path"]["channels_last"]
        assert "fast path" in res.output
        frames[amp] = np.stack(read_frames(tmp_path / amp)).astype(np.float32)
    mse = float(((frames["none"] - frames["bf16"]) ** 2).mean())
    assert 10 * np.log10(255 ** 2 / max(mse, 1e-6)) > 35
    res = run("--examples", f"{heldout_clip}:0", "--driver", heldout_clip,
              "--out", tmp_path / "bad.mp4", "--checkpoint", pose_ckpt, "--amp", "fp16")
    assert res.exit_code == 2 and "amp='fp16'" in res.output
    assert not (tmp_path / "bad.mp4").exists()
