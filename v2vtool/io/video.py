"""Streaming video I/O: read any video / image folder / single image, write H.264 mp4 and PNG dirs.

Reading (`open_video`): mp4/avi/mov/webm/mkv (PyAV), a folder of PNG/JPG frames (natural name
order, `io/sequence.py`), or a single image (one frame). `VideoReader` yields (H, W, 3) uint8 RGB
frames one at a time, so memory does not grow with the video's length. Every video's frames
come out upright (display matrix or `rotate` tag, `io/orientation.py`; `.size` is the upright
size) and `.timing` gives their real timestamps (variable frame rate kept, `io/timing.py`).
Bad input (missing, not a video, corrupt or truncated, zero frames) raises `UserError` naming
the file.

Writing (`VideoWriter`): H.264 (libx264) yuv420p mp4 at the given fps (or at the timestamps of
a `Timing`: VFR output), odd sizes padded to even by repeating the last row/column, written to
a temporary name and renamed on success (nothing is left on error). `audio_from=` copies the
audio stream of a source file into the output. `write_png_dir` writes frames as a PNG folder,
atomically.
"""
from __future__ import annotations

import contextlib
import logging
import os
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType
from av.video.reformatter import VideoReformatter
from PIL import Image

from v2vtool.errors import UserError, os_error_message
from v2vtool.io.atomic import _tmp_name, atomic_dir, commit_pending, make_parents, remove_created
from v2vtool.io.image import image_errors, image_to_rgb
from v2vtool.io.orientation import Orientation, from_display_matrix, from_rotate_tag
from v2vtool.io.prefetch import Prefetch  # noqa: F401  (re-exported: callers import it here)
from v2vtool.io.sequence import list_sequence
from v2vtool.io.timing import Timing

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
DEFAULT_IMAGE_FPS = 25.0  # frame rate assumed for image folders / single images
_AV_ERRORS = (av.error.FFmpegError, ValueError, IndexError, OSError)
_TIME_BASE = Fraction(1, 90000)  # timestamps of VFR output: exact for every common frame rate


class VideoReader:
    """A streaming frame source. Iterate for upright (H, W, 3) uint8 RGB frames (or (H, W)
    uint8 ids with `mode="ids"`); a context manager.

    size: upright (w, h); fps: the declared frame rate; frame_count; path; timing: when each
    frame is shown (`io.timing.Timing`: timestamps, VFR or not, the real mean rate);
    orientation: the rotation applied to every frame (`io.orientation`); missing: indices of a
    numbered frame folder that are absent (the previous frame is yielded in their place)."""

    path: Path
    fps: float
    size: tuple[int, int]
    frame_count: int
    orientation: Orientation = Orientation()
    missing: tuple[int, ...] = ()

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    @property
    def timing(self) -> Timing:
        return Timing.constant(self.frame_count, self.fps)

    def __len__(self) -> int:
        return self.frame_count

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.path)!r}, fps={self.fps:.3f}, size={self.size}, "
                f"frames={self.frame_count})")


def _load_image(path: Path, mode: str) -> np.ndarray:
    with image_errors(path), Image.open(path) as im:
        if mode == "ids":
            if im.mode in ("L", "P"):
                return np.asarray(im).copy()
            if im.mode in ("I;16", "I"):
                arr = np.asarray(im)
                if arr.max(initial=0) > 255:
                    raise UserError(f"{path}: class ids above 255 are not supported")
                return arr.astype(np.uint8)
            arr = np.asarray(im.convert("RGB"))
            if not (np.array_equal(arr[..., 0], arr[..., 1])
                    and np.array_equal(arr[..., 0], arr[..., 2])):
                raise UserError(f"{path}: colour image, expected a label map of class ids "
                                "(8-bit gray or palette PNG)")
            return arr[..., 0].copy()
        return image_to_rgb(im, str(path))


