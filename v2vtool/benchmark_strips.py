"""Per-clip picture strips of the real-footage protocol (`v2v evaluate --benchmark CLIPS
--strips DIR`): what the numbers are about, so anyone can look.

A strip is a stack of blocks; a block is a title line, the examples (captioned), a header of
frame indices and labelled rows of frames (truth, driver skeleton, outputs), all tiles at the
model's resolution.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from v2vtool.io.png import write_png
from v2vtool.synthesis.outputs import semantic_rgb

LABEL_W = 132  # px of the label column
LINE_H = 16  # px of a title / caption line
GAP = 4  # px between tiles
FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
STRIP_FRAMES = 6  # frames shown per row


def pick_columns(n: int, count: int) -> list[int]:
    """`count` positions spread evenly over range(n) (fewer when n is smaller), first and last
    included."""
    if n <= 0:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(count, n))})


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.38) -> None:
    cv2.putText(canvas, text, (x, y), FONT, scale, TEXT, 1, cv2.LINE_AA)


def _tile(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    img = semantic_rgb(np.asarray(image))
    if (img.shape[1], img.shape[0]) != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def block(title: str, examples: list[tuple[str, np.ndarray]],
          rows: list[tuple[str, list[np.ndarray]]], header: list[str],
          size: tuple[int, int]) -> np.ndarray:
    """One block (module docstring): (H, W, 3) uint8. size: the tiles' (w, h)."""
    w, h = size
    cols = max([len(header)] + [len(r) for _, r in rows] + [len(examples)])
    width = LABEL_W + cols * (w + GAP)
    height = LINE_H + (h + LINE_H + GAP) * bool(examples) + LINE_H + len(rows) * (h + GAP)
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    _text(canvas, title, 4, LINE_H - 4, 0.42)
    y = LINE_H
    if examples:
        _text(canvas, "examples", 4, y + h // 2)
        for i, (caption, img) in enumerate(examples):
            x = LABEL_W + i * (w + GAP)
            canvas[y:y + h, x:x + w] = _tile(img, size)
            _text(canvas, caption, x + 2, y + h + LINE_H - 4, 0.34)
        y += h + LINE_H + GAP
    for i, caption in enumerate(header):
        _text(canvas, caption, LABEL_W + i * (w + GAP) + 2, y + LINE_H - 4, 0.34)
    y += LINE_H
    for label, frames in rows:
        _text(canvas, label, 4, y + h // 2)
        for i, img in enumerate(frames):
            x = LABEL_W + i * (w + GAP)
            canvas[y:y + h, x:x + w] = _tile(img, size)
        y += h + GAP
    return canvas


def stack(blocks: list[np.ndarray]) -> np.ndarray:
    """Blocks one under the other (narrower ones padded right), separated by a bright line."""
    width = max(b.shape[1] for b in blocks)
    out = []
    for i, b in enumerate(blocks):
        if i:
            out.append(np.full((2, width, 3), 120, np.uint8))
        pad = np.full((b.shape[0], width - b.shape[1], 3), BACKGROUND, np.uint8)
        out.append(np.concatenate([b, pad], axis=1))
    return np.concatenate(out, axis=0)


def write_strips(folder: Path, plans: list, strips: dict, cross: dict,
                 size: tuple[int, int]) -> None:
    """One PNG per clip: its self-reenactment (truth, driver, model K=1 / K=2, prior-warp K=1 /
    K=2, ~STRIP_FRAMES scored frames) and, below, its cross-identity run."""
    for plan in plans:
        s = strips[plan.name]
        cols = [plan.scored[j] for j in pick_columns(len(plan.scored), STRIP_FRAMES)]
        header = [f"frame {plan.window[j]}" for j in cols]
        rows = [("truth", [s["truth"][j] for j in cols]),
                ("driver", [s["driver"][j] for j in cols])]
        rows += [(f"{m} K={k}", [frames[j] for j in cols])
                 for (m, k), frames in s["rows"].items() if k in (1, 2)]
        blocks = [block(f"{plan.name}: self-reenactment ({len(plan.scored)} scored frames, "
                        f"stride {plan.stride})", s["examples"], rows, header, size)]
        c = cross.get(plan.name)
        if c is not None:
            cc = pick_columns(len(c["driver"]), STRIP_FRAMES)
            crows = [("driver truth", [c["truth"][j] for j in cc]),
                     ("driver (retargeted)", [c["driver"][j] for j in cc])]
            crows += [(f"{m} K={k}", [f[j] for j in cc]) for (m, k), f in c["rows"].items()]
            blocks.append(block(f"{plan.name} driven by {c['driver_name']} (cross-identity, "
                                "retargeted)",
                                c["examples"], crows, [f"frame {c['window'][j]}" for j in cc],
                                size))
        write_png(folder / f"{plan.name}.png", stack(blocks))
