"""What a person watches: the sample grid PNG and the rich progress bar."""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)

from v2vtool.io.atomic import atomic_path
from v2vtool.semantics.kinds import get_kind


def semantic_to_rgb(sem: torch.Tensor, kind: str) -> torch.Tensor:
    """(C, H, W) network semantic map in [0, 1] -> (3, H, W) in [0, 1] for display: one-hot
    kinds (segmentation) in one colour per class, 1-channel maps gray, 3-channel ones as is."""
    if get_kind(kind).one_hot:
        n = sem.shape[0]
        palette = torch.tensor([colorsys.hsv_to_rgb(i / max(1, n), 0.8, 1.0) for i in range(n)],
                               dtype=torch.float32)
        ids = sem.argmax(0)
        rgb = palette[ids].permute(2, 0, 1)
        return rgb * (sem.sum(0, keepdim=True) > 0)
    if sem.shape[0] == 1:
        return sem.expand(3, -1, -1)
    return sem[:3]


def _img(x: torch.Tensor) -> torch.Tensor:
    return ((x.float().clamp(-1, 1) + 1) / 2).cpu()


def sample_grid(batch: dict, generated: torch.Tensor, kind: str, max_items: int = 2,
                max_frames: int = 4) -> np.ndarray:
    """One row per (item, frame): semantics | examples (K) | generated | real. (H', W', 3) uint8.

    batch tensors (B, T|K, C, H, W); generated (B, T, 3, H, W) in [-1, 1].
    """
    rows = []
    b = min(max_items, generated.shape[0])
    t_show = min(max_frames, generated.shape[1])
    for i in range(b):
        examples = [_img(e) for e in batch["examples"][i]]
        for t in range(t_show):
            cells = [semantic_to_rgb(batch["semantics"][i, t].float().cpu(), kind)]
            cells += examples
            cells += [_img(generated[i, t]), _img(batch["images"][i, t])]
            sep = torch.ones(3, cells[0].shape[1], 2)
            row = []
            for c in cells:
                row += [c, sep]
            rows.append(torch.cat(row[:-1], dim=2))
            rows.append(torch.ones(3, 2, rows[-1].shape[2]))
    grid = torch.cat(rows[:-1], dim=1)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def save_png(path: Path, image: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def make_progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]train[/]"), BarColumn(bar_width=24), MofNCompleteColumn(),
        TextColumn("{task.fields[phase]} T={task.fields[seq_len]} K={task.fields[k]}"),
        TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=console or Console(stderr=True), disable=not enabled, transient=False,
        refresh_per_second=2,
    )


def format_losses(losses: dict[str, float], keys: tuple[str, ...] = ("g_total", "d_total", "l1",
                                                                        "gan", "perceptual")) -> str:
    return " ".join(f"{k}={losses[k]:.3f}" for k in keys if k in losses)
