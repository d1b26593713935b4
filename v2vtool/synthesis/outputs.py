"""Output writers of synthesis: frame sinks (mp4 / PNG folder), side-by-side panels, attention
maps (the paper's Fig. 7c: each example tinted by the attention it receives) and the sidecar.

Every sink is atomic: it writes to a temporary name and appears under its final name only when
closed without error (`abort` drops it), so a failed run leaves nothing half-written.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import (_tmp_name, atomic_path, commit_pending, make_parents,
                               remove_created, replace_dir)
from v2vtool.io.guard import check_replaceable, is_marked_output, write_marker

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")


def semantic_rgb(semantic: np.ndarray) -> np.ndarray:
    """A semantic map as a viewable (H, W, 3) uint8 image (gray sketches / label ids coloured)."""
    if semantic.ndim == 3:
        return semantic
    if semantic.max(initial=0) <= 64:  # class ids: a fixed, distinct palette
        rng = np.random.default_rng(7)
        palette = rng.integers(40, 256, (256, 3), dtype=np.uint8)
        palette[0] = 0
        return palette[semantic]
    return np.repeat(semantic[..., None], 3, axis=2)


def side_by_side(semantic: np.ndarray, example: np.ndarray, output: np.ndarray,
                 source: np.ndarray | None = None) -> np.ndarray:
    """driver semantics | chosen example | output, each (H, W, 3) -> (H, 3W, 3).

    source: the driver's semantics before retargeting, drawn at 35% under `semantic`."""
    sem = semantic_rgb(semantic)
    if source is not None:
        sem = np.maximum(sem, (semantic_rgb(source).astype(np.float32) * 0.35).astype(np.uint8))
    return np.concatenate([sem, example, output], axis=1)


