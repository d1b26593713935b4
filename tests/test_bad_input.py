"""A table of bad inputs through the real CLI (typer's CliRunner, in process).

Every case must: exit with code 2, print exactly one `error:` line (typer's own usage errors
print their panel instead), show no traceback, and leave every file and folder of the working
directory exactly as it was (tree + content hashes before and after): no data loss, no
leftovers, nothing half-written. The working directory is one shared folder of good and bad
inputs (tests/bad_world.py). Cases that need real processes (locks, a full or read-only disk,
--debug tracebacks) are in tests/test_bad_input_fs.py.
"""
from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from tests.bad_world import build, diff, snapshot
from v2vtool.cli import app

S = "synthesize --checkpoint ckpt --device cpu"  # + examples / driver / out
SX = f"{S} -e ex.png -d kp.jsonl"
E = "evaluate"
T = "train --data data --device cpu --steps 2"
A = "ablate --data data --steps 1 --train-sizes 1 --variants weightgen --k 1"
USAGE = "usage"  # expected: typer's usage error (exit 2, its own panel)

CASES = [
    # ---- data loss: outputs that are, contain or lie inside an input -------------------------
    ("synth-out-is-driver", f"{S} -e ex.png -d driver.mp4 --out driver.mp4", "is the input"),
    ("synth-out-in-clip", f"{S} -e clip:0 -d clip --out clip/o.mp4", "lies inside the input"),
    ("synth-frames-dir-is-driver-frames", f"{S} -e ex.png -d clip/frames --out o.mp4 "
     "--frames-dir clip/frames", "is the input"),
    ("synth-att-is-example", f"{S} -e ex.png -d kp.jsonl --out o.mp4 --attention-maps ex.png",
     "is the input"),
    ("synth-att-contains-example", f"{S} -e clip:0 -d kp.jsonl --out o.mp4 --attention-maps .",
     "contains the input"),
    ("synth-out-in-checkpoint", f"{SX} --out ckpt/o.mp4", "lies inside the input"),
    ("synth-sidecar-is-user-json", f"{SX} --out notes.mp4", "not a sidecar"),
    ("synth-frames-dir-user-folder", f"{SX} --out o.mp4 --frames-dir userdir",
     "not a PNG folder written by v2v"),
    ("synth-frames-dir-is-att", f"{SX} --out o.mp4 --frames-dir f --attention-maps f",
     "collides"),
    ("synth-frames-dir-is-file", f"{SX} --out o.mp4 --frames-dir text.txt", "not a directory"),
    ("eval-json-is-generated", f"{E} --generated gen.mp4 --real clip --json gen.mp4",
     "is the input"),
    ("eval-json-in-real", f"{E} --generated gen.mp4 --real clip --json clip/meta.json",
     "lies inside the input"),
    ("eval-json-user-file", f"{E} --generated gen.mp4 --real clip --json text.txt",
     "not a v2v metrics file"),
    ("eval-json-dir", f"{E} --generated gen.mp4 --real clip --json userdir", "is a directory"),
    ("eval-json-is-sidecar", f"{E} --generated synth/o.mp4 --real clip --json synth/o.json",
     "is the input"),
    ("eval-json-other-metrics-kind", f"{E} --generated gen.mp4 --real clip --json "
     "synth/o.json", "not a v2v metrics file"),
    ("import-out-is-src", "data import src --format openpose --out src --overwrite",
     "is the input"),
    ("import-out-in-src", "data import src --format openpose --out src/clips", "lies inside"),
    ("import-out-contains-src", "data import src --format openpose --out . --overwrite",
     "contains the input"),
    ("import-overwrite-user-dir", "data import src --format openpose --out userdir "
     "--overwrite", "not a dataset written by v2v data import"),
    ("extract-out-parent-overwrite", "extract frames --kind edges --out . --overwrite",
     "is the input"),
    ("extract-frames-into-clip", "extract clip/frames --kind edges --out clip --overwrite",
     "is the input"),
    ("extract-overwrite-user-dir", "extract driver.mp4 --kind edges --out userdir --overwrite",
     "not a clip dir written by v2v"),
    ("synth-motion-out-is-input", "data synth --motion-from clip --dataset data --identity "
     "id0000 --out clip --overwrite", "is the input"),
    ("synth-motion-out-in-dataset", "data synth --motion-from clip --dataset data --identity "
     "id0000 --out data/new", "lies inside the input"),
    ("data-synth-overwrite-user-dir", "data synth --out userdir --overwrite --identities 2",
     "not a dataset written by v2v data synth"),
    ("train-out-in-data", f"{T} --out data/run", "lies inside the input"),
    ("train-out-contains-data", f"{T} --out .", "contains the input"),
    ("train-out-user-dir", f"{T} --out userdir", "not empty"),
    ("train-out-user-config", f"{T} --out userdir_config", "not empty"),
    ("ablate-out-in-data", f"{A} --out data/abl", "lies inside the input"),
    ("ablate-out-user-dir", f"{A} --out userdir", "not a sweep directory"),
    ("demo-out-in-examples", "demo --checkpoint ckpt --examples-dir exdir --out exdir/out",
     "lies inside the input"),
    ("demo-out-is-checkpoint", "demo --checkpoint ckpt --examples-dir exdir --out ckpt",
     "is the input"),
    ("demo-out-user-dir", "demo --checkpoint ckpt --examples-dir exdir --out userdir",
     "not a folder written by v2v demo"),
    # ---- checkpoints ------------------------------------------------------------------------
    ("ckpt-config-mismatch", f"{SX} --out o.mp4 --checkpoint ck_ngf",
     "do not match the architecture"),
    ("ckpt-config-list", f"{SX} --out o.mp4 --checkpoint ck_list", "expected a JSON object"),
    ("ckpt-config-null", f"{SX} --out o.mp4 --checkpoint ck_null", "expected a JSON object"),
    ("ckpt-config-string-ngf", f"{SX} --out o.mp4 --checkpoint ck_str",
     r"generator.ngf='8': must be an integer"),
    ("ckpt-config-out-of-range", f"{SX} --out o.mp4 --checkpoint ck_range",
     "train.batch_size=0"),
    ("ckpt-config-nested-list", f"{SX} --out o.mp4 --checkpoint ck_nested",
     "expected a JSON object"),
    ("ckpt-nan-weights", f"{SX} --out o.mp4 --checkpoint ck_nan", "NaN/inf"),
    ("ckpt-truncated", f"{SX} --out o.mp4 --checkpoint ck_trunc", "unreadable safetensors"),
    ("ckpt-missing", f"{SX} --out o.mp4 --checkpoint nope", "not found"),
    ("ckpt-is-text", f"{SX} --out o.mp4 --checkpoint text.txt", "not a checkpoint"),
    ("bench-ckpt-mismatch", f"{E} --benchmark data --checkpoint ck_ngf --k 1",
     "do not match the architecture"),
    ("demo-ckpt-mismatch", "demo --checkpoint ck_ngf --examples-dir exdir --out newdemo",
     "do not match the architecture"),
    ("demo-ckpt-nan", "demo --checkpoint ck_nan --examples-dir exdir --out newdemo", "NaN"),
    ("train-resume-bad-config", f"{T} --out run_badcfg --resume", "expected a JSON object"),
    ("train-resume-bad-state", f"{T} --out run_badstate --resume", "no integer 'step'"),
    ("train-resume-not-a-run", f"{T} --out clip --resume", "not a checkpoint"),
    # ---- keypoints ----------------------------------------------------------------------------
    *[(f"synth-kp-{n}", f"{S} -e ex.png -d kp_bad/{n}.jsonl --out o.mp4", msg)
      for n, msg in (("nan", "NaN"), ("inf", "infinite"), ("big", "1e\\+12 px"),
                     ("str", "'12'"), ("huge_int", "too large"), ("nested", r"\[1, 2\]"),
                     ("people5", "'people' must be a list"), ("person_str", r"people\[0\]"),
                     ("conf2", "confidence outside"), ("list", "not an OpenPose"))],
    ("synth-kp-names-line", f"{S} -e ex.png -d kp_bad/nan.jsonl --out o.mp4", r"nan.jsonl:2:"),
    ("synth-openpose-dir-nan", f"{S} -e ex.png -d op_nan --out o.mp4", "f001_keypoints.json"),
    ("synth-clip-nan-kp", f"{S} -e ex.png -d clip_nankp --out o.mp4", r"keypoints.jsonl:6:"),
    ("eval-driver-nan", f"{E} --generated gen.mp4 --driver kp_bad/nan.jsonl", "NaN"),
    ("eval-driver-people5", f"{E} --generated gen.mp4 --driver kp_bad/people5.jsonl",
     "must be a list"),
    ("train-clip-nan-kp", f"{T} --data clip_nankp --out newrun", "NaN"),
    ("train-clip-bad-meta", f"{T} --data clip_badmeta --out newrun", "fps"),
    ("train-clip-kp-count", f"{T} --data clip_nokpcount --out newrun", "3 frames"),
    ("import-all-nan", "data import src_nan --format openpose --out newimport",
     "nothing usable"),
    # ---- datasets ---------------------------------------------------------------------------
    ("train-corrupt-frame", f"{T} --data corrupt --out newrun", "unreadable image"),
    ("train-corrupt-frame-worker", f"{T} --data corrupt --out newrun --set data.workers=1",
     "unreadable image"),
    *[(f"{cmd}-{name}", f"{argv} {name}", why)
      for name, why in (("set_list", "expected a JSON object"), ("set_clips", r"clips\[0\]"),
                        ("set_train", "'train' must be a list"),
                        ("set_escape", "inside the dataset"), ("set_json", "not valid JSON"))
      for cmd, argv in (("train", "train --out newrun --steps 1 --data"),
                        ("bench", f"{E} --checkpoint ckpt --k 1 --benchmark"),
                        ("info", "data info"),
                        ("ablate", "ablate --out newabl --steps 1 --k 1 --data"))],
    ("bench-no-test-ids", f"{E} --checkpoint ckpt --k 1 --benchmark set_notest", "held-out"),
    ("ablate-no-test-ids", "ablate --out newabl --steps 1 --k 1 --data set_notest",
     "held-out"),
    ("ablate-data-error-mid-training", "ablate --out newabl --steps 1 --k 1 --train-sizes 1 "
     "--variants weightgen --data set_corrupt", "unreadable image"),
    # ---- config values (--set), after presets --------------------------------------------------
    *[(f"train-set-{s}", f"{T} --out newrun --set {s}", re.escape(s.split("=")[0]))
      for s in ("train.batch_size=0", "train.batch_size=-1", "train.lr_g=nan",
                "train.lr_d=inf", "generator.height=0", "generator.height=100000",
                "generator.height=72", "generator.ngf=0", "train.k_max=0", "train.k_max=50",
                "data.workers=-1", "train.ema=2", "train.checkpoint_every=0",
                "train.seq_len_max=0", "train.amp=fp8", "generator.appearance=magic",
                "seed=-1", "loss.l1=-1", "data.color_jitter=5", "generator.kind=depth",
                "discriminator.n_layers=0", "train.keep_checkpoints=0")],
    ("train-set-section", f"{T} --out newrun --set generator=5", "is a section"),
    ("train-set-unknown", f"{T} --out newrun --set train.nope=1", "unknown key"),
    ("train-set-not-int", f"{T} --out newrun --set train.steps=1e3", "train.steps"),
    ("train-steps-0", "train --data data --out newrun --steps 0", "--steps"),
    ("train-minutes-neg", f"{T} --out newrun --minutes -1", "--minutes"),
    ("train-minutes-nan", f"{T} --out newrun --minutes nan", "--minutes"),
    ("train-nproc-0", f"{T} --out newrun --nproc 0", "--nproc"),
    ("train-out-is-file", f"{T} --out text.txt", "not a directory"),
    ("train-out-under-file", f"{T} --out text.txt/run", "not a folder"),
    ("train-no-clips", f"train --data userdir --out newrun --steps 1", "no training clip"),
    ("train-face-preset-on-pose", "train --data data --out newrun --preset face-256",
     "does not match preset"),
    ("train-device", f"{T} --out newrun --device tpu", "--device"),
    # ---- other options ------------------------------------------------------------------------
    ("synth-size-odd", f"{SX} --out o.mp4 --size 33x17", "even"),
    ("synth-size-huge", f"{SX} --out o.mp4 --size 100000x100000", "16..4096"),
    ("synth-size-zero", f"{SX} --out o.mp4 --size 0x0", "16..4096"),
    ("synth-size-text", f"{SX} --out o.mp4 --size big", "WIDTHxHEIGHT"),
    ("synth-fps-nan", f"{SX} --out o.mp4 --fps nan", "--fps"),
    ("synth-fps-neg", f"{SX} --out o.mp4 --fps -3", "--fps"),
    ("synth-seed-neg", f"{SX} --out o.mp4 --seed -1", "--seed"),
    ("synth-k-33", f"{S} -d kp.jsonl --out o.mp4 -e clip:" + ",".join(["0"] * 33), "at most 32"),
    ("synth-example-missing", f"{S} -e nope.png -d kp.jsonl --out o.mp4", "not found"),
    ("synth-example-text", f"{S} -e text.png -d kp.jsonl --out o.mp4", "unreadable"),
    ("synth-example-dir", f"{S} -e userdir -d kp.jsonl --out o.mp4", "is a directory"),
    ("synth-example-index", f"{S} -e clip:99 -d kp.jsonl --out o.mp4", "out of range"),
    ("synth-driver-empty", f"{S} -e ex.png -d empty.mp4 --out o.mp4", "empty file"),
    ("synth-driver-text", f"{S} -e ex.png -d text.txt --out o.mp4", "not a readable video"),
    ("synth-out-not-mp4", f"{SX} --out o.avi", ".mp4"),
    ("synth-out-under-file", f"{SX} --out text.txt/o.mp4", "is a file, not a folder"),
    ("synth-threads-neg", f"{SX} --out o.mp4 --threads -1", USAGE),
    ("synth-finetune-neg", f"{SX} --out o.mp4 --finetune -1", USAGE),
    ("synth-device-cuda", f"{SX} --out o.mp4 --device cuda:7", "--device"),
    ("synth-framing-bad", f"{SX} --out o.mp4 --framing letterbox", "--framing"),
    ("synth-max-height-tiny", f"{SX} --out o.mp4 --max-height 4", "--max-height"),
    ("eval-ref-height-0", f"{E} --generated gen.mp4 --driver kp.jsonl --reference-height 0",
     "--reference-height"),
    ("eval-lpips-missing", f"{E} --generated gen.mp4 --real clip --lpips-backbone nope.pth",
     "not found"),
    ("eval-fid-dir", f"{E} --generated gen.mp4 --real clip --fid-weights userdir",
     "is a directory"),
    ("eval-compare-text", f"{E} --compare text.txt", "not valid JSON"),
    ("eval-compare-list", f"{E} --compare metrics_list.json", "no 'metrics' object"),
    ("eval-compare-dir", f"{E} --compare userdir", "is a directory"),
    ("eval-generated-missing", f"{E} --generated nope.mp4", "no such file"),
    ("eval-generated-text", f"{E} --generated text.txt", "not a readable video"),
    ("eval-no-generated", f"{E} --real clip", "--generated is required"),
    ("eval-bench-k-50", f"{E} --benchmark data --checkpoint ckpt --k 50", "<= 32"),
    ("eval-bench-k-0", f"{E} --benchmark data --checkpoint ckpt --k 0", ">= 1"),
    ("eval-bench-k-text", f"{E} --benchmark data --checkpoint ckpt --k a", "comma-separated"),
    ("eval-bench-no-ckpt", f"{E} --benchmark data", "needs --checkpoint"),
    ("eval-bench-max-frames-0", f"{E} --benchmark data --checkpoint ckpt --max-frames 0",
     "--max-frames"),
    ("eval-bench-seed-neg", f"{E} --benchmark data --checkpoint ckpt --seed -1", "--seed"),
    ("eval-bench-drift-2", f"{E} --benchmark data --checkpoint ckpt --drift-frames 2",
     "at least 4"),
    ("eval-bench-drift-huge", f"{E} --benchmark data --checkpoint ckpt --drift-frames 99999",
     "--drift-frames"),
    ("eval-bench-drift-neg", f"{E} --benchmark data --checkpoint ckpt --drift-frames -1",
     USAGE),
    ("bench-manifest-no-size", f"{E} --checkpoint ckpt --k 1 --benchmark set_nosize", "'size'"),
    ("eval-bench-not-a-set", f"{E} --benchmark userdir --checkpoint ckpt", "no clip dirs"),
    ("eval-bench-real-strips-in-clip", f"{E} --benchmark clip --checkpoint ckpt --strips "
     "clip/strips", "lies inside the input"),
    ("extract-fps-nan", "extract ex.png --kind edges --out newx --fps nan", USAGE),
    ("extract-workers-0", "extract ex.png --kind edges --out newx --workers 0", USAGE),
    ("extract-workers-huge", "extract ex.png --kind edges --out newx --workers 1000",
     "--workers"),
    ("extract-not-video", "extract text.txt --kind edges --out newx", "not a readable video"),
    ("extract-missing", "extract nope.mp4 --kind edges --out newx", "no such file"),
    ("extract-out-is-file", "extract ex.png --kind edges --out text.txt", "not a directory"),
    ("extract-out-under-file", "extract ex.png --kind edges --out text.txt/x", "not a folder"),
    ("extract-exists", "extract clip --kind edges --out data/id0000", None),
    ("extract-images-not-seg", "extract ex.png --kind edges --out newx --images clip",
     "--images"),
    ("import-format", "data import src --format bogus --out newimport", "--format"),
    ("import-fps-nan", "data import src --format openpose --out newimport --fps nan", "--fps"),
    ("import-fps-0", "data import src --format openpose --out newimport --fps 0", "--fps"),
    ("import-missing", "data import nope --format openpose --out newimport", "not a directory"),
    ("import-exists", "data import src --format openpose --out data", "output exists"),
    ("dsynth-workers-neg", "data synth --out newset --workers -1", "--workers"),
    ("dsynth-identities-0", "data synth --out newset --identities 0", "--identities"),
    ("dsynth-size", "data synth --out newset --size 10", "--size"),
    ("dsynth-seed-neg", "data synth --out newset --seed -1 --identities 2", "--seed"),
    ("dsynth-frames-0", "data synth --out newset --frames 0", "--frames"),
    ("dsynth-test-ids", "data synth --out newset --identities 2 --test-identities 5",
     "--test-identities"),
    ("dsynth-exists", "data synth --out data", "output exists"),
    ("dsynth-motion-no-dataset", "data synth --motion-from clip --out newclip", "--dataset"),
    ("dsynth-motion-bad-identity", "data synth --motion-from clip --dataset data --identity "
     "id9999 --out newclip", "no identity"),
    ("dinfo-missing", "data info nope", None),
    ("dinfo-text", "data info text.txt", None),
    ("ablate-k-50", f"{A} --out newabl --k 50", "<= 32"),
    ("ablate-k-0", f"{A} --out newabl --k 0", ">= 1"),
    ("ablate-train-sizes-0", f"{A} --out newabl --train-sizes 0", "--train-sizes"),
    ("ablate-budget-neg", f"{A} --out newabl --budget-minutes -1", "--budget-minutes"),
    ("ablate-budget-nan", f"{A} --out newabl --budget-minutes nan", "--budget-minutes"),
    ("ablate-max-frames-0", f"{A} --out newabl --max-frames 0", "--max-frames"),
    ("ablate-steps-0", f"{A} --out newabl --steps 0", "--steps"),
    ("ablate-variant", f"{A} --out newabl --variants magic", "--variants"),
    ("ablate-set", f"{A} --out newabl --set train.batch_size=0", "train.batch_size=0"),
    ("ablate-out-is-file", f"{A} --out text.txt", "not a directory"),
    ("ablate-no-manifest", "ablate --data clip --out newabl --steps 1", "manifest.json"),
    ("ablate-seed-neg", f"{A} --out newabl --seed -1", "--seed"),
    ("ablate-face-preset", f"{A} --out newabl --preset face-256", "preset must be pose"),
    ("demo-out-is-file", "demo --checkpoint ckpt --examples-dir exdir --out text.txt",
     "not a directory"),
    ("demo-examples-missing", "demo --checkpoint ckpt --examples-dir nope --out newdemo",
     "not found"),
    ("demo-ckpt-missing", "demo --checkpoint nope --examples-dir exdir --out newdemo",
     "not found"),
    # ---- phone footage (issue 21, items 1-2): recorded frame times --------------------------
    ("synth-clip-frame-times-count", f"{S} -e ex.png -d clip_times_short --out o.mp4",
     r"frame_times: expected a list of 12 times"),
    ("synth-clip-frame-times-order", f"{S} -e ex.png -d clip_times_back --out o.mp4",
     r"frame_times\[5\]=0.1: before frame_times\[4\]"),
    ("dinfo-clip-frame-times-null", "data info clip_times_null", r"frame_times\[3\]: null"),
    ("train-clip-frame-times", f"{T} --data clip_times_back --out newrun", r"frame_times\[5\]"),
    # ==== issue 21, items 3-10 (branch robust): keep this block together =========================
    # 3. clip dirs verified against their files (io/clipdir.verify_clip; usable cases, e.g.
    #    `data info`, in tests/test_bad_input_usable.py)
    ("train-clip-frames-missing", f"{T} --data clip_missing --out newrun",
     r"clip_missing: meta.json says 12 frames, 6 of them on disk"),
    ("train-clip-frame-size", f"{T} --data clip_wide --out newrun",
     r"000003.png: image is 100x40, meta.json says 64x64"),
    ("train-clip-frame-garbage", f"{T} --data clip_garbage --out newrun",
     r"000005.png: unreadable image"),
    ("train-set-listed-clip-gone", f"{T} --data set_gone --out newrun", "is missing"),
    ("synth-example-frame-size", f"{S} -e clip_wide:3 -d kp.jsonl --out o.mp4", "100x40"),
    ("eval-real-frame-size", f"{E} --generated gen.mp4 --real clip_wide", "100x40"),
    # 4. checkpoint sanity (io/weights.check_plausible)
    ("ckpt-all-zero", f"{SX} --out o.mp4 --checkpoint ck_zero", r"holds one value \(0\)"),
    ("ckpt-int8", f"{SX} --out o.mp4 --checkpoint ck_int8", r"tensor \S+ is int8 where"),
    ("ckpt-constant", f"{SX} --out o.mp4 --checkpoint ck_const", r"holds one value \(0.5\)"),
    ("demo-ckpt-zero", "demo --checkpoint ck_zero --examples-dir exdir --out newdemo",
     "holds one value"),
    ("bench-ckpt-int8", f"{E} --benchmark data --checkpoint ck_int8 --k 1", "is int8"),
    # 5. keypoints more than a frame size outside the frame are missing joints
    ("synth-driver-all-far", f"{S} -e ex.png -d clip_far --out o.mp4",
     "no person detected in any of its 12 frames"),
    ("synth-example-all-far", f"{S} -e clip_far:0 -d kp.jsonl --out o.mp4", "no person"),
    ("import-all-far", "data import src_far --format openpose --out newimport",
     "outside the 64x64 image"),
    # 6. the guard compares identity (bind mounts: tests/test_bad_input_fs.py)
    ("synth-out-hard-link-of-driver", f"{S} -e ex.png -d driver.mp4 --out hard.mp4",
     "is the input"),
    ("synth-out-in-symlinked-clip", f"{S} -e ex.png -d clip --out linkclip/o.mp4",
     "lies inside the input"),
    ("eval-json-symlinked-meta", f"{E} --generated gen.mp4 --real clip --json "
     "linkclip/meta.json", "lies inside the input"),
    # 7. train --resume validates the checkpoint before it writes (config.json stays)
    ("train-resume-corrupt-weights", f"{T} --out run_badweights --resume",
     "unreadable safetensors"),
    # 10. a model above the pixel cap needs --allow-large
    ("synth-large-model", f"{SX} --out o.mp4 --checkpoint ck_large",
     r"2048x2048 frames, above the 1024x1024-pixel cap.*--allow-large"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build(tmp_path_factory.mktemp("world") / "w")


def run_cli(world, monkeypatch, argv: list[str]):
    monkeypatch.chdir(world)
    return CliRunner().invoke(app, argv)


def check_refused(res, expect: str | None) -> None:
    out = res.output
    detail = f"exit {res.exit_code}, exception {res.exception!r}\n{out}"
    assert res.exit_code == 2, detail
    assert "Traceback" not in out, detail
    if expect == USAGE:  # typer's usage error: its panel, no `error:` line of ours
        assert "Invalid value" in out or "Error" in out, detail
        return
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, detail
    if expect is not None:
        assert re.search(expect, errors[0]), detail
    assert "error: :" not in out and not errors[0].rstrip().endswith(":"), detail


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_refused_cleanly(world, monkeypatch, case):
    _, cmd, expect = case
    before = snapshot(world)
    res = run_cli(world, monkeypatch, shlex.split(cmd))
    check_refused(res, expect)
    assert diff(before, snapshot(world)) == [], res.output


def test_case_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# ---- odd but valid inputs: exit 0, no traceback, and an honest result ------------------------

def test_odd_but_valid_inputs_work(world, monkeypatch, tmp_path):
    import json

    import numpy as np

    from v2vtool.io.clipdir import Clip

    ok = {}
    for name, argv in {
        "one-frame": [E, "--generated", "one.mp4", "--real", "one.mp4", "--json",
                      str(tmp_path / "one.json")],
        "list-sidecar": [E, "--generated", "badside/o.mp4", "--real", "clip", "--json",
                         str(tmp_path / "side.json")],
        "lpips-text-file": [E, "--generated", "gen.mp4", "--real", "clip", "--lpips-backbone",
                            "text.txt", "--json", str(tmp_path / "lp.json")],
        "16-bit-example": ["extract", "ex16.png", "--kind", "edges", "--out",
                           str(tmp_path / "x")],
    }.items():
        res = run_cli(world, monkeypatch, argv)
        assert res.exit_code == 0 and "Traceback" not in res.output, (name, res.output)
        ok[name] = res
    one = json.loads((tmp_path / "one.json").read_text())
    assert "warp_error" in one["skipped"] and one["metrics"]["reconstruction_frames"] == 1
    assert "psnr" in json.loads((tmp_path / "side.json").read_text())["metrics"]
    lp = json.loads((tmp_path / "lp.json").read_text())
    assert "lpips" not in lp["metrics"] and "not a readable PyTorch" in lp["skipped"]["lpips"]
    frame = Clip(tmp_path / "x" / "ex16").frame(0)
    assert 0 < frame.mean() < 250 and frame.std() > 5  # the picture, not a white frame


def test_nonfinite_metric_is_skipped_not_reported(world, monkeypatch, tmp_path):
    """Whatever produced it, a NaN metric never reaches the report (nor JSON as NaN)."""
    import json

    from v2vtool.metrics import evaluate as ev

    real = ev.evaluate_video

    def nan_pose_error(*a, **k):
        rep = real(*a, **k)
        rep.metrics["pose_error"] = float("nan")
        return rep

    monkeypatch.setattr(ev, "evaluate_video", nan_pose_error)
    res = run_cli(world, monkeypatch, [E, "--generated", "gen.mp4", "--driver", "clip",
                                       "--pose-estimator", "keynet", "--json",
                                       str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "m.json").read_text()
    rep = json.loads(text)
    assert "NaN" not in text and "pose_error" not in rep["metrics"]
    assert "not a finite number" in rep["skipped"]["pose_error"]
