"""RUN/validation.png: the held-out validation curve against the copy-the-example baseline."""
from __future__ import annotations

import os
from pathlib import Path

from v2vtool.io.atomic import atomic_path
from v2vtool.training.runlog import read_metrics


def plot_validation(run_dir: str | os.PathLike, out: str | os.PathLike | None = None
                    ) -> Path | None:
    """Plot L1 and PSNR of every validation record (EMA and raw generator) vs step, with the
    copy-the-example baseline as a dashed line. Returns the PNG path (None: no records yet)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = read_metrics(run_dir, "val")
    if not recs:
        return None
    out = Path(out) if out is not None else Path(run_dir) / "validation.png"
    steps = [r["step"] for r in recs]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    for ax, key, label in ((axes[0], "l1", "L1 (lower is better)"),
                           (axes[1], "psnr", "PSNR dB (higher is better)")):
        ema = recs[0].get("ema")
        ax.plot(steps, [r[key] for r in recs], "o-", label="generator (EMA)" if ema else "generator")
        if all(f"raw_{key}" in r for r in recs):
            ax.plot(steps, [r[f"raw_{key}"] for r in recs], ".-", alpha=0.6, label="generator (raw)")
        ax.plot(steps, [r[f"baseline_{key}"] for r in recs], "--", color="gray",
                label="copy the K=1 example")
        ax.set_xlabel("step")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"held-out validation: {Path(run_dir).name}", fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
