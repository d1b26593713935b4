"""The metric table (metrics/table.py): one row per metric, used by `v2v evaluate` and by the
benchmark alike; a row added in one place reaches both."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from v2vtool.benchmark import columns, score_sequence
from v2vtool.metrics import table
from v2vtool.metrics.evaluate import evaluate_video
from v2vtool.metrics.reconstruction import psnr
from v2vtool.metrics.table import HIGHER, LOWER, NEAR_ONE, Inputs, Metric, score


def _frames(n=4, value=100, size=16):
    return [np.full((size, size, 3), value + i, np.uint8) for i in range(n)]


def _red_excess(pair) -> float:
    """A test metric: mean red of generated minus truth."""
    return float(pair.generated[..., 0].mean()) - float(pair.truth[..., 0].mean())


RED = Metric("red_excess", "red+", LOWER, ("truth",), "red excess", frame=_red_excess)


def test_rows_are_described_once():
    names = [m.name for m in table.METRICS]
    assert len(names) == len(set(names))
    for m in table.METRICS:
        assert m.better in (HIGHER, LOWER, NEAR_ONE) and m.label and m.needs
        assert (m.frame is None) != (m.video is None)
        assert set(m.needs) <= {"truth", "mask", "lpips", "fid", "flow", "poses", "examples",
                                "appearance"}
        assert m.reduce is None or m.frame is not None


def test_score_computes_what_the_inputs_allow_and_says_why_not():
    gen, truth = _frames(value=100), _frames(value=110)
    s = score(Inputs(gen, len(gen), truth=truth))
    assert s.values["psnr"] == pytest.approx(np.mean([psnr(g, t) for g, t in zip(gen, truth)]))
    assert s.values["l1"] == pytest.approx(10 / 255)
    assert s.missing["lpips"] == ["lpips"] and s.missing["pose_error"] == ["poses"]
    assert "warp_error" in s.missing and "fid" in s.missing
    only_two = score(Inputs(gen, 2, truth=truth), table.rows("psnr"))
    assert only_two.per_frame["psnr"] == [psnr(g, t) for g, t in zip(gen[:2], truth[:2])]


def test_frame_rows_average_defined_frames_only_and_video_errors_are_skips():
    half = Metric("odd", "odd", HIGHER, ("truth",), "odd",
                  frame=lambda p: None if p.generated[0, 0, 0] % 2 else 1.0)
    never = Metric("never", "never", HIGHER, ("truth",), "never metric", frame=lambda p: None)

    def fails(inputs, per_frame):
        raise ValueError("too short")

    broken = Metric("broken", "b", LOWER, ("truth",), "broken metric", video=fails)
    s = score(Inputs(_frames(), 4, truth=_frames()), (half, never, broken))
    assert s.values == {"odd": 1.0}
    assert s.skipped == {"never": "never metric skipped: not defined on any frame",
                         "broken": "broken metric skipped: too short"}


def test_a_row_added_in_one_place_reaches_evaluate_and_the_benchmark(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "METRICS", table.METRICS + (RED,))  # the one registration
    gen, truth = _frames(value=120), _frames(value=100)
    # benchmark path
    scores = score_sequence(gen, truth, [None] * 4, estimator=None)
    assert scores["red_excess"] == pytest.approx(20.0)
    assert ("red_excess", "red+") in [(c.key, c.label) for c in columns()]
    # evaluate path (PNG folders)
    for name, frames in (("gen", gen), ("real", truth)):
        (tmp_path / name).mkdir()
        for i, f in enumerate(frames):
            Image.fromarray(f).save(tmp_path / name / f"{i:06d}.png")
    rep = evaluate_video(tmp_path / "gen", real=tmp_path / "real")
    assert rep.metrics["red_excess"] == pytest.approx(20.0)
    json.dumps(rep.to_dict())


def test_benchmark_keeps_its_v1_column_names():
    keys = [c.key for c in columns()]
    assert keys[:3] == ["psnr", "ssim", "l1"]
    assert "warp_error_truth" in keys and "warp_error_reference" not in keys
    assert "fid" in keys  # in the table; `score` leaves it out (no real set per identity)
    gen, truth = _frames(n=3, value=90), _frames(n=3, value=100)
    s = score_sequence(gen, truth, [None] * 3, estimator=None)
    assert "fid" not in s and s["warp_error_truth"] >= 0
