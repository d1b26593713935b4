"""`extract_clip`: one video (or image folder / image / label maps) -> one clip directory.

The library function behind `v2v extract`. Streams frames: decode (on its own thread, a few
frames ahead) -> detect -> smooth (keypoint kinds; zero-lag centred fits by default, which hold
back `half_window` frames) -> render -> write (PNG encoding on its own thread), so memory does
not grow with the video's length. The clip
directory (io/clipdir.py) is written to a temporary name and renamed at the end: a failure at
any frame (e.g. a truncated video) leaves nothing behind. Frames where nothing is detected are
kept (OpenPose's `"people": []`, i.e. no confident point) and counted in meta.json's
`frames_detected` / `detection_rate`. Frames are read upright (a phone video's display matrix
is applied and recorded as "rotation"); meta.json's "fps" is the real rate (a variable-frame-
rate video's mean, with "frame_times" recording each frame's time); indices missing from a
numbered frame folder are held (one warning line, "missing_frames").

`extract_many` runs several inputs, in parallel (threads by default, or processes) when
workers > 1.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from v2vtool.errors import UserError
from v2vtool.io.clipdir import ClipWriter, frame_name
from v2vtool.io.png import write_png
from v2vtool.io.prefetch import Prefetch
from v2vtool.io.sequence import missing_record, warn_missing
from v2vtool.io.video import open_video
from v2vtool.semantics.extractor_base import Extractor
from v2vtool.semantics.kinds import KINDS, get_extractor, get_kind
from v2vtool.semantics.parallel import detect_stream
from v2vtool.semantics.segmentation import colorize
from v2vtool.semantics.smoothing import SmoothingSettings, smooth_keypoints
from v2vtool.workers import init_interruptible_worker, stop_if_interrupted

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (frames done, frames total)


def output_dir(src: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None
               ) -> Path:
    """DIR/<input stem>/ (a folder input keeps its name)."""
    src = Path(src)
    return Path(out_dir) / (name or (src.name if src.is_dir() else src.stem))


def extract_clip(src: str | os.PathLike, out_dir: str | os.PathLike, kind: str,
                 smooth: bool = True, overwrite: bool = False, *, name: str | None = None,
                 fps: float | None = None, images: str | os.PathLike | None = None,
                 max_frames: int | None = None, extractor: Extractor | None = None,
                 smoothing: SmoothingSettings = SmoothingSettings(),
                 extractor_options: dict | None = None, threads: int = 1,
                 progress: Progress | None = None) -> Path:
    """Extract `kind` semantics from `src` into the clip directory `out_dir/<stem>/`.

    src: a video, a folder of PNG/JPG frames or one image (for kind "segmentation": label maps
    of class ids, as PNG folder / image / gray video). fps: frame rate for image inputs.
    images: (segmentation) the RGB frames that go with the label maps; without them the clip's
    frames are the palette view of the ids. max_frames: stop after this many frames.
    extractor: reuse an already built extractor (mediapipe tracking state carries over, so
    use it for consecutive frames of one video only). extractor_options: keyword arguments of
    `get_extractor` (e.g. {"hands_face": False} for body-only pose). threads: detectors run on
    this many threads, frames dealt round-robin (semantics/parallel.py; keypoint kinds).
    Returns the clip directory. Raises UserError for bad input (nothing is left behind).
    """
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    src = Path(src)
    target = output_dir(src, out_dir, name)
    seg = get_kind(kind).input_mode == "ids"  # label maps: class ids (+ optional --images)
    reader = open_video(src, fps=fps, mode=get_kind(kind).input_mode)
    if target.exists() and not overwrite:
        reader.close()
        raise UserError(f"{target}: output exists (use --overwrite to replace it)")
    total = reader.frame_count if max_frames is None else min(max_frames, reader.frame_count)
    timing = reader.timing.head(total)  # a video: one demux pass for its frames' timestamps
    warn_missing(str(src), reader.missing, "the previous frame is held in each place (frames "
                 "are not closed up)")
    pictures = None
    if seg and images is not None:
        try:
            pictures = open_video(images, fps=timing.fps)
        except UserError:
            reader.close()
            raise
        if pictures.frame_count < total:
            reader.close()
            pictures.close()
            raise UserError(f"{images}: {pictures.frame_count} frames, fewer than the "
                            f"{total} label maps of {src}")
    own = extractor is None
    if not own and threads > 1:
        raise ValueError("threads > 1 builds its own extractors; don't pass `extractor`")
    extractors: list[Extractor] = []
    with reader:
        try:
            if own:
                n = threads if (get_kind(kind).keypoints and reader.frame_count > 1) else 1
                for _ in range(max(1, n)):
                    extractors.append(get_extractor(kind, static=reader.frame_count == 1,
                                                    **(extractor_options or {})))
            else:
                extractors.append(extractor)
            extractor = extractors[0]
            with ClipWriter(target, kind, timing.fps, overwrite=overwrite) as writer:
                t0 = time.perf_counter()  # frame loop only (model start-up excluded)
                ids = _run(reader, pictures, extractors, writer, total, smooth, smoothing,
                           progress, timing.fps)
                seconds = time.perf_counter() - t0
                meta = dict(source=str(src), source_frame_count=reader.frame_count,
                            smoothing=asdict(smoothing) if (smooth and extractor.has_keypoints)
                            else None, processing={"seconds": round(seconds, 3),
                                                   "fps": round(writer.count / seconds, 2)},
                            **extractor.describe())
                if len(extractors) > 1:
                    meta["settings"]["detector_threads"] = len(extractors)
                meta.update(_timing_meta(reader, timing, writer.count))
                if seg:
                    meta["frames_source"] = str(images) if pictures is not None else "palette"
                    meta["class_ids"] = sorted(int(i) for i in ids)
                return writer.close(**meta)
        finally:
            if pictures is not None:
                pictures.close()
            if own:
                for ex in extractors:
                    ex.close()


def _timing_meta(reader, timing, count: int) -> dict:
    """meta.json's record of how the frames were read: VFR (+ each frame's time), the rate
    the source declared when it differs from the real one, the rotation applied, held
    indices of a numbered frame folder."""
    meta: dict = {"vfr": timing.vfr}
    if timing.vfr:
        meta["frame_times"] = [round(t, 6) for t in timing.head(count).times]
    if abs(timing.fps - reader.fps) > 1e-6:
        meta["declared_fps"] = reader.fps
    if reader.orientation.describe() is not None:
        meta["rotation"] = reader.orientation.describe()
    if reader.missing:
        meta["missing_frames"] = missing_record(reader.missing)
    return meta


class _BackgroundWriter:
    """Runs `ClipWriter.add` (PNG encoding, which releases the GIL) on one background thread,
    so that encoding overlaps with decoding and detection. The queue is bounded (memory stays
    flat); frames keep their order; an error in the thread is re-raised in the caller."""

    def __init__(self, writer: ClipWriter, depth: int = 8):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="clip-writer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.writer.add(*item[0], **item[1])
                except BaseException as exc:  # re-raised in the main thread
                    self.error = exc

    def add(self, *args, **kwargs) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((args, kwargs))

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _run(reader, pictures, extractors: list[Extractor], clip_writer: ClipWriter, total: int,
         smooth: bool, smoothing: SmoothingSettings, progress: Progress | None, fps: float
         ) -> set:
    """The frame loop. Returns the class ids seen (segmentation; empty otherwise)."""
    writer = _BackgroundWriter(clip_writer)
    try:
        if extractors[0].has_keypoints:
            _keypoint_loop(reader, extractors, writer, total, smooth, smoothing, progress, fps)
            return set()
        return _map_loop(reader, pictures, extractors[0], writer, total, progress)
    finally:
        writer.finish()


def _keypoint_loop(reader, extractors: list[Extractor], writer: _BackgroundWriter, total: int,
                   smooth: bool, smoothing: SmoothingSettings, progress: Progress | None,
                   fps: float) -> None:
    """pose / face: detect (maybe on several threads) -> smooth -> render -> write."""
    ex = extractors[0]
    with Prefetch(itertools.islice(reader, total)) as frames, \
            contextlib.closing(detect_stream(frames, extractors)) as stream:
        found = ((keypoints, (frame, mask)) for frame, keypoints, mask in stream)
        if smooth:
            found = smooth_keypoints(found, reader.size[1], fps, smoothing)
        for i, (keypoints, (frame, mask)) in enumerate(found):
            semantic = ex.render(keypoints, (frame.shape[1], frame.shape[0]))
            writer.add(frame, keypoints=keypoints, semantic=semantic, mask=mask)
            if progress is not None:
                progress(i + 1, total)


def _map_loop(reader, pictures, extractor: Extractor, writer: _BackgroundWriter, total: int,
              progress: Progress | None) -> set:
    """edges / segmentation: one map per frame. Returns the class ids seen (segmentation)."""
    pic_iter = iter(pictures) if pictures is not None else None
    ids_seen: set = set()
    preview = None
    if get_kind(extractor.kind).one_hot:  # palette views of the ids, for people to look at
        preview = writer.writer.tmp / "semantics_color"
        preview.mkdir()
    with Prefetch(itertools.islice(reader, total)) as frames:
        for i, frame in enumerate(frames):
            det = extractor(frame)
            rgb = frame
            if preview is not None:
                ids_seen.update(np.unique(det.semantic).tolist())
                view = colorize(det.semantic)
                write_png(preview / frame_name(i), view)
                rgb = next(pic_iter) if pic_iter is not None else view
                if rgb.shape[:2] != det.semantic.shape:
                    raise UserError(f"{pictures.path}: frame size {rgb.shape[1]}x{rgb.shape[0]} "
                                    f"differs from the label maps' {reader.size}")
            writer.add(rgb, semantic=det.semantic, mask=det.mask)
            if progress is not None:
                progress(i + 1, total)
    return ids_seen


def _worker(args: tuple) -> tuple[str, Path | None, str | None]:
    """Process-pool entry: returns (src, clip dir, error message or None)."""
    src, out_dir, kind, smooth, overwrite, fps, queue, index, options, threads = args

    def report(done: int, total: int) -> None:  # once per frame
        stop_if_interrupted()  # Ctrl-C: this clip's writer removes its temporary
        if queue is not None:
            queue.put((index, done, total))
    stop_if_interrupted()
    return _one(src, out_dir, kind, smooth, overwrite, fps, report, options, threads)


def _one(src: str, out_dir, kind: str, smooth: bool, overwrite: bool, fps: float | None,
         progress: Progress | None, options: dict | None = None, threads: int = 1,
         ) -> tuple[str, Path | None, str | None]:
    try:
        return src, extract_clip(src, out_dir, kind, smooth, overwrite, fps=fps,
                                 extractor_options=options, threads=threads,
                                 progress=progress), None
    except UserError as exc:
        return src, None, str(exc)


def extract_many(sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike, kind: str,
                 smooth: bool = True, overwrite: bool = False, workers: int = 1,
                 fps: float | None = None,
                 progress: Callable[[int, int, int], None] | None = None,
                 parallel: str = "threads", extractor_options: dict | None = None,
                 ) -> list[tuple[str, Path | None, str | None]]:
    """Extract several inputs, `workers` at a time; with fewer inputs than workers, each input
    gets `workers // len(sources)` detector threads (frames dealt round-robin).

    parallel: "threads" (default: mediapipe inference, video decoding and PNG encoding release
    the GIL, so threads use several cores without the ~2-3 s start-up of a new process that
    imports mediapipe) or "processes" (spawned; full isolation). progress(index, done, total) is
    called per frame of input `index`. Returns, per input in order, (source, clip dir or None,
    error message or None): one bad input does not stop the others (their clips are complete;
    the bad one leaves nothing).
    """
    if parallel not in ("threads", "processes"):
        raise ValueError(f"parallel must be 'threads' or 'processes', not {parallel!r}")
    sources = [str(s) for s in sources]

    def cb(i: int) -> Progress | None:
        return (lambda d, t: progress(i, d, t)) if progress else None

    if workers <= 1 or len(sources) == 1:
        threads = max(1, workers) if len(sources) == 1 else 1
        return [_one(s, out_dir, kind, smooth, overwrite, fps, cb(i), extractor_options,
                     threads) for i, s in enumerate(sources)]
    per_clip = max(1, workers // len(sources))
    if parallel == "threads":
        with ThreadPoolExecutor(max_workers=min(workers, len(sources))) as pool:
            futures = [pool.submit(_one, s, out_dir, kind, smooth, overwrite, fps, cb(i),
                                   extractor_options, per_clip) for i, s in enumerate(sources)]
            return [f.result() for f in futures]
    ctx = get_context("spawn")  # mediapipe graphs and progress threads don't survive fork
    manager = ctx.Manager() if progress else None
    queue = manager.Queue() if manager is not None else None
    out: dict[int, tuple] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(sources)), mp_context=ctx,
                                 initializer=init_interruptible_worker) as pool:
            futures = {pool.submit(_worker, (s, str(out_dir), kind, smooth, overwrite, fps, queue,
                                             i, extractor_options, per_clip)): i
                       for i, s in enumerate(sources)}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    _drain(queue, progress)
                    for f in done:
                        out[futures[f]] = f.result()
            except BaseException:  # Ctrl-C: jobs not started are dropped, running ones stop
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            _drain(queue, progress)
    finally:
        if manager is not None:
            manager.shutdown()
    return [out[i] for i in range(len(sources))]


def _drain(queue, progress) -> None:
    if queue is None or progress is None:
        return
    while not queue.empty():
        progress(*queue.get_nowait())
