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

meta.json's "fps" is the frames' real rate (a variable-frame-rate video's mean); such a clip
also records "frame_times" (seconds from the first frame, one per frame), which `Clip.timing`
reads (clips without it: times from "fps").

`ClipWriter` streams frames into a temporary directory and renames it on `close()`, so an
interrupted or failed write leaves nothing under the final name.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from v2vtool import __version__
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import make_parents, remove_created, replace_dir
from v2vtool.io.guard import check_replaceable, is_clip_output
from v2vtool.io.keypoints import Frame, frame_to_dict, read_jsonl
from v2vtool.io.png import write_png
from v2vtool.io.timing import Timing
from v2vtool.semantics.kinds import get_kind

CLIP_FORMAT = "v2v-clip/1"


def frame_name(i: int) -> str:
    return f"{i:06d}.png"


def is_clip_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "meta.json").is_file() and (Path(path) / "frames").is_dir()


def _read_png(path: Path, mode: str) -> np.ndarray:
    if mode == "RGB":
        from v2vtool.io.image import read_rgb

        return read_rgb(path)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except PermissionError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: unreadable image ({' '.join(str(exc).split())[:160]})") \
            from None


def read_dataset_manifest(root: str | os.PathLike) -> dict | None:
    """`root/manifest.json` of a dataset (data synth / data import), or None when absent."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({' '.join(str(exc).split())[:160]})") \
            from None
    check_manifest(manifest, path)
    return manifest


def check_manifest(manifest, path) -> None:
    """The dataset manifest's structure, as every reader relies on it (one line on error):
    an object; "clips" a list of {"path": relative path inside the dataset, "identity",
    "split": train | test}; "train" / "test" lists of identity names; "identities" an object."""
    def bad(why: str) -> UserError:
        return UserError(f"{path}: {why}")

    if not isinstance(manifest, dict):
        raise bad(f"expected a JSON object, got {type(manifest).__name__}")
    clips = manifest.get("clips", [])
    if not isinstance(clips, list):
        raise bad("'clips' must be a list")
    for i, c in enumerate(clips):
        if not isinstance(c, dict) or not isinstance(c.get("path"), str) or not c["path"]:
            raise bad(f"clips[{i}] must be an object with a 'path'")
        p = Path(c["path"])
        if p.is_absolute() or ".." in p.parts:
            raise bad(f"clips[{i}].path {c['path']!r} must be a path inside the dataset")
        if c.get("split", "train") not in ("train", "test"):
            raise bad(f"clips[{i}].split {c.get('split')!r} must be train or test")
        if not isinstance(c.get("identity", ""), (str, type(None))):
            raise bad(f"clips[{i}].identity must be a string")
    for key in ("train", "test"):
        ids = manifest.get(key, [])
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise bad(f"'{key}' must be a list of identity names")
    if not isinstance(manifest.get("identities", {}), dict):
        raise bad("'identities' must be an object")


def check_meta(meta, where) -> None:
    """The keys every reader relies on, with sane types and ranges (one line naming the file)."""
    from v2vtool.config_check import MAX_SIDE, check_number

    if not isinstance(meta, dict):
        raise UserError(f"{where}: expected a JSON object")
    for key in ("kind", "fps", "width", "height", "frame_count"):
        if key not in meta:
            raise UserError(f"{where}: missing key {key!r}")
    if not isinstance(meta["kind"], str) or not meta["kind"]:
        raise UserError(f"{where}: 'kind' must be a semantic kind name")
    try:
        check_number("fps", meta["fps"], 0, 1000, lo_open=True)
        check_number("width", meta["width"], 1, 4 * MAX_SIDE, integer=True)
        check_number("height", meta["height"], 1, 4 * MAX_SIDE, integer=True)
        check_number("frame_count", meta["frame_count"], 1, 10**8, integer=True)
        if meta.get("semantic_channels") is not None and meta["semantic_channels"] not in (1, 3):
            raise UserError(f"semantic_channels {meta['semantic_channels']!r}: must be 1 or 3")
        if meta.get("frame_times") is not None:
            _check_frame_times(meta["frame_times"], meta["frame_count"])
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def _check_frame_times(times, count: int) -> None:
    """meta.json "frame_times": one finite, non-decreasing time per frame, from 0."""
    from v2vtool.config_check import check_number

    if not isinstance(times, list) or len(times) != count:
        n = len(times) if isinstance(times, list) else type(times).__name__
        raise UserError(f"frame_times: expected a list of {count} times (one per frame), got {n}")
    for i, t in enumerate(times):
        if t is None:
            raise UserError(f"frame_times[{i}]: null, expected a time in seconds")
        check_number(f"frame_times[{i}]", t, 0, 10**7)
        if i and t < times[i - 1]:
            raise UserError(f"frame_times[{i}]={t}: before frame_times[{i - 1}]={times[i - 1]}")


class Clip:
    """Read access to a clip directory (random access, nothing loaded up front)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise UserError(f"{self.path}: not a clip directory (no meta.json)")
        try:
            self.meta: dict = json.loads(meta_file.read_text())
        except (ValueError, RecursionError) as exc:
            raise UserError(f"{meta_file}: not valid JSON ({' '.join(str(exc).split())[:160]})"
                            ) from None
        check_meta(self.meta, meta_file)

    kind = property(lambda self: self.meta["kind"])
    fps = property(lambda self: float(self.meta["fps"]))
    size = property(lambda self: (int(self.meta["width"]), int(self.meta["height"])))

    def __len__(self) -> int:
        return int(self.meta["frame_count"])

    @cached_property
    def timing(self) -> Timing:
        """When each frame is shown: meta.json's "frame_times", else times from "fps"."""
        times = self.meta.get("frame_times")
        if times is None:
            return Timing.constant(len(self), self.fps)
        return Timing.from_stamps(times, self.fps)

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