def attention_panel(examples: list[np.ndarray], attention: np.ndarray | None) -> np.ndarray:
    """Examples side by side, each tinted by its attention map, with its share written on it.

    examples: K x (H, W, 3) uint8; attention: (K, h, w) attention mass per example (from
    `StepOutput.attention`), or None (K = 1 / no attention: every example shown at full).
    Maps are normalised by the frame's maximum over all K, so a rarely used example is dark.
    """
    k = len(examples)
    h, w = examples[0].shape[:2]
    if attention is None:
        attention = np.ones((k, 1, 1), np.float32) / k
    att = np.asarray(attention, np.float32)
    total = att.reshape(k, -1).sum(1)
    share = total / max(float(total.sum()), 1e-12)
    peak = max(float(att.max()), 1e-12)
    panels = []
    for i, ex in enumerate(examples):
        a = cv2.resize(att[i] / peak, (w, h), interpolation=cv2.INTER_LINEAR)
        a = np.clip(a, 0, 1)
        heat = cv2.applyColorMap((a * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        dim = ex.astype(np.float32) * (0.25 + 0.75 * a[..., None])
        panel = (0.6 * dim + 0.4 * heat.astype(np.float32) * a[..., None]).astype(np.uint8)
        panel = np.ascontiguousarray(panel)
        cv2.putText(panel, f"{100 * share[i]:.0f}%", (2, max(10, h // 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, max(0.3, h / 400), (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    return np.concatenate(panels, axis=1)


# one colour per example in the selection map (RGB); the background plate is gray
EXAMPLE_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                   (70, 240, 240), (240, 50, 230), (210, 245, 60))
PLATE_COLOUR = (128, 128, 128)


def selection_panel(examples: list[np.ndarray], selection: np.ndarray, frame: np.ndarray
                    ) -> np.ndarray:
    """Which example each output pixel comes from (keypoint-prior models).

    examples: K x (H, W, 3) uint8, each framed in its colour with its share of the body pixels;
    selection: (K + 1, h, w) per-pixel weights over the K warped examples and the background
    plate (`StepOutput.selection`); frame: the generated (H, W, 3) frame, tinted by the blend of
    the chosen examples' colours (gray where the background plate is used).
    """
    k = len(examples)
    h, w = frame.shape[:2]
    sel = np.asarray(selection, np.float32)
    colours = np.array([EXAMPLE_COLOURS[i % len(EXAMPLE_COLOURS)] for i in range(k)]
                       + [PLATE_COLOUR], np.float32)
    sel = np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in sel])
    tint = np.einsum("khw,kc->hwc", sel, colours)
    chosen = np.ascontiguousarray((0.45 * frame.astype(np.float32) + 0.55 * tint).astype(np.uint8))
    body = sel[:k].reshape(k, -1).sum(1)
    share = body / max(float(body.sum()), 1e-12)
    panels = []
    for i, ex in enumerate(examples):
        panel = np.ascontiguousarray(cv2.resize(ex, (w, h), interpolation=cv2.INTER_AREA)
                                     if ex.shape[:2] != (h, w) else ex.copy())
        cv2.rectangle(panel, (0, 0), (w - 1, h - 1), tuple(int(c) for c in colours[i]),
                      max(2, h // 40))
        cv2.putText(panel, f"{100 * share[i]:.0f}%", (4, max(12, h // 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, max(0.3, h / 400), (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    return np.concatenate(panels + [chosen], axis=1)


def resize_to(image: np.ndarray | None, size: tuple[int, int] | None) -> np.ndarray | None:
    if image is None or size is None or (image.shape[1], image.shape[0]) == tuple(size):
        return image
    interp = cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(image, tuple(size), interpolation=interp)


class PngDirSink:
    """Frames as DIR/000000.png ... written into a temporary folder renamed on commit.

    The folder gets the `.v2v-output` marker, so a later run may replace it; an existing folder
    without the marker (a folder of the user's) is never replaced (`io.guard`)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        check_replaceable(self.path, is_marked_output, "a PNG folder written by v2v synthesize")
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self._created = make_parents(self.path)
        try:
            self.tmp.mkdir()
            write_marker(self.tmp, "v2v-frames/1", "v2v synthesize")
        except OSError as exc:
            self.abort()
            raise UserError(os_error_message(exc, self.path)) from None
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        try:
            Image.fromarray(rgb).save(self.tmp / f"{self.count:06d}.png", compress_level=1)
        except OSError as exc:
            raise UserError(os_error_message(exc, self.path)) from None
        self.count += 1

    def finish(self) -> None:
        pass

    def commit(self) -> Path:
        def move() -> None:
            if os.path.lexists(self.path):
                check_replaceable(self.path, is_marked_output,
                                  "a PNG folder written by v2v synthesize")
                replace_dir(self.tmp, self.path)
            else:
                os.replace(self.tmp, self.path)
        return commit_pending(self, move)

    def close(self) -> Path:
        return self.commit()

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        remove_created(self._created)
        self._created = []


class PendingText:
    """A text file completed under a temporary name now and renamed on `commit`."""

    def __init__(self, path: str | os.PathLike, text: str):
        self.path = Path(path)
        self._created = make_parents(self.path)
        self.tmp = _tmp_name(self.path)
        try:
            self.tmp.write_text(text)
        except OSError as exc:
            self.abort()
            raise UserError(os_error_message(exc, self.path)) from None

    def commit(self) -> Path:
        return commit_pending(self, lambda: os.replace(self.tmp, self.path))

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.tmp.unlink()
        remove_created(self._created)
        self._created = []


def open_sink(path: str | os.PathLike, fps: float, audio_from=None, timing=None):
    """An mp4 writer for video suffixes (frames at `timing`'s timestamps when given, else at
    `fps`), else a PNG folder."""
    from v2vtool.io.video import VideoWriter

    path = Path(path)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoWriter(path, fps, audio_from=audio_from, preset="veryfast", timing=timing)
    return PngDirSink(path)


def sidecar_text(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=_json_default)


def write_sidecar(path: str | os.PathLike, data: dict) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(sidecar_text(data))
    return Path(path)


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
