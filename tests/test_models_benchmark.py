"""benchmarks/model.py stays runnable: one tiny measurement at 64 px."""
import importlib.util
from pathlib import Path

import torch


def test_benchmark_measure_smoke():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "model.py"
    spec = importlib.util.spec_from_file_location("bench_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.measure("tiny", batch=1, k=2, device=torch.device("cpu"), amp="none",
                      iters=(1, 1), size=(64, 64))
    assert row["size"] == [64, 64] and row["k"] == 2
    assert row["gflops_per_frame"] > 0 and row["ms_per_frame"] > 0 and row["params_m"] > 0
    assert abs(row["fps"] - 1000 / row["ms_per_frame"]) < 1e-6 * row["fps"] + 1e-9
    # the attention op (CPU flash kernel on this build) is counted
    q = torch.rand(1, 1, 64, 16)
    counter = mod._counter()
    with torch.no_grad(), counter:
        torch.nn.functional.scaled_dot_product_attention(q, torch.rand(1, 1, 128, 16),
                                                         torch.rand(1, 1, 128, 16))
    assert counter.get_total_flops() == 4 * 64 * 128 * 16
