"""`synthesize`: example images + a driver -> an H.264 mp4 of the target (the library behind
`v2v synthesize`).

Framing (`synthesis/framing.py`): "full" (default for drivers with pictures: a video, a frame
folder, a clip dir with frames) writes the driver's framing and aspect at the driver's
resolution capped by max_height (or at `size`), the person rendered at the model's resolution
in the driver's crop box and scaled up into it, over a background plate of the examples' scene;
"crop" (default for keypoint-only drivers) writes the model's person view resized to `size`
(default: the model's size).

Outputs (all atomic; a failed run leaves none of them):
  OUT.mp4            the generated video, one frame per driver frame, with the driver's timing
                     (a VFR driver's timestamps, else its fps; driver audio copied if present);
                     with side_by_side: driver semantics | chosen example | output panels
                     (when retargeted, the driver before retargeting is drawn dimmed under
                     the retargeted skeleton, so the normalisation is visible)
  OUT.json           sidecar: checkpoint + hash, resolved config, K, seed, timing, held frames,
                     the view (framing, crop box in driver px, model / output size, placement)
  attention_maps     a video (.mp4/.mov/.mkv) or PNG folder: which example each output pixel
                     comes from (keypoint-prior models: the K examples framed in colours + the
                     output tinted by the chosen example's colour, gray = background plate), or
                     the K examples tinted by their attention per frame (paper Fig. 7c)
  frames_dir         the output frames as PNGs
They commit as one unit (`io.atomic.commit_together`, the sidecar last); temporaries a killed
earlier run left at the same paths are removed first. A checkpoint whose model asks for more
than LARGE_MODEL_PIXELS per frame is refused unless `allow_large`.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from v2vtool import __version__
from v2vtool.device import resolve_device
from v2vtool.errors import UserError
from v2vtool.io.atomic import commit_together, remove_stale
from v2vtool.io.sequence import missing_record
from v2vtool.resources import find_weights
from v2vtool.synthesis.outputs import (PendingText, PngDirSink, open_sink, sidecar_text,
                                       side_by_side as sbs_panel)
from v2vtool.data.view import ViewRecord, full_output_size
from v2vtool.synthesis.framing import make_framing
from v2vtool.synthesis.sources import load_examples, open_driver
from v2vtool.synthesis.stream import Synthesizer

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "v2v-synthesis/1"
# Model frames above this many pixels (1024x1024) need allow_large (`--allow-large`): cost
# grows with the pixels (2048x2048 ran at 0.1 frame/s), and a hand-edited config.json can ask
# for any size.
LARGE_MODEL_PIXELS = 1024 * 1024
Progress = Callable[[int, "int | None", float], None]  # (done, total, frames per second)


@dataclass
class SynthesisResult:
    out: Path
    sidecar: Path
    frames: int
    fps: float  # output frame rate (= the driver's; a VFR driver's mean rate)
    size: tuple[int, int]  # output (w, h)
    k: int
    held_frames: int  # driver frames without a detection, held from the last good one
    seconds: float  # wall time of the streaming loop (decode + semantics + generate + encode)
    throughput_fps: float  # frames / seconds
    generator_fps: float  # frames / time inside generator.step
    setup_seconds: float  # loading, example extraction, prepare (+ finetuning)
    checkpoint: Path
    checkpoint_sha256: str
    retargeted: bool
    background_aligned: bool  # examples taken as frames of the driver's camera (same size)
    attention_maps: Path | None = None
    frames_dir: Path | None = None
    finetune: dict | None = None
    fast_path: dict | None = None  # device, amp, channels_last, compile (+ first-call seconds)
    frame_timing: dict | None = None  # mode (source-timestamps | constant), fps, duration
    implausible_keypoints: int = 0  # driver points > a frame size outside it, read as missing
    framing: str = "crop"  # "full": the driver's framing; "crop": the model's person view
    view: dict | None = None  # the view on record (data.view.ViewRecord.to_dict + blend)


def _input_path(spec: str | os.PathLike) -> Path:
    """The file or folder an example spec / driver reads (CLIPDIR:IDX -> CLIPDIR)."""
    p = Path(spec)
    text = str(spec)
    if p.exists() or ":" not in text:
        return p
    head = text.rpartition(":")[0]
    return Path(head) if head else p


def _check_outputs(out: Path, attention_maps: Path | None, frames_dir: Path | None,
                   inputs: list[tuple[str, Path]]) -> None:
    """Before anything is loaded or written: outputs are distinct, none touches an input,
    and nothing that is not an earlier output of synthesize would be replaced."""
    from v2vtool.io.guard import (check_distinct, check_outputs, check_replaceable,
                                  is_marked_output)
    from v2vtool.synthesis.outputs import VIDEO_SUFFIXES

    if out.suffix.lower() != ".mp4":
        raise UserError(f"{out}: output must be an .mp4 file")
    if out.is_dir():
        raise UserError(f"{out}: is a directory")
    sidecar = out.with_suffix(".json")
    outputs = [("--out", out), ("the sidecar", sidecar), ("--attention-maps", attention_maps),
               ("--frames-dir", frames_dir)]
    check_outputs(outputs, inputs)
    check_distinct(outputs)
    if os.path.lexists(sidecar):
        if sidecar.is_dir() or not _is_sidecar(sidecar):
            raise UserError(f"{sidecar}: exists and is not a sidecar of v2v synthesize; not "
                            "replaced (remove it or choose another --out)")
    for opt, folder in (("--attention-maps", attention_maps), ("--frames-dir", frames_dir)):
        if folder is None:
            continue
        if opt == "--attention-maps" and folder.suffix.lower() in VIDEO_SUFFIXES:
            if folder.is_dir():
                raise UserError(f"{folder}: {opt}: is a directory")
            continue
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder}: {opt}: exists and is not a directory")
        check_replaceable(folder, is_marked_output, "a PNG folder written by v2v synthesize")


def _is_sidecar(path: Path) -> bool:
    import json

    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and str(obj.get("format", "")).startswith("v2v-synthesis/")


def _check_size(size: tuple[int, int] | None) -> None:
    from v2vtool.config_check import MAX_SIDE

    if size is None:
        return
    w, h = size
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise UserError(f"--size {w}x{h}: each side must be in 16..{MAX_SIDE} pixels")
    if w % 2 or h % 2:
        raise UserError(f"--size {w}x{h}: H.264 (yuv420p) needs even sides; use "
                        f"{w - w % 2}x{h - h % 2} or {w + w % 2}x{h + h % 2}")


def _has_pictures(src) -> bool:
    """Whether a driver has a frame of pictures (not only keypoints): full framing's default."""
    from v2vtool.io.clipdir import frame_name

    if src.source == "video":
        return True
    return src.source == "clip" and (Path(src.path) / "frames" / frame_name(0)).is_file()


