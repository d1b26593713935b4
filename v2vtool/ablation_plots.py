"""Plots of an ablation table (matplotlib, Agg): k.png, train_size.png, variants.png."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from v2vtool.benchmark import BASELINES  # noqa: E402
from v2vtool.io.atomic import atomic_path  # noqa: E402

MODELS = ("weightgen", "adain", "concat", "encoder")

PANELS = (("psnr", "PSNR (dB, higher is better)"), ("pose_error", "pose error (px @512, lower is better)"))


def _panels(rows):
    return [(k, label) for k, label in PANELS if any(r.get(k) is not None for r in rows)]


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _full_size(rows) -> int:
    return max((r["train_identities"] for r in rows if r["method"] == "model"), default=0)


def plot_k(rows: list[dict], path: Path) -> None:
    panels = _panels(rows)
    full = _full_size(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        series = {}
        for r in rows:
            if r.get(key) is None or r["method"] == "truth":
                continue
            if r["method"] == "model" and r["train_identities"] != full:
                continue
            if r["method"] != "model" and r["variant"] not in BASELINES:
                continue
            name = r["variant"] if r["method"] == "model" else r["method"]
            series.setdefault(name, {})[r["k"]] = r[key]
        for name, pts in sorted(series.items()):
            ks = sorted(pts)
            style = "-o" if name in MODELS else "--s"
            ax.plot(ks, [pts[k] for k in ks], style, label=name)
        truth = [r.get(key) for r in rows if r["method"] == "truth" and r.get(key) is not None]
        if key == "pose_error" and truth:
            ax.axhline(truth[0], color="gray", ls=":", label="truth (estimator floor)")
        ax.set_xlabel("K (examples at test time)")
        ax.set_ylabel(label)
        ax.set_xscale("log", base=2)
        allk = sorted({k for pts in series.values() for k in pts})
        ax.set_xticks(allk, [str(k) for k in allk])
        ax.legend(fontsize=7)
    fig.suptitle(f"quality vs K ({full} training identities)")
    _save(fig, path)


def plot_train_size(rows: list[dict], path: Path, k: int) -> None:
    panels = _panels(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        pts = {r["train_identities"]: r[key] for r in rows if r["method"] == "model"
               and r["variant"] == "weightgen" and r["k"] == k and r.get(key) is not None}
        if pts:
            ns = sorted(pts)
            ax.plot(ns, [pts[n] for n in ns], "-o", label="weightgen")
        base = [r[key] for r in rows if r["method"] == "copy" and r["k"] == k
                and r.get(key) is not None]
        if base:
            ax.axhline(float(sum(base) / len(base)), color="gray", ls="--", label="copy example")
        ax.set_xlabel("training identities")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(f"quality vs training-set size (K={k})")
    _save(fig, path)


def plot_variants(rows: list[dict], path: Path, k: int, variants: Sequence[str]) -> None:
    panels = _panels(rows)
    full = _full_size(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        names, vals = [], []
        for v in list(variants) + list(BASELINES):
            for r in rows:
                if r["k"] == k and r["variant"] == v and r.get(key) is not None and \
                        (r["method"] != "model" or r["train_identities"] == full):
                    names.append(v)
                    vals.append(r[key])
                    break
        ax.bar(names, vals, color=["C0" if n in variants else "C7" for n in names])
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle(f"appearance variants vs baselines (K={k}, {full} identities; paper Table 1)")
    _save(fig, path)


def write_plots(rows: list[dict], out: Path, ks: Sequence[int], variants: Sequence[str]) -> None:
    k0 = min(ks)
    plot_k(rows, out / "k.png")
    plot_train_size(rows, out / "train_size.png", k0)
    plot_variants(rows, out / "variants.png", k0, variants)