def check_clip_files(path: str | os.PathLike, keypoints: bool = True) -> None:
    """Up-front check of a clip a long job will read (train): meta.json, the keypoints file
    (every value validated, one line per frame) and the first and last frames, so a broken
    clip stops the job before it writes anything rather than hours in."""
    clip = Clip(path)
    if keypoints and clip.has_keypoints:
        clip.keypoints  # noqa: B018 - reads, validates and checks the frame count
    for i in sorted({0, len(clip) - 1}):
        f = clip.path / "frames" / frame_name(i)
        if not f.is_file():
            raise UserError(f"{f}: missing frame (meta.json says {len(clip)} frames)")


class ClipWriter:
    """Stream frames (and their keypoints / semantic maps / masks) into a new clip directory."""

    def __init__(self, path: str | os.PathLike, kind: str, fps: float, overwrite: bool = False):
        self.path = Path(path)
        if os.path.lexists(self.path):
            if not overwrite:
                raise UserError(f"{self.path}: output exists (use --overwrite to replace it)")
            check_replaceable(self.path, is_clip_output, "a clip dir written by v2v")
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self._kp = None
        self._created = make_parents(self.path)
        try:
            for sub in ("frames", "semantics", "masks"):
                (self.tmp / sub).mkdir(parents=True)
        except OSError as exc:
            self.abort()
            raise UserError(os_error_message(exc, self.path)) from None
        self.kind, self.fps, self.overwrite = kind, float(fps), overwrite
        self.count = 0
        self.detected = 0
        self.size: tuple[int, int] | None = None
        self.semantic_channels: int | None = None

    def add(self, frame: np.ndarray, keypoints: Frame | None = None,
            semantic: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """frame (H, W, 3) uint8; keypoints a Frame (or None for kinds without keypoints)."""
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
        name = frame_name(self.count)
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
        try:
            write_png(self.tmp / "frames" / name, frame)  # io/png.py: ~2x faster than Pillow
            if semantic is not None:
                write_png(self.tmp / "semantics" / name, semantic)
            if mask is not None:
                write_png(self.tmp / "masks" / name, mask)
            if keypoints is not None:
                if self._kp is None:
                    self._kp = open(self.tmp / "keypoints.jsonl", "w")
                self._kp.write(json.dumps(frame_to_dict(keypoints)) + "\n")
        except OSError as exc:  # disk full, folder removed under us, ...
            raise UserError(os_error_message(exc, self.path)) from None
        if keypoints is not None:
            self.detected += int(len(keypoints) > 0)
        self.count += 1

    def close(self, **meta) -> Path:
        """Write meta.json and move the clip into place. Extra keyword args go into meta."""
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
        try:
            if self._kp is not None:
                self._kp.close()
            (self.tmp / "meta.json").write_text(json.dumps(full, indent=2, sort_keys=True))
            for sub in ("semantics", "masks"):
                if not any((self.tmp / sub).iterdir()):
                    (self.tmp / sub).rmdir()
            if os.path.lexists(self.path) and self.overwrite:
                check_replaceable(self.path, is_clip_output, "a clip dir written by v2v")
                replace_dir(self.tmp, self.path)
            elif os.path.lexists(self.path):
                raise UserError(f"{self.path}: output exists (use --overwrite to replace it)")
            else:
                os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise UserError(os_error_message(exc, self.path)) from None
        except UserError:
            self.abort()
            raise
        self._created = []  # the clip is in place: its parent folders stay
        return self.path

    def abort(self) -> None:
        """Drop everything written so far (and the parent folders this writer created)."""
        if self._kp is not None and not self._kp.closed:
            with contextlib.suppress(OSError):
                self._kp.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        remove_created(self._created)
        self._created = []

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