def _check_framing(framing: str | None, max_height: int) -> None:
    from v2vtool.config_check import MAX_SIDE, check_number
    from v2vtool.data.view import FRAMINGS

    if framing is not None and framing not in FRAMINGS:
        raise UserError(f"--framing {framing!r}: expected one of {', '.join(FRAMINGS)}")
    check_number("--max-height", max_height, 16, MAX_SIDE, integer=True)


def _output_size(framing: str, size, driver_size, model_size, max_height: int
                 ) -> tuple[int, int]:
    """crop: --size or the model's; full: --size or the driver's capped by --max-height."""
    if framing == "crop":
        return tuple(size) if size is not None else model_size
    if size is None:
        return full_output_size(driver_size, max_height)
    dw, dh = driver_size
    if abs(size[0] / size[1] - dw / dh) > 0.01 * dw / dh:
        log.warning("--size %dx%d: not the driver's aspect (%dx%d); the frame is stretched",
                    size[0], size[1], dw, dh)
    return tuple(size)


def synthesize(examples: list[str | os.PathLike], driver: str | os.PathLike,
               out: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
               size: tuple[int, int] | None = None, side_by_side: bool = False,
               attention_maps: str | os.PathLike | None = None, retarget: bool = True,
               finetune: int = 0, frames_dir: str | os.PathLike | None = None, seed: int = 0,
               device: str = "auto", progress: Progress | None = None,
               driver_fps: float | None = None, amp: str = "auto",
               compile: bool = False, allow_large: bool = False, framing: str | None = None,
               max_height: int = 1080) -> SynthesisResult:
    """Generate a video of the examples' target following the driver (module docstring).

    examples: image files or CLIPDIR:IDX[,IDX...] specs (see `sources`); driver: a video, a
    frame folder, a clip dir, a keypoints.jsonl or an OpenPose JSON folder; size: output
    (w, h) (default: the driver's size capped by max_height with full framing, the model's
    with crop framing); framing: "full" or "crop" (None: full for drivers with pictures, crop
    for keypoint-only drivers; module docstring);
    driver_fps: frame rate for keypoint drivers without one (default 30, recorded as assumed).
    amp: "auto" (bf16 where the CPU / GPU computes bf16 natively), "bf16" or "none" (fp32);
    compile: ``torch.compile`` the generator step (the first call's cost is in the sidecar).
    allow_large: run a model of more than LARGE_MODEL_PIXELS per frame.
    """
    from v2vtool.models.checkpoint import load_generator

    t_start = time.perf_counter()
    out = Path(out)
    attention_maps = Path(attention_maps) if attention_maps is not None else None
    frames_dir = Path(frames_dir) if frames_dir is not None else None
    ckpt = Path(checkpoint) if checkpoint is not None else find_weights("default")
    inputs = [("--examples", _input_path(e)) for e in examples]
    inputs += [("--driver", Path(driver)), ("--checkpoint", ckpt)]
    _check_outputs(out, attention_maps, frames_dir, inputs)
    if finetune < 0:
        raise UserError(f"--finetune {finetune}: must be >= 0")
    _check_size(size)
    _check_framing(framing, max_height)
    from v2vtool.config_check import MAX_SEED, check_number

    check_number("--seed", seed, 0, MAX_SEED, integer=True)
    check_number("--fps", driver_fps, 0, 1000, lo_open=True)
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is not None:  # compiled kernels / syncs: this GPU
        torch.cuda.set_device(dev)
    torch.manual_seed(seed)
    _check_cost(ckpt, allow_large)
    loaded = load_generator(ckpt, dev)
    cfg = loaded.config.generator
    src = open_driver(driver, cfg.kind, fps=driver_fps)
    implausible = _drop_implausible(src)
    exs = load_examples([str(e) for e in examples], cfg.kind)
    synth = Synthesizer(loaded.generator, loaded.config, [e.image for e in exs],
                        [e.semantics for e in exs], [e.name for e in exs], finetune=finetune,
                        seed=seed, amp=amp, compile=compile,
                        example_masks=[e.mask for e in exs])
    setup = time.perf_counter() - t_start
    framing = framing or ("full" if _has_pictures(src) else "crop")
    out_size = _output_size(framing, size, src.size, cfg.size, max_height)
    framer = None  # built at the first frame, when the synthesizer's view of the driver is set

    for path in (out, out.with_suffix(".json"), attention_maps, frames_dir):
        if path is not None:  # what a killed earlier run left at these outputs
            remove_stale(path)
    sinks: list = []
    held = n = 0
    gen_seconds = 0.0
    t0 = time.perf_counter()
    # a VFR driver's frames keep their timestamps (one output frame per driver frame, so
    # evaluate's by-index pairing and the audio stay in step); a constant one its rate
    stamps = src.timing if src.timing.vfr else None
    try:
        video = open_sink(out, src.fps, audio_from=src.audio_from, timing=stamps)
        sinks.append(video)
        att_sink = (open_sink(attention_maps, src.fps, timing=stamps)
                    if attention_maps is not None else None)
        frames_sink = PngDirSink(frames_dir) if frames_dir is not None else None
        sinks += [s for s in (att_sink, frames_sink) if s is not None]
        for f in synth.run(src, src.size, retarget, source_semantics=side_by_side):
            if framer is None:
                framer = make_framing(framing, synth, ViewRecord(
                    framing, tuple(src.size), synth.view, out_size), [e.image for e in exs])
            framed = framer.frame(f)
            image = framed.image
            if side_by_side:
                video.write(sbs_panel(framer.semantic(f.semantic), framer.example(f.ref_index),
                                      image, framer.semantic(f.source_semantic)))
            else:
                video.write(image)
            if att_sink is not None:
                att_sink.write(framer.attention(f, framed))
            if frames_sink is not None:
                frames_sink.write(image)
            n += 1
            held += int(f.held)
            gen_seconds += f.step_seconds
            if progress is not None:
                progress(n, src.frame_count, n / max(time.perf_counter() - t0, 1e-9))
        seconds = time.perf_counter() - t0
        if n == 0:
            raise UserError(f"{src.path}: the driver gave no frames")
        for s in sinks:  # every output completed under its temporary name first ...
            s.finish()
        result = SynthesisResult(
            out=out, sidecar=out.with_suffix(".json"), frames=n, fps=src.fps, size=out_size,
            k=synth.k, held_frames=held, seconds=seconds, throughput_fps=n / max(seconds, 1e-9),
            generator_fps=n / max(gen_seconds, 1e-9), setup_seconds=setup,
            checkpoint=loaded.path, checkpoint_sha256=loaded.sha256,
            retargeted=bool(synth.retargeted), background_aligned=synth.background_aligned,
            attention_maps=attention_maps,
            frames_dir=frames_dir,
            finetune=synth.finetune_report.to_dict() if synth.finetune_report else None,
            fast_path=dict(synth.fast.describe(), compile_first_call_seconds=(
                synth.compiled.first_call_seconds if synth.compiled is not None else None)),
            frame_timing=_frame_timing(src, n),
            implausible_keypoints=implausible.points if implausible is not None else 0,
            framing=framing, view=dict(framer.record.to_dict(), blend=framer.blend))
        sinks.append(PendingText(result.sidecar, sidecar_text(_sidecar(
            result, loaded, src, exs, seed, retarget, side_by_side, dev,
            synth.examples.keypoints))))
        commit_together(sinks)  # ... then all renamed into place as one unit (sidecar last)
    except BaseException:
        for s in reversed(sinks):  # last opened first: each removes the folders it created
            with contextlib.suppress(Exception):
                s.abort()
        raise
    if result.implausible_keypoints:
        log.warning("driver %s: %d keypoints more than one frame size outside the frame were "
                    "treated as missing joints", src.path, result.implausible_keypoints)
    if src.frame_count is not None and n != src.frame_count:
        log.warning("driver %s: header said %d frames, %d were generated", src.path,
                    src.frame_count, n)
    return result


