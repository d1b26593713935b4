"""Natural name order and missing indices of numbered sequences (io/sequence.py)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from v2vtool.io.sequence import (describe_missing, list_sequence, missing_indices,
                                 missing_record, natural_sorted, warn_missing)


def _names(paths) -> list[str]:
    return [p.name for p in paths]


@pytest.mark.parametrize("names,expect", [
    (["10_keypoints.json", "2_keypoints.json", "0_keypoints.json", "1_keypoints.json"],
     ["0_keypoints.json", "1_keypoints.json", "2_keypoints.json", "10_keypoints.json"]),
    (["frame10.png", "Frame9.png", "frame100.png"], ["Frame9.png", "frame10.png", "frame100.png"]),
    (["b.png", "a10.png", "a2.png", "10.png"], ["10.png", "a2.png", "a10.png", "b.png"]),
    (["x_2_1.png", "x_10_0.png", "x_2_0.png"], ["x_2_0.png", "x_2_1.png", "x_10_0.png"]),
])
def test_natural_order(names, expect):
    assert _names(natural_sorted(Path(n) for n in names)) == expect


@pytest.mark.parametrize("names,missing", [
    (["0_k.json", "1_k.json", "2_k.json", "4_k.json"], [3]),
    ([f"{i}_keypoints.json" for i in range(11)], []),
    (["f0001.png", "f0002.png", "f0005.png", "f0009.png"], [3, 4, 6, 7, 8]),
    (["f1.png", "g3.png"], []),  # two patterns: no numbering to check
    (["a.png", "b.png", "c.png"], []),  # no numbers at all
    (["1.png", "01.png", "3.png"], []),  # the same number twice: not a clean sequence
    (["only7.png"], []),
    (["aachen_000000_000019_x.png", "aachen_000000_000021_x.png"], [20]),  # the last number
    (["a1.png", "a999999999.png"], []),  # sparse numbering (photos): no gaps, nothing held
    (["f0.png", "f30.png", "f60.png", "f90.png"], []),  # every 30th frame: sparse by design
    (["f0.png", "f5.png", "f9.png"], [1, 2, 3, 4, 6, 7, 8]),  # 7 missing of 10: still gaps
])
def test_missing_indices(names, missing):
    assert missing_indices([Path(n) for n in names]) == missing


def test_list_sequence_slots_and_hidden_files(tmp_path):
    for n in ("0.json", "1.json", "3.json", "10.json", ".9.json", "notes.txt"):
        (tmp_path / n).write_text("{}")
    (tmp_path / "sub.json").mkdir()
    seq = list_sequence(tmp_path, (".json",))
    assert _names(seq.files) == ["0.json", "1.json", "3.json", "10.json"]
    assert seq.missing == (2, 4, 5, 6, 7, 8, 9) and len(seq) == 11
    assert [None if p is None else p.name for p in seq.slots] == \
        ["0.json", "1.json", None, "3.json"] + [None] * 6 + ["10.json"]


def test_missing_is_one_line_with_the_count(caplog):
    assert describe_missing([3]) == "1 missing frame index (3)"
    assert describe_missing(range(3, 40)) == \
        "37 missing frame indices (3, 4, 5, 6, 7, 8, 9, ..., 39)"
    with caplog.at_level(logging.WARNING):
        warn_missing("driver op/", [3], "held")
        warn_missing("driver op/", [], "held")
    assert [r.getMessage() for r in caplog.records] == \
        ["driver op/: 1 missing frame index (3) in a numbered sequence; held"]
    assert missing_record(range(5000)) == {"count": 5000, "indices": list(range(1000))}
