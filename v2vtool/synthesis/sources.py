"""Inputs of synthesis: example images (with their semantics) and driver sources (streaming).

Example specs (`--examples`), each one of:
  - an image file (PNG/JPG/...): semantics extracted with the checkpoint kind's extractor;
  - ``CLIPDIR:IDX`` or ``CLIPDIR:I,J,K``: frame(s) of a clip dir (its stored keypoints /
    semantic maps are used when the clip's kind matches the checkpoint's; else extracted);
  - ``CLIPDIR`` alone: its frame 0.
Driver sources (`--driver`): a video file or a folder of PNG/JPG frames (semantics extracted
on the fly, one frame at a time), a clip dir, a ``keypoints.jsonl`` file, or a folder of
OpenPose per-frame ``*.json`` files. A driver yields, per frame, a keypoint `Frame` (pose /
face kinds) or a semantic map (H, W[, 3]) uint8 (edges / segmentation), never the whole video.
Folders are read in natural name order; an index missing from a numbered OpenPose folder or
frame folder is one warning line, and the previous frame is held in its place (an empty
OpenPose frame: synthesis holds the last detection), so the driver's timing is kept. Video
frames come upright (display matrix / rotate tag) with their real timestamps (`timing`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from v2vtool.config_check import MAX_K
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir
from v2vtool.io.keypoints import Frame, drop_implausible, iter_jsonl, read_openpose_json
from v2vtool.io.sequence import list_sequence, warn_missing
from v2vtool.io.timing import Timing
from v2vtool.semantics.kinds import get_extractor, get_kind

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_KEYPOINT_FPS = 30.0  # keypoint files carry no frame rate; assumed (and recorded) if unknown
MAX_EXAMPLES = MAX_K  # the one K bound (config_check): attention memory grows with K


@dataclass
class Example:
    """One example image with its semantics in its own pixel frame."""

    name: str  # what the user passed (for error messages)
    image: np.ndarray  # (H, W, 3) uint8 RGB
    keypoints: Frame | None  # keypoint kinds (pose / face)
    semantic: np.ndarray | None = None  # map kinds (edges / segmentation): map at image size
    mask: np.ndarray | None = None  # (H, W) uint8 0/255 person segmentation, where there is one

    @property
    def semantics(self):
        """What the synthesizer takes for this example: its keypoints (keypoint kinds) or its
        semantic map (map kinds)."""
        return self.keypoints if self.keypoints is not None else self.semantic


def _read_image(path: Path) -> np.ndarray:
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected an image (or CLIPDIR:INDEX)")
    from v2vtool.io.image import read_rgb

    return read_rgb(path, exif=True)


def _parse_spec(spec: str) -> tuple[Path, list[int] | None]:
    """'a.jpg' -> (a.jpg, None); 'clip:3' / 'clip:1,5' -> (clip, [..]); 'clip' -> (clip, [0])."""
    p = Path(spec)
    if p.exists():
        return p, ([0] if is_clip_dir(p) else None)
    head, sep, tail = spec.rpartition(":")
    if sep and head and is_clip_dir(head):
        try:
            idx = [int(t) for t in tail.split(",") if t.strip()]
        except ValueError:
            raise UserError(f"{spec}: expected CLIPDIR:INDEX[,INDEX...] with integer indices"
                            ) from None
        if not idx:
            raise UserError(f"{spec}: no frame index after ':'")
        return Path(head), idx
    raise UserError(f"{spec}: file not found")


def load_examples(specs: list[str | os.PathLike], kind: str, extractor=None) -> list[Example]:
    """Load example images and their semantics; UserError for a missing / unreadable file or
    an example where nothing is detected (pose / face kinds), naming that file."""
    if not specs:
        raise UserError("no example images given (--examples)")
    parsed = [_parse_spec(str(spec)) for spec in specs]  # every file checked before extracting
    n = sum(1 if idx is None else len(idx) for _, idx in parsed)
    if n > MAX_EXAMPLES:
        raise UserError(f"{n} examples given; at most {MAX_EXAMPLES} are supported")
    for path, idx in parsed:
        if idx is None:
            _read_image(path)
    examples: list[Example] = []
    own = None
    try:
        for path, indices in parsed:
            if extractor is None and (indices is None or Clip(path).kind != kind):
                extractor = own = get_extractor(kind, static=True)
            if indices is None:
                examples.append(_detect(_read_image(path), str(path), kind, extractor))
            else:
                examples.extend(_from_clip(path, indices, kind, extractor))
    finally:
        if own is not None:
            own.close()
    if len(examples) > MAX_EXAMPLES:
        raise UserError(f"{len(examples)} examples given; at most {MAX_EXAMPLES} are supported")
    return examples


def _detect(image: np.ndarray, name: str, kind: str, extractor) -> Example:
    det = extractor(image)
    spec = get_kind(kind)
    if spec.keypoints:
        if not spec.has_detection(det.keypoints):
            raise UserError(f"{name}: no {spec.subject} detected in this example image")
        return Example(name, image, det.keypoints, mask=det.mask)
    return Example(name, image, None, det.semantic)


def _from_clip(path: Path, indices: list[int], kind: str, extractor) -> list[Example]:
    clip = Clip(path)
    spec = get_kind(kind)
    out = []
    for i in indices:
        if not 0 <= i < len(clip):
            raise UserError(f"{path}:{i}: frame index out of range (clip has {len(clip)} frames)")
        name = f"{path}:{i}"
        image = clip.frame(i)
        if clip.kind != kind:
            out.append(_detect(image, name, kind, extractor))
        elif spec.keypoints:
            if not clip.has_keypoints:
                raise UserError(f"{path}: clip has no keypoints.jsonl")
            kp = drop_implausible(_nth_jsonl(path / "keypoints.jsonl", i), clip.size)[0]
            if not spec.has_detection(kp):
                raise UserError(f"{name}: no {spec.subject} detected in this example frame")
            out.append(Example(name, image, kp, mask=clip.mask(i)))
        else:
            out.append(Example(name, image, None, clip.semantic(i)))
    return out


def _nth_jsonl(path: Path, i: int) -> Frame:
    for n, frame in enumerate(iter_jsonl(path)):
        if n == i:
            return frame
    raise UserError(f"{path}: fewer than {i + 1} lines")


@dataclass
class DriverSource:
    """A streaming driver. Iterate for per-frame keypoint Frames or semantic maps.

    size: (w, h) pixel frame of the keypoints / maps; fps: frame rate (fps_assumed when the
    source has none; a VFR video's mean rate); frame_count: frames (None when unknown up
    front); audio_from: a media file whose audio the output copies (video drivers); timing:
    when each frame is shown (VFR videos and clips extracted from them: their timestamps);
    missing: indices absent from a numbered folder (held); rotation: the rotation applied to
    a video driver's frames (None: stored upright).
    """

    path: Path
    source: str  # video | clip | jsonl | openpose
    kind: str  # semantic kind it yields
    fps: float
    size: tuple[int, int]
    frame_count: int | None
    audio_from: Path | None = None
    fps_assumed: bool = False
    _iter: object = field(default=None, repr=False)
    timing: Timing | None = None
    missing: tuple[int, ...] = ()
    rotation: dict | None = None

    def __post_init__(self) -> None:
        if self.timing is None:
            self.timing = Timing.constant(self.frame_count or 1, self.fps)

    def __iter__(self) -> Iterator[Frame | np.ndarray]:
        return self._iter()


def _keypoint_canvas(frames: Iterator[Frame], where: str) -> tuple[tuple[int, int], int]:
    """Pixel frame of keypoint files without an image size: the extent of all found points
    plus a 10% margin (one streaming pass). Returns ((w, h), frame count)."""
    mx = my = 0.0
    n = 0
    for frame in frames:
        n += 1
        for p in frame:
            for a in (p.pose, p.face, p.hand_left, p.hand_right):
                ok = a[:, 2] > 0
                if ok.any():
                    mx, my = max(mx, float(a[ok, 0].max())), max(my, float(a[ok, 1].max()))
    if n == 0:
        raise UserError(f"{where}: no frames")
    if mx <= 0 or my <= 0:
        raise UserError(f"{where}: no keypoints detected in any of its {n} frames")
    return (int(np.ceil(mx * 1.1)), int(np.ceil(my * 1.1))), n


def _sibling_meta(path: Path) -> Clip | None:
    parent = path.parent if path.is_file() else path
    return Clip(parent) if is_clip_dir(parent) else None


def open_driver(path: str | os.PathLike, kind: str, fps: float | None = None,
                extractor=None) -> DriverSource:
    """Open a driver for a model of semantic `kind` (see module docstring); checks the kind.

    fps overrides the frame rate of keypoint files and image folders.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: driver not found")
    if is_clip_dir(path):
        return _clip_driver(path, kind, fps)
    spec = get_kind(kind)
    if path.is_file() and path.suffix.lower() in (".jsonl", ".json"):
        if not spec.keypoints:
            raise UserError(f"{path}: keypoint driver cannot drive a {kind!r} checkpoint")
        if path.suffix.lower() == ".json":
            raise UserError(f"{path}: a single OpenPose .json is one frame; pass its folder")
        clip = _sibling_meta(path)
        size, n = _keypoint_canvas(iter_jsonl(path), str(path))
        if clip is not None:
            size = clip.size
        rate = fps or (clip.fps if clip is not None else None)
        return DriverSource(path, "jsonl", kind, rate or DEFAULT_KEYPOINT_FPS, size, n,
                            fps_assumed=rate is None, _iter=lambda: iter_jsonl(path),
                            timing=clip.timing if clip is not None and fps is None else None)
    if path.is_dir() and any(path.glob("*.json")):
        if not spec.keypoints:
            raise UserError(f"{path}: keypoint driver cannot drive a {kind!r} checkpoint")
        seq = list_sequence(path, (".json",))
        size, _ = _keypoint_canvas((read_openpose_json(f) for f in seq.files), str(path))
        slots = seq.slots
        warn_missing(f"driver {path}", seq.missing, "the previous frame is held in each place "
                     "(frames are not closed up)")
        return DriverSource(path, "openpose", kind, fps or DEFAULT_KEYPOINT_FPS, size,
                            len(slots), fps_assumed=fps is None, missing=seq.missing,
                            _iter=lambda: (read_openpose_json(f) if f is not None else []
                                           for f in slots))
    return _video_driver(path, kind, fps, extractor)