class ImageReader(VideoReader):
    """A folder of PNG/JPG frames (natural name order) or a single image file.

    slots: one file per frame, None for an index missing from a numbered sequence (the
    previous frame is repeated there, so frame i stays at i / fps)."""

    def __init__(self, path: Path, slots: list[Path | None], fps: float, mode: str = "rgb",
                 missing: tuple[int, ...] = ()):
        self.path, self.slots, self.fps, self.mode = path, slots, float(fps), mode
        self.missing = tuple(missing)
        first = _load_image(slots[0], mode)
        self.size = (first.shape[1], first.shape[0])
        self.frame_count = len(slots)

    def __iter__(self) -> Iterator[np.ndarray]:
        img = None
        for f in self.slots:
            if f is None:  # a missing index: hold the previous frame
                yield img.copy()
                continue
            img = _load_image(f, self.mode)
            if (img.shape[1], img.shape[0]) != self.size:
                raise UserError(f"{f}: frame size {img.shape[1]}x{img.shape[0]} differs from the "
                                f"first frame's {self.size[0]}x{self.size[1]}")
            yield img


class AVReader(VideoReader):
    """A video file decoded with PyAV, one frame at a time (threaded decoding), turned upright
    by its display matrix / rotate tag, with its frames' real timestamps (`timing`)."""

    def __init__(self, path: Path, mode: str = "rgb"):
        self.path, self.mode = path, mode
        self._container = None
        self._iterated = False
        self._stamps: list[float | None] | None = None
        try:
            self._container = av.open(str(path), "r")
            streams = self._container.streams.video
            if not streams:
                raise UserError(f"{path}: no video frames (no video stream in the file)")
            stream = streams[0]
            if stream.codec_context is None or not stream.codec_context.name:
                raise UserError(f"{path}: unsupported video codec")
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps = float(rate) if rate else DEFAULT_IMAGE_FPS
            w, h = stream.codec_context.width, stream.codec_context.height
            if not w or not h:
                raise UserError(f"{path}: video stream has no frame size (corrupt header)")
            self.orientation = self._probe_orientation(stream)
            self.size = self.orientation.size((int(w), int(h)))
            self.frame_count = int(stream.frames) or len(self._packet_times())
        except UserError:
            self.close()
            raise
        except _AV_ERRORS as exc:
            self.close()
            raise UserError(f"{path}: not a readable video: corrupt, truncated or not a video "
                            f"({_short(exc)})") from None
        if self.frame_count <= 0:
            self.close()
            raise UserError(f"{path}: video has zero frames")

    def _probe_orientation(self, stream) -> Orientation:
        """The display matrix (side data of the decoded frames), else the `rotate` tag.
        A first frame that does not decode leaves the error to the frame loop."""
        where = str(self.path)
        try:
            with av.open(where, "r") as c:
                for frame in c.decode(c.streams.video[0]):
                    matrix = frame.side_data.get(SideDataType.DISPLAYMATRIX)
                    if matrix is not None:
                        return from_display_matrix(np.frombuffer(bytes(matrix), np.int32), where)
                    break
        except _AV_ERRORS:
            pass
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
        return from_rotate_tag(tag, where)

    def _packet_times(self) -> list[float | None]:
        """Presentation times (s) of the video packets, without decoding (one demux pass;
        also the frame count of containers without one in the header: mkv / webm)."""
        if self._stamps is None:
            stamps: list[float | None] = []
            with av.open(str(self.path), "r") as c:
                for p in c.demux(c.streams.video[0]):
                    if p.size <= 0 or p.is_discard:
                        continue
                    stamps.append(None if p.pts is None else float(p.pts * p.time_base))
            self._stamps = stamps
        return self._stamps

    @cached_property
    def timing(self) -> Timing:
        """The frames' timestamps (pts x time_base, from the first frame). Without usable
        timestamps (or when the file cannot be demuxed): times from the declared rate."""
        try:
            stamps = self._packet_times()
        except _AV_ERRORS:
            stamps = []
        if not stamps:
            return Timing.constant(self.frame_count, self.fps)
        return Timing.from_stamps(stamps, self.fps)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._container is None:
            raise UserError(f"{self.path}: reader is closed")
        if self._iterated:  # a second pass: start again from the beginning
            self._container.close()
            self._container = av.open(str(self.path), "r")
        self._iterated = True
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        fmt = "gray" if self.mode == "ids" else "rgb24"
        upright = self.orientation.apply
        # one reformatter for all frames: its cached swscale context saves ~0.4 ms per frame
        # over frame.to_ndarray(format=...), which builds a new context for every frame
        reformatter = VideoReformatter()
        n = 0
        try:
            for frame in self._container.decode(stream):
                n += 1
                yield upright(reformatter.reformat(frame, format=fmt).to_ndarray())
        except _AV_ERRORS as exc:
            raise UserError(f"{self.path}: corrupt or truncated video after {n} frames "
                            f"({_short(exc)})") from None
        if n == 0:
            raise UserError(f"{self.path}: no decodable frames (truncated or corrupt video)")
        if n < self.frame_count * 0.9 and int(stream.frames):
            raise UserError(f"{self.path}: truncated video: decoded {n} of the "
                            f"{self.frame_count} frames its header promises")

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _short(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return msg.splitlines()[0][:160]


def open_video(path: str | os.PathLike, fps: float | None = None, mode: str = "rgb",
               ) -> VideoReader:
    """Open a video file, a folder of PNG/JPG frames or a single image for streaming reads.

    fps: frame rate for image folders / single images (default 25; videos use their own).
    mode: "rgb" -> frames (H, W, 3) uint8 RGB; "ids" -> (H, W) uint8 (label maps of class ids:
    palette/gray PNGs read as raw indices, videos decoded as their luma plane).
    """
    if mode not in ("rgb", "ids"):
        raise ValueError(f"mode must be 'rgb' or 'ids', not {mode!r}")
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    if p.is_dir():
        seq = list_sequence(p, IMAGE_EXTS)
        if not seq.files:
            raise UserError(f"{p}: folder has no PNG/JPG frames")
        return ImageReader(p, seq.slots, fps or DEFAULT_IMAGE_FPS, mode, seq.missing)
    if p.stat().st_size == 0:
        raise UserError(f"{p}: empty file")
    if p.suffix.lower() in IMAGE_EXTS:
        return ImageReader(p, [p], fps or DEFAULT_IMAGE_FPS, mode)
    return AVReader(p, mode)


def read_frames(path: str | os.PathLike, limit: int | None = None) -> list[np.ndarray]:
    """Convenience: the first `limit` frames (all if None) as a list. Loads them into memory."""
    out = []
    with open_video(path) as reader:
        for frame in reader:
            out.append(frame)
            if limit is not None and len(out) >= limit:
                break
    return out


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class VideoWriter:
    """Write (H, W, 3) uint8 RGB frames to an H.264 yuv420p mp4, atomically.

    The output appears under `path` only when the writer closes without error. Odd widths /
    heights are padded to even by repeating the last column / row. `audio_from`: a media file
    whose first audio stream is copied (or re-encoded to AAC if mp4 can't hold its codec)
    into the output, cut to the video's duration.
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio_from: str | os.PathLike | None
                 = None, crf: int = 18, preset: str = "medium", timing: Timing | None = None):
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.rate = Fraction(self.fps).limit_denominator(1001)
        self.timing = timing  # frame i shown at timing.time(i) (VFR output); else at i / fps
        self._last_pts = -1
        self.audio_from = Path(audio_from) if audio_from is not None else None
        if self.audio_from is not None and not self.audio_from.is_file():
            raise UserError(f"{self.audio_from}: no such file (audio source)")
        self.crf, self.preset = crf, preset
        self.count = 0
        self.size: tuple[int, int] | None = None
        self._tmp = _tmp_name(self.path)
        self._container = None
        self._stream = None
        self._audio_src = None
        self._audio_packets = None
        self._pending = None
        self._finished = False
        self._created = make_parents(self.path)

    def _open(self, w: int, h: int) -> None:
        try:
            self._container = av.open(str(self._tmp), "w", format="mp4")
        except OSError as exc:
            raise UserError(os_error_message(exc, self.path)) from None
        s = self._container.add_stream("libx264", rate=self.rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(self.crf), "preset": self.preset}
        if self.timing is not None:
            s.time_base = s.codec_context.time_base = _TIME_BASE
            # with B-frames and irregular timestamps mp4 reports a duration short by the
            # B-frame delay (measured: 1.17 s for frames spanning 1.3 s; 1.41 s without)
            s.options["bf"] = "0"
        self._stream = s
        if self.audio_from is not None:
            self._open_audio()

    def write(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (all frames must share one size)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        rgb = _even(rgb)
        h, w = rgb.shape[:2]
        if self._container is None:
            self.size = (w, h)
            self._open(w, h)
        elif (w, h) != self.size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self.size}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if self.timing is None:
            frame.pts = self.count
            frame.time_base = 1 / self.rate
        else:  # the source's timestamps, strictly increasing
            frame.pts = self._last_pts = max(round(self.timing.time(self.count) / _TIME_BASE),
                                             self._last_pts + 1)
            frame.time_base = _TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.count += 1
            self._mux_audio_until(self._time(self.count))
        except OSError as exc:  # disk full, ... (PyAV's errors are OSErrors too)
            raise UserError(os_error_message(exc, self.path)) from None

    def _time(self, i: int) -> float:
        """When frame i starts (the end of frame i - 1), in seconds."""
        return self.timing.time(i) if self.timing is not None else i / self.fps

    def _open_audio(self) -> None:
        """Add the audio stream (before the header is written) and a packet source for it."""
        try:
            src = av.open(str(self.audio_from), "r")
        except _AV_ERRORS as exc:
            raise UserError(f"{self.audio_from}: not readable as audio source ({_short(exc)})"
                            ) from None
        if not src.streams.audio:
            src.close()
            log.warning("%s has no audio stream; writing video without audio", self.audio_from)
            return
        ain = src.streams.audio[0]
        self._audio_src = src
        try:  # stream copy when mp4 can hold the codec (aac, mp3, opus, ...)
            aout = self._container.add_stream_from_template(ain)
            self._audio_packets = self._copied(src, ain, aout)
        except _AV_ERRORS:
            aout = self._container.add_stream("aac", rate=ain.rate or 48000)
            self._audio_packets = self._transcoded(src, ain, aout)
        self._pending = None

    @staticmethod
    def _copied(src, ain, aout):
        for packet in src.demux(ain):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            packet.stream = aout
            yield t, packet

    @staticmethod
    def _transcoded(src, ain, aout):
        for frame in src.decode(ain):
            t = float(frame.time or 0.0)
            frame.pts = None
            for packet in aout.encode(frame):
                yield t, packet
        for packet in aout.encode(None):
            yield float("inf"), packet

    def _mux_audio_until(self, t_end: float) -> None:
        """Interleave audio packets that start before `t_end` seconds (streaming, no buffering)."""
        if self._audio_packets is None:
            return
        while True:
            if self._pending is None:
                self._pending = next(self._audio_packets, None)
                if self._pending is None:
                    self._audio_packets = None
                    return
            t, packet = self._pending
            if t >= t_end:
                return
            self._container.mux(packet)
            self._pending = None

    def finish(self) -> None:
        """Flush and complete the file under its temporary name (`commit` moves it into
        place), so several outputs can be completed first and then all renamed."""
        if self._finished:
            return
        if self._container is None:
            raise ValueError(f"{self.path}: no frames were written")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._mux_audio_until(self._time(self.count))
            self._container.close()
            self._container = None
        except OSError as exc:
            self.abort()
            raise UserError(os_error_message(exc, self.path)) from None
        self._finished = True

    def commit(self) -> Path:
        self.finish()
        path = commit_pending(self, lambda: os.replace(self._tmp, self.path))
        self.abort()  # closes the audio source
        return path

    def close(self) -> Path:
        """Flush, add audio if asked, and move the file into place. Returns the path."""
        try:
            self.finish()
            return self.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the partial output (nothing appears under `path`, and parent folders this
        writer created are removed again)."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        if self._audio_src is not None:
            self._audio_src.close()
            self._audio_src = None
        self._audio_packets = None
        if self._tmp.exists():
            self._tmp.unlink()
        remove_created(self._created)
        self._created = []

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_png_dir(folder: str | os.PathLike, frames: Iterable[np.ndarray],
                  overwrite: bool = False, compress_level: int = 1) -> int:
    """Write frames ((H, W, 3) or (H, W) uint8) as folder/000000.png, ... atomically.

    Returns the number of frames written. An existing folder is an error unless `overwrite`.
    """
    from v2vtool.io.guard import check_replaceable, is_marked_output, write_marker

    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise UserError(f"{folder}: output exists (use --overwrite to replace it)")
    check_replaceable(folder, is_marked_output, "a PNG folder written by v2v")
    n = 0
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        write_marker(tmp, "v2v-frames/1", "write_png_dir")
        for frame in frames:
            Image.fromarray(np.asarray(frame, np.uint8)).save(tmp / f"{n:06d}.png",
                                                              compress_level=compress_level)
            n += 1
    return n
