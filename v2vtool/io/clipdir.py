"""The clip directory: the one on-disk unit that extract / data synth / data import write and
train / synthesize / evaluate read.

    CLIP/
      meta.json          {"format": "v2v-clip/1", "kind", "fps", "width", "height",
                          "frame_count", "semantic_channels", "source", "extractor",
                          "extractor_version", "settings", "detection_rate",
                          "frames_detected", "v2vtool_version", ...extras}
      frames/000000.png  RGB frames
      keypoints.jsonl    OpenPose objects, one line per frame (kinds pose and face)
      semantics/000000.png  the semantic map: RGB limb map (pose), gray sketch (face, edges)
                          or 8-bit class ids (segmentation); "semantic_channels" (3 or 1)
                          in meta.json says how to read it back (older clips: the kind's
                          record in semantics/kinds.py)
      masks/000000.png   person mask, 0/255 (where the kind has one)

`ClipWriter` streams frames into a temporary directory and renames it on `close()`, so an
interrupted or failed write leaves nothing under the final name.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from v2vtool import __version__
from v2vtool.errors import UserError
from v2vtool.io.keypoints import Frame, frame_to_dict, read_jsonl
from v2vtool.semantics.kinds import get_kind

CLIP_FORMAT = "v2v-clip/1"


def frame_name(i: int) -> str:
    return f"{i:06d}.png"


def is_clip_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "meta.json").is_file() and (Path(path) / "frames").is_dir()


def _read_png(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: unreadable image ({exc})") from None


def read_dataset_manifest(root: str | os.PathLike) -> dict | None:
    """`root/manifest.json` of a dataset (data synth / data import), or None when absent."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


class Clip:
    """Read access to a clip directory (random access, nothing loaded up front)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise UserError(f"{self.path}: not a clip directory (no meta.json)")
        try:
            self.meta: dict = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{meta_file}: not valid JSON ({exc})") from None
        for key in ("kind", "fps", "width", "height", "frame_count"):
            if key not in self.meta:
                raise UserError(f"{meta_file}: missing key {key!r}")

    kind = property(lambda self: self.meta["kind"])
    fps = property(lambda self: float(self.meta["fps"]))
    size = property(lambda self: (int(self.meta["width"]), int(self.meta["height"])))

    def __len__(self) -> int:
        return int(self.meta["frame_count"])

    def frame(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        return _read_png(self.path / "frames" / frame_name(i), "RGB")

    @cached_property
    def semantic_channels(self) -> int:
        """Channels of the stored maps: meta.json's record, else the kind's (older clips)."""
        channels = self.meta.get("semantic_channels")
        return int(channels) if channels is not None else get_kind(self.kind).stored_channels

    def semantic(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 for 3-channel maps (pose), (H, W) uint8 otherwise (class ids for
        segmentation)."""
        return _read_png(self.path / "semantics" / frame_name(i),
                         "RGB" if self.semantic_channels == 3 else "L")

    def mask(self, i: int) -> np.ndarray | None:
        p = self.path / "masks" / frame_name(i)
        return _read_png(p, "L") if p.is_file() else None

    @property
    def has_keypoints(self) -> bool:
        return (self.path / "keypoints.jsonl").is_file()

    @cached_property
    def keypoints(self) -> list[Frame]:
        frames = read_jsonl(self.path / "keypoints.jsonl")
        if len(frames) != len(self):
            raise UserError(f"{self.path}/keypoints.jsonl: {len(frames)} frames, "
                            f"meta.json says {len(self)}")
        return frames


class ClipWriter:
    """Stream frames (and their keypoints / semantic maps / masks) into a new clip directory."""

    def __init__(self, path: str | os.PathLike, kind: str, fps: float, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise UserError(f"{self.path}: output exists (use --overwrite to replace it)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        for sub in ("frames", "semantics", "masks"):
            (self.tmp / sub).mkdir(parents=True)
        self.kind, self.fps, self.overwrite = kind, float(fps), overwrite
        self.count = 0
        self.detected = 0
        self.size: tuple[int, int] | None = None
        self.semantic_channels: int | None = None
        self._kp = None

    def add(self, frame: np.ndarray, keypoints: Frame | None = None,
            semantic: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """frame (H, W, 3) uint8; keypoints a Frame (or None for kinds without keypoints)."""
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
        name = frame_name(self.count)
        Image.fromarray(frame).save(self.tmp / "frames" / name, compress_level=1)
        if semantic is not None:
            channels = 1 if semantic.ndim == 2 else int(semantic.shape[2])
            if channels not in (1, 3):
                raise ValueError(f"semantic map of shape {semantic.shape}: need (H, W) or "
                                 "(H, W, 3)")
            if self.semantic_channels is None:
                self.semantic_channels = channels
            elif channels != self.semantic_channels:
                raise ValueError(f"semantic map with {channels} channels after maps with "
                                 f"{self.semantic_channels}")
            Image.fromarray(semantic).save(self.tmp / "semantics" / name, compress_level=1)
        if mask is not None:
            Image.fromarray(mask).save(self.tmp / "masks" / name, compress_level=1)
        if keypoints is not None:
            if self._kp is None:
                self._kp = open(self.tmp / "keypoints.jsonl", "w")
            self._kp.write(json.dumps(frame_to_dict(keypoints)) + "\n")
            self.detected += int(len(keypoints) > 0)
        self.count += 1

    def close(self, **meta) -> Path:
        """Write meta.json and move the clip into place. Extra keyword args go into meta."""
        if self._kp is not None:
            self._kp.close()
        if self.count == 0:
            self.abort()
            raise UserError(f"{self.path}: no frames to write")
        w, h = self.size
        full = {"format": CLIP_FORMAT, "kind": self.kind, "fps": self.fps, "width": w,
                "height": h, "frame_count": self.count, "v2vtool_version": __version__}
        if self.semantic_channels is not None:
            full["semantic_channels"] = self.semantic_channels
        if self._kp is not None:
            full["frames_detected"] = self.detected
            full["detection_rate"] = self.detected / self.count
        full.update(meta)
        (self.tmp / "meta.json").write_text(json.dumps(full, indent=2, sort_keys=True))
        for sub in ("semantics", "masks"):
            if not any((self.tmp / sub).iterdir()):
                (self.tmp / sub).rmdir()
        if self.path.exists() and self.overwrite:
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._kp is not None and not self._kp.closed:
            self._kp.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