def _clip_driver(path: Path, kind: str, fps: float | None) -> DriverSource:
    clip = Clip(path)
    if clip.kind != kind:
        raise UserError(f"{path}: driver clip is of kind {clip.kind!r} but the checkpoint "
                        f"expects {kind!r}")
    if get_kind(kind).keypoints:
        if not clip.has_keypoints:
            raise UserError(f"{path}: clip has no keypoints.jsonl")
        kp_file = path / "keypoints.jsonl"

        def frames():
            n = 0
            for n, frame in enumerate(iter_jsonl(kp_file), 1):
                yield frame
            if n != len(clip):
                raise UserError(f"{kp_file}: {n} frames, meta.json says {len(clip)}")
    else:
        def frames():
            for i in range(len(clip)):
                yield clip.semantic(i)
    timing = clip.timing if fps is None else None
    return DriverSource(path, "clip", kind, fps or clip.fps, clip.size, len(clip),
                        _iter=frames, timing=timing)


def _video_driver(path: Path, kind: str, fps: float | None, extractor) -> DriverSource:
    from v2vtool.io.video import VIDEO_EXTS, open_video

    if path.is_file() and path.suffix.lower() in IMAGE_EXTS:
        raise UserError(f"{path}: a single image cannot drive a video (pass a video, a frame "
                        "folder, a clip dir or keypoints)")
    from v2vtool.semantics.smoothing import smooth_keypoints

    spec = get_kind(kind)
    mode = spec.input_mode
    with open_video(path, fps=fps, mode=mode) as reader:
        size, count, missing = reader.size, reader.frame_count, reader.missing
        rotation = reader.orientation.describe()
        # --fps overrides a video's own timing too (as before), else its timestamps count
        timing = reader.timing if fps is None else Timing.constant(count, fps)
    rate = timing.fps
    warn_missing(f"driver {path}", missing, "the previous frame is held in each place (frames "
                 "are not closed up)")

    def frames():
        """Decode + extract one frame at a time; keypoints smoothed as in extract (zero-lag
        centred fits: a frame comes out a few frames after it went in)."""
        ext = extractor or get_extractor(kind, static=False)
        try:
            with open_video(path, fps=fps, mode=mode) as r:
                if not spec.keypoints:
                    for img in r:
                        yield ext(img).semantic
                else:
                    found = ((ext.detect(img)[0], None) for img in r)
                    for people, _ in smooth_keypoints(found, size[1], rate):
                        yield people
        finally:
            if extractor is None:
                ext.close()

    audio = path if path.is_file() and path.suffix.lower() in VIDEO_EXTS and _has_audio(path) \
        else None
    return DriverSource(path, "video", kind, rate, size, count, audio_from=audio, _iter=frames,
                        timing=timing, missing=missing, rotation=rotation)


def _has_audio(path: Path) -> bool:
    import av

    try:
        with av.open(str(path), "r") as c:
            return bool(c.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError):
        return False
