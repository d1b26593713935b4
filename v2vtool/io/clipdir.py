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

`verify_clip(path)` compares meta.json with the files (frame count, frame size, keypoint
lines): errors where the clip cannot be used as meta.json describes it (frames missing, a
frame of another size: keypoints and maps are in meta.json's pixel frame, so it would be
misaligned; keypoint lines that do not pair with the frames), warnings where it can (frames
beyond meta.json's count: never read). `Clip.frame` checks every frame's size as it reads it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import struct
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from v2vtool import __version__
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import make_parents, remove_created, replace_dir
from v2vtool.io.guard import check_replaceable, is_clip_output
from v2vtool.io.keypoints import Frame, ImplausibleCounter, frame_to_dict, read_jsonl
from v2vtool.io.png import write_png
from v2vtool.io.timing import Timing
from v2vtool.semantics.kinds import get_kind

log = logging.getLogger(__name__)
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

    def _read(self, path: Path, mode: str) -> np.ndarray:
        """A frame / map / mask of meta.json's size (else a UserError naming the file)."""
        arr = _read_png(path, mode)
        if (arr.shape[1], arr.shape[0]) != self.size:
            raise UserError(_size_error(path, (arr.shape[1], arr.shape[0]), self.size))
        return arr

    def frame(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        return self._read(self.path / "frames" / frame_name(i), "RGB")

    @cached_property
    def semantic_channels(self) -> int:
        """Channels of the stored maps: meta.json's record, else the kind's (older clips)."""
        channels = self.meta.get("semantic_channels")
        return int(channels) if channels is not None else get_kind(self.kind).stored_channels

    def semantic(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 for 3-channel maps (pose), (H, W) uint8 otherwise (class ids for
        segmentation)."""
        return self._read(self.path / "semantics" / frame_name(i),
                          "RGB" if self.semantic_channels == 3 else "L")

    def mask(self, i: int) -> np.ndarray | None:
        p = self.path / "masks" / frame_name(i)
        return self._read(p, "L") if p.is_file() else None

    @property
    def has_keypoints(self) -> bool:
        return (self.path / "keypoints.jsonl").is_file()

    @cached_property
    def keypoints(self) -> list[Frame]:
        """Validated frames; points more than a frame size outside the frame read as missing
        (`io.keypoints.drop_implausible`; how many: `implausible_keypoints`)."""
        frames = read_jsonl(self.path / "keypoints.jsonl")
        if len(frames) != len(self):
            raise UserError(f"{self.path}/keypoints.jsonl: {len(frames)} frames, "
                            f"meta.json says {len(self)}")
        counter = ImplausibleCounter(self.size)
        frames = [counter(f) for f in frames]
        self.implausible_keypoints = counter.points
        return frames


def _size_error(path: Path, size: tuple[int, int], meta: tuple[int, int]) -> str:
    return (f"{path}: image is {size[0]}x{size[1]}, meta.json says {meta[0]}x{meta[1]} "
            "(keypoints and maps are in meta.json's pixel frame: it would be misaligned)")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FRAME_FILE = re.compile(r"^(\d{6})\.png$")


def image_size(path: Path) -> tuple[int, int]:
    """(w, h) from the file's header (PNG: 24 bytes; other formats: Pillow's header read)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    try:
        with Image.open(path) as im:
            return im.size
    except PermissionError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: unreadable image ({' '.join(str(exc).split())[:160]})") \
            from None


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


@dataclass
class ClipCheck:
    """A clip dir's files against its meta.json (`verify_clip`)."""

    path: Path
    meta_frames: int  # meta.json's frame_count
    frames: int  # frame files on disk (frames/NNNNNN.png)
    size: tuple[int, int]  # frame size on disk (meta.json's where frames disagree)
    keypoint_lines: int | None  # non-empty lines of keypoints.jsonl (None: no such file)
    errors: list[str] = field(default_factory=list)  # unusable as meta.json describes it
    warnings: list[str] = field(default_factory=list)  # usable; something is off

    def raise_first(self) -> None:
        if self.errors:
            raise UserError(self.errors[0])


def verify_clip(path: str | os.PathLike, sizes: bool = True) -> ClipCheck:
    """Compare meta.json with the clip's files (module docstring): frames present for every
    index meta.json counts, each of its size (`sizes`: every PNG header is read), and one
    keypoint line per frame."""
    clip = Clip(path)
    n, meta_size = len(clip), clip.size
    folder = clip.path / "frames"
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise UserError(os_error_message(exc, folder)) from None
    indices = sorted(int(m.group(1)) for m in map(_FRAME_FILE.match, names) if m)
    present = set(indices)
    missing = [i for i in range(n) if i not in present]
    extra = [i for i in indices if i >= n]
    kp_file = clip.path / "keypoints.jsonl"
    lines = _count_lines(kp_file) if kp_file.is_file() else None
    check = ClipCheck(clip.path, n, len(indices), meta_size, lines)
    if missing:
        check.errors.append(f"{clip.path}: meta.json says {n} frames, {n - len(missing)} of "
                            f"them on disk (first missing: frames/{frame_name(missing[0])})")
    if lines is not None and lines != n:
        check.errors.append(f"{kp_file}: {lines} frames, meta.json says {n}")
    if sizes:
        seen: dict[tuple[int, int], int] = {}
        wrong: list[str] = []
        unreadable: list[str] = []
        for i in indices:
            f = folder / frame_name(i)
            try:
                size = image_size(f)
            except UserError as exc:
                if i < n:
                    unreadable.append(str(exc))
                continue
            seen[size] = seen.get(size, 0) + 1
            if size != meta_size and i < n:
                wrong.append(_size_error(f, size, meta_size))
        for found in (unreadable, wrong):
            if found:
                more = f" ({len(found)} such frames)" if len(found) > 1 else ""
                check.errors.append(found[0] + more)
        if len(seen) == 1:
            check.size = next(iter(seen))
    if extra:
        check.warnings.append(f"{clip.path}: {len(extra)} frame(s) on disk beyond the {n} "
                              "meta.json counts (not used)")
    return check


def check_clip_files(path: str | os.PathLike, keypoints: bool = True) -> ClipCheck:
    """Up-front check of a clip a long job will read (train): `verify_clip` (its first error
    raised, warnings logged) and the keypoints file (every value validated, one line per
    frame), so a broken clip stops the job before it writes anything rather than hours in."""
    check = verify_clip(path)
    check.raise_first()
    for w in check.warnings:
        log.warning("%s", w)
    clip = Clip(path)
    if keypoints and clip.has_keypoints:
        clip.keypoints  # noqa: B018 - reads, validates and checks the frame count
    return check


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
        self._implausible: ImplausibleCounter | None = None
        self.semantic_channels: int | None = None

    def add(self, frame: np.ndarray, keypoints: Frame | None = None,
            semantic: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """frame (H, W, 3) uint8; keypoints a Frame (or None for kinds without keypoints)."""
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
            self._implausible = ImplausibleCounter(self.size)
        elif (w, h) != self.size:  # every frame of a clip is in meta.json's pixel frame
            raise UserError(f"{self.path}: frame {self.count} is {w}x{h}, the clip's earlier "
                            f"frames are {self.size[0]}x{self.size[1]}")
        if keypoints is not None:
            keypoints = self._implausible(keypoints)
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
            # points more than a frame size outside the frame, written as missing joints
            full["implausible_keypoints"] = self._implausible.points
        full.update(meta)
        try:
            if self._kp is not None:
                self._kp.close()
            (self.tmp / "meta.json").write_text(json.dumps(full, indent=2, sort_keys=True))
            for sub in ("semantics", "masks"):
                if not any((self.tmp / sub).iterdir()):
                    (self.tmp / sub).rmdir()
            # the clip as written agrees with its meta.json (counts; sizes were checked in add)
            written = verify_clip(self.tmp, sizes=False)
            if written.errors:
                raise UserError(written.errors[0].replace(str(self.tmp), str(self.path)))
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