def _frame_timing(src, n: int) -> dict:
    """How the output's n frames are timed: "source-timestamps" (a VFR driver's own) or
    "constant" (the driver's fps); its fps (mean) and duration, and the driver's duration."""
    from v2vtool.io.timing import Timing

    vfr = src.timing.vfr
    timing = src.timing.head(n) if vfr else Timing.constant(n, src.fps)
    return {"mode": "source-timestamps" if vfr else "constant", "fps": round(timing.fps, 6),
            "duration": round(timing.duration, 6),
            "driver_duration": round(src.timing.duration, 6)}


def _check_cost(ckpt: Path, allow_large: bool) -> None:
    """Refuse a model above LARGE_MODEL_PIXELS per frame unless allowed (before building it)."""
    from v2vtool.models.checkpoint import load_config, resolve_checkpoint

    cfg = load_config(resolve_checkpoint(ckpt)).generator
    side = math.isqrt(LARGE_MODEL_PIXELS)
    if cfg.width * cfg.height > LARGE_MODEL_PIXELS and not allow_large:
        raise UserError(f"{ckpt}: the model generates {cfg.width}x{cfg.height} frames, above "
                        f"the {side}x{side}-pixel cap for a run without "
                        "--allow-large (cost grows with the pixels: expect seconds to minutes "
                        "per frame); pass --allow-large to run it anyway")


