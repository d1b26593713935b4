import json

import numpy as np
from PIL import Image

from v2vtool.training.plots import plot_validation


def test_validation_plot_from_metrics(tmp_path):
    recs = [{"type": "train", "step": 5, "l1": 0.1},
            *({"type": "val", "step": s, "ema": True, "l1": 0.05 / s, "psnr": 20 + s,
               "raw_l1": 0.06 / s, "raw_psnr": 19 + s, "baseline_l1": 0.03,
               "baseline_psnr": 21.0} for s in (1, 2, 3))]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = plot_validation(tmp_path)
    assert out == tmp_path / "validation.png"
    img = np.asarray(Image.open(out).convert("L"))
    assert img.shape[0] > 200 and img.std() > 10  # a real picture, not a blank canvas


def test_no_validation_records_no_plot(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"type": "train", "step": 1}) + "\n")
    assert plot_validation(tmp_path) is None
    assert not (tmp_path / "validation.png").exists()
