"""Person fidelity (PSNR inside the true mask), ghosts (L1 outside the dilated true mask) and
drift (PSNR per quarter): known images and masks with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from v2vtool.io.clipdir import ClipWriter
from v2vtool.metrics.drift import quarter_psnr
from v2vtool.metrics.evaluate import evaluate_video
from v2vtool.metrics.masked import dilate, ghost_l1, ghost_margin, person_psnr
from v2vtool.metrics.table import Inputs, score


def _square_mask(size=64, lo=24, hi=40):
    m = np.zeros((size, size), np.uint8)
    m[lo:hi, lo:hi] = 255
    return m


def test_person_psnr_counts_only_the_person():
    truth = np.full((64, 64, 3), 100, np.uint8)
    mask = _square_mask()
    gen = truth.copy()
    gen[mask > 0] += 10  # MSE 100 inside the person
    gen[mask == 0] = 0  # a terrible background must not matter
    assert person_psnr(gen, truth, mask) == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert person_psnr(truth, truth, mask) == 100.0
    assert person_psnr(gen, truth, np.zeros_like(mask)) is None  # nobody visible
    with pytest.raises(ValueError):
        person_psnr(gen, truth, mask[:32])


def test_ghost_l1_counts_only_outside_the_dilated_mask():
    assert ghost_margin((128, 128)) == 4 and ghost_margin((256, 512)) == 8
    assert ghost_margin((64, 64)) == 2 and ghost_margin((16, 16)) == 1
    truth = np.full((64, 64, 3), 100, np.uint8)
    mask = _square_mask()  # rows / cols 24..39; margin 2 px at 64
    grown = dilate(mask > 0, 2)
    assert grown[22, 30] and not grown[21, 30] and grown[41, 30] and not grown[42, 30]
    gen = truth.copy()
    gen[~grown] = 151  # a uniform ghost / background error of 51 / 255 = 0.2 outside
    gen[mask > 0] = 0  # the person itself may be anything
    gen[22, 30] = 0  # so may the margin ring
    assert ghost_l1(gen, truth, mask) == pytest.approx(0.2)
    gen[21, 30] = 100  # one pixel just outside the ring is right: the mean drops
    assert ghost_l1(gen, truth, mask) < 0.2
    assert ghost_l1(gen, truth, np.full_like(mask, 255)) is None  # nothing outside


def test_quarter_psnr_and_drift():
    q = quarter_psnr([1, 2, 3, 4, 5, 6, 7, 8])
    assert [q[f"psnr_q{i}"] for i in range(1, 5)] == [1.5, 3.5, 5.5, 7.5]
    assert q["psnr_drift"] == 6.0
    uneven = quarter_psnr([10, 10, 10, 20, 20])  # quarters of 2, 1, 1, 1 frames
    assert uneven["psnr_q1"] == 10 and uneven["psnr_q4"] == 20 and uneven["psnr_drift"] == 10
    with pytest.raises(ValueError):
        quarter_psnr([1, 2, 3])


def test_table_rows_use_the_masks_and_the_per_frame_psnr():
    truth = [np.full((64, 64, 3), 100, np.uint8) for _ in range(4)]
    mask = _square_mask()
    gen = []
    for i in range(4):  # quality falls: inside the person the error grows with time
        g = truth[i].copy()
        g[mask > 0] += 5 * (i + 1)
        gen.append(g)
    s = score(Inputs(gen, 4, truth=truth, masks=[mask] * 4))
    inside = [10 * np.log10(255 ** 2 / (5 * (i + 1)) ** 2) for i in range(4)]
    assert s.values["person_psnr"] == pytest.approx(np.mean(inside))
    assert s.values["ghost_l1"] == 0.0
    assert s.values["psnr_drift"] == pytest.approx(s.per_frame["psnr"][3] - s.per_frame["psnr"][0])
    assert s.values["psnr_drift"] < 0
    no_masks = score(Inputs(gen, 4, truth=truth))
    assert no_masks.missing["person_psnr"] == ["mask"] and "psnr_drift" in no_masks.values


def test_evaluate_reads_the_true_masks_of_a_real_clip_dir(tmp_path):
    mask = _square_mask()
    truth = np.full((64, 64, 3), 100, np.uint8)
    with ClipWriter(tmp_path / "truth", "pose", 10) as w:
        for _ in range(4):
            w.add(truth, [], mask=mask)
        w.close()
    (tmp_path / "gen").mkdir()
    for i in range(4):
        g = truth.copy()
        g[mask > 0] += 10
        g[0, 0] = 151  # one ghost pixel, far outside the person
        Image.fromarray(g).save(tmp_path / "gen" / f"{i:06d}.png")
    rep = evaluate_video(tmp_path / "gen", real=tmp_path / "truth")
    m = rep.metrics
    assert m["person_psnr"] == pytest.approx(10 * np.log10(255 ** 2 / 100))
    outside = (~dilate(mask > 0, ghost_margin((64, 64)))).sum()
    assert m["ghost_l1"] == pytest.approx(51 / 255 / outside)
    assert m["psnr_drift"] == pytest.approx(0.0)
    rep = evaluate_video(tmp_path / "gen", real=tmp_path / "gen")  # a PNG folder: no masks
    assert "person_psnr" not in rep.metrics and "masks" in rep.skipped["person_psnr"]