def _drop_implausible(src):
    """Keypoint drivers: points more than one frame size outside the driver's frame read as
    missing joints (`io.keypoints.drop_implausible`), counted for the sidecar."""
    from v2vtool.io.keypoints import ImplausibleCounter
    from v2vtool.semantics.kinds import get_kind

    if not get_kind(src.kind).keypoints:
        return None
    counter = ImplausibleCounter(src.size)
    frames = src._iter
    src._iter = lambda: map(counter, frames())
    return counter


def _sidecar(result: SynthesisResult, loaded, src, exs, seed, retarget, side_by_side, dev,
             keypoints=None) -> dict:
    from v2vtool.io.keypoints import frame_to_dict

    return {
        "format": SIDECAR_FORMAT,
        "v2vtool_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": str(dev),
        "checkpoint": str(loaded.path),
        "checkpoint_sha256": loaded.sha256,
        "checkpoint_ema": loaded.ema,
        "config": loaded.config.to_dict(),
        "seed": seed,
        "k": result.k,
        "examples": [e.name for e in exs],
        "driver": {"path": str(src.path), "source": src.source, "fps": src.fps,
                   "fps_assumed": src.fps_assumed, "size": list(src.size),
                   "audio_copied": src.audio_from is not None, "vfr": src.timing.vfr,
                   "rotation": src.rotation, "missing_frames": missing_record(src.missing)},
        "frame_timing": result.frame_timing,
        # the examples' keypoints in model px: what `v2v evaluate` rebuilds retargeting from
        "retarget": {"requested": retarget, "applied": result.retargeted,
                     "example_keypoints": [frame_to_dict(f) for f in keypoints]
                     if result.retargeted and keypoints else None},
        # "camera": examples have the driver's frame size and are taken as frames of the same
        # static camera, so the background stays where that camera sees it; "example": the
        # background as each example's person-centred crop shows it
        "background": "camera" if result.background_aligned else "example",
        "finetune": result.finetune,
        "output": {"path": str(result.out), "frames": result.frames, "fps": result.fps,
                   "size": list(result.size), "side_by_side": side_by_side,
                   "attention_maps": str(result.attention_maps) if result.attention_maps
                   else None, "frames_dir": str(result.frames_dir) if result.frames_dir
                   else None},
        # the view: framing, the crop box in driver px, model / output size, model -> output
        # placement and how the person view was blended (data.view.ViewRecord)
        "view": result.view,
        "held_frames": result.held_frames,
        "implausible_keypoints": result.implausible_keypoints,
        "fast_path": result.fast_path,
        "timing": {"frames_per_second": result.throughput_fps,
                   "generator_frames_per_second": result.generator_fps,
                   "loop_seconds": result.seconds, "setup_seconds": result.setup_seconds},
    }
