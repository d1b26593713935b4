"""The streaming core: examples + a driver sequence -> generated frames, one at a time.

`iter_synthesis` (and the `Synthesizer` behind it) is the library entry the evaluation
protocol calls with in-memory data:

    for f in iter_synthesis(generator, config, example_images, example_semantics,
                            driver_frames, driver_size=(w, h), retarget=False):
        f.image  # (H, W, 3) uint8 at the model's resolution

- example_images: list of K (h_k, w_k, 3) uint8 RGB images (any size);
- example_semantics: list of K keypoint `Frame`s in each image's pixels (keypoint kinds: pose,
  face), or K semantic maps (h_k, w_k[, 3]) uint8 (map kinds: edges, segmentation);
- driver_frames: an iterable of keypoint `Frame`s (or semantic maps) in pixels of
  `driver_size` (default: the model's (W, H)); consumed lazily, one frame at a time.
Geometry: every source is mapped onto the model's (W, H) exactly as training maps its clips
(`data.view.person_view`: person-centred crop at data.crop_scale x body height for pose when
data.crop, else the full frame; `Synthesizer.view` is the driver's); keypoints are then
rendered at the model resolution with the shared renderer. Per frame: render s_t,
`generator.step(state, s_t, x_{t-P..t-1}, s_{t-P..t-1})` (paper eq. 1, previous generated
frames fed back), emit. The
example state (generated weights, attention keys) is computed once by `generator.prepare`.
The generator runs on its fast path (`v2vtool.models.fastpath`): a frozen inference copy with
materialised spectral norm, channels_last, bf16 autocast where the hardware has native bf16
(``amp="auto"``; "none" = fp32), optionally ``torch.compile``d (``compile=True``).
Frames where the driver detects nobody are held from the last good frame (`SynthFrame.held`).
"""
from __future__ import annotations

import collections
import copy
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from v2vtool.config import Config, DataConfig, GeneratorConfig
from v2vtool.data.augment import View, to_tensor_image
from v2vtool.data.plate import background_plate, person_mask
from v2vtool.data.view import REFERENCE_FRAMES, person_view
from v2vtool.errors import UserError
from v2vtool.io.keypoints import Frame, main_person
from v2vtool.models.fastpath import (compile_step, fast_path, inference_generator,
                                     tune_host_allocator)
from v2vtool.semantics.kinds import get_kind

log = logging.getLogger(__name__)

# The driver -> model view lives in data/view.py (one place for synthesis, evaluation and the
# benchmark); `make_fit` is its earlier name here, kept so existing callers keep working.
make_fit = person_view


def _size_of(arr: np.ndarray) -> tuple[int, int]:
    return arr.shape[1], arr.shape[0]


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    x = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


@dataclass
class PreparedExamples:
    """The K examples at the model's resolution."""

    images: list[np.ndarray]  # K x (H, W, 3) uint8
    semantics: list[np.ndarray]  # K x rendered / resized semantic maps
    keypoints: list[Frame] | None  # K frames in model pixels (keypoint kinds)
    image_tensor: torch.Tensor  # (1, K, 3, H, W) in [-1, 1]
    semantic_tensor: torch.Tensor  # (1, K, C, H, W) in [0, 1]
    keypoint_tensor: torch.Tensor | None = None  # (1, K, J, 3) model px (keypoint kinds)
    views: list[View] | None = None  # K crops: each example's source frame -> model frame
    source_sizes: list[tuple[int, int]] | None = None  # K (w, h) of the example images
    # keypoint-prior models: K x (H, W) bool, each example's own person (`data/plate.
    # person_mask`: segmentation + skeleton strokes, else the keypoints' body), and as a tensor
    people: list[np.ndarray] | None = None
    mask_tensor: torch.Tensor | None = None


def prepare_examples(cfg: GeneratorConfig, images: list[np.ndarray],
                     semantics: list, names: list[str] | None = None,
                     data: DataConfig | None = None,
                     masks: list[np.ndarray | None] | None = None) -> PreparedExamples:
    """Map K examples (and their keypoints / maps, and person masks (h_k, w_k) 0/255 where
    known) onto the model frame and render them. A crop that runs past an example's frame is
    filled with the frame's inpainted extension (not replicated edge pixels: no stripes in the
    output)."""
    if len(images) != len(semantics) or not images:
        raise ValueError(f"need as many example semantics as images ({len(images)}, "
                         f"{len(semantics)}), at least one")
    size = cfg.size
    spec = get_kind(cfg.kind)
    data = data or DataConfig()
    out_img, out_sem, out_kp, views = [], [], [], []
    for k, (img, sem) in enumerate(zip(images, semantics)):
        if spec.keypoints:
            if not spec.has_detection(sem):
                name = names[k] if names else f"example {k}"
                raise UserError(f"{name}: no {spec.subject} detected in this example")
            fit = person_view(cfg.kind, data, _size_of(img), size, [sem])
            kp = fit.keypoints([main_person(sem)])
            out_kp.append(kp)
            out_sem.append(spec.render(kp, size))
        else:
            fit = person_view(cfg.kind, data, _size_of(img), size, None)
            out_sem.append(fit.label(sem))
        out_img.append(fit.image(img, outside="inpaint"))
        views.append(fit)
    img_t = torch.stack([to_tensor_image(i) for i in out_img]).unsqueeze(0)
    sem_t = torch.stack([spec.to_tensor(s, cfg.n_classes) for s in out_sem])
    kp_t = (torch.stack([torch.from_numpy(spec.prior_keypoints(f)) for f in out_kp])[None]
            if out_kp and cfg.keypoint_prior else None)
    people = mask_t = None
    if kp_t is not None:
        seg = [None if m is None else v.label(m) for v, m in
               zip(views, masks if masks is not None else [None] * len(views))]
        people = [person_mask(m, kp, size, cfg.kind) for m, kp in zip(seg, kp_t[0].numpy())]
        mask_t = torch.from_numpy(np.stack(people).astype(np.float32))[None, :, None]
    return PreparedExamples(out_img, out_sem, out_kp if out_kp else None, img_t,
                            sem_t.unsqueeze(0), kp_t, views, [_size_of(i) for i in images],
                            people, mask_t)


@dataclass
class SynthFrame:
    """One generated frame and what produced it."""

    index: int
    image: np.ndarray  # (H, W, 3) uint8 at the model's resolution
    semantic: np.ndarray  # the driver semantic map fed to the model (H, W[, 3]) uint8
    ref_index: int  # example chosen for warping / the most attended one
    attention: np.ndarray | None  # (K, h, w) float32 attention mass per example, or None
    held: bool  # the driver had no detection here; the last good frame was reused
    step_seconds: float  # time spent in generator.step (+ transfer) for this frame
    source_semantic: np.ndarray | None = None  # the driver before retargeting (if asked)
    # keypoint-prior models: (K + 1, H, W) per-pixel weights over the K warped examples and the
    # background plate (which example each output pixel comes from), else None
    selection: np.ndarray | None = None
    # keypoint kinds: the keypoints the model was driven with (model pixels, after retargeting)
    driving: Frame | None = None


def hold_gaps(frames: Iterable, kind: str) -> Iterator[tuple[object, bool]]:
    """(frame, held) pairs: frames without a detection replaced by the last good one (leading
    gaps by the first good one; only their count is buffered). UserError if none is good."""
    spec = get_kind(kind)
    if not spec.keypoints:
        for f in frames:
            yield f, False
        return
    last = None
    pending = 0
    total = 0
    for f in frames:
        total += 1
        if spec.has_detection(f):
            last = [main_person(f)]
            for _ in range(pending):
                yield last, True
            pending = 0
            yield last, False
        elif last is None:
            pending += 1
        else:
            yield last, True
    if last is None:
        raise UserError(f"driver: no {spec.subject} detected in any of its {total} frames")


class Synthesizer:
    """Examples prepared once (optionally finetuned), then any number of driver runs."""

    def __init__(self, generator: torch.nn.Module, config: Config | GeneratorConfig,
                 example_images: list[np.ndarray], example_semantics: list,
                 example_names: list[str] | None = None, finetune: int = 0, seed: int = 0,
                 finetune_lr: float | None = None, amp: str = "auto",
                 channels_last: bool | str = "auto", compile: bool = False,
                 example_masks: list[np.ndarray | None] | None = None):
        self.cfg = config.generator if isinstance(config, Config) else config
        self.spec = get_kind(self.cfg.kind)
        self.data = config.data if isinstance(config, Config) else DataConfig()
        self.device = next(generator.parameters()).device
        self.examples = prepare_examples(self.cfg, example_images, example_semantics,
                                         example_names, self.data, example_masks)
        self.finetune_report = None
        self.retargeted = False  # set by run(): whether a retargeting map was applied
        self.background_aligned = False  # set by run(): examples share the driver's camera
        self.background = None  # set by run(): (K, 2, 3) output px -> example px, or None
        self.view = None  # set by run(): the View (driver px -> model frame) of this driver
        self.plate = None  # keypoint prior: (plate (H, W, 3) uint8, seen (H, W) bool) in use
        if finetune > 0:
            from v2vtool.synthesis.finetune import finetune_on_examples

            generator = copy.deepcopy(generator)
            lr = finetune_lr or (config.train.lr_g if isinstance(config, Config) else 1e-4)
            self.finetune_report = finetune_on_examples(
                generator, self.examples.image_tensor.to(self.device),
                self.examples.semantic_tensor.to(self.device), steps=finetune, lr=lr, seed=seed,
                keypoints=self._to_device(self.examples.keypoint_tensor))
        self.fast = fast_path(self.device, amp, channels_last, compile,
                              pixels=self.cfg.height * self.cfg.width)
        tune_host_allocator()
        self.generator = inference_generator(generator, self.fast)
        self.compiled = compile_step(self.generator) if compile else None
        self.state = self._prepare(None)

    def _prepare(self, background: np.ndarray | None):
        """`generator.prepare` of the examples on the fast path (background: see _state_for),
        with their person masks and the background plate (keypoint-prior models)."""
        ex = self.examples
        bg = None if background is None else torch.from_numpy(background)[None].to(self.device)
        masks = plate = None
        if ex.people is not None:
            self.plate = self._plate(background)
            plate = torch.cat([to_tensor_image(self.plate[0]),
                               torch.from_numpy(self.plate[1][None].astype(np.float32))])[None]
            masks, plate = self._to_device(ex.mask_tensor), self._to_device(plate)
        with torch.inference_mode(), self.fast.autocast():
            return self.generator.prepare(self.fast.layout(ex.image_tensor),
                                          self.fast.layout(ex.semantic_tensor),
                                          self._to_device(ex.keypoint_tensor), bg, masks, plate)

    def _plate(self, background: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The scene behind the examples' people in the output frame (`data/plate.py`): from
        every example where they share the driver's camera (background: (K, 2, 3) output px ->
        example px), else from the first example's own crop."""
        ex = self.examples
        if background is None:
            return background_plate(ex.images[:1], ex.people[:1])
        return background_plate(ex.images, ex.people, background)

    def step(self, state, semantic: torch.Tensor, prev_images: torch.Tensor | None,
             prev_semantics: torch.Tensor | None, keypoints: torch.Tensor | None = None,
             prev_keypoints: torch.Tensor | None = None):
        """One ``generator.step`` on the fast path (inputs on any device / layout; keypoints
        (1, J, 3) in model pixels for keypoint-prior models)."""
        fast = self.fast
        step = self.compiled or self.generator.step
        with torch.inference_mode(), fast.autocast():
            return step(state, fast.layout(semantic), fast.layout(prev_images),
                        fast.layout(prev_semantics), self._to_device(keypoints),
                        self._to_device(prev_keypoints))

    @property
    def k(self) -> int:
        return len(self.examples.images)

    def _to_device(self, x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x.to(self.device)

    def _state_for(self, fit: View, driver_size: tuple[int, int]):
        """The examples' state for one driver. With a keypoint prior, examples whose images have
        the driver's frame size are taken as frames of the same static camera: the background
        stays where that camera sees it (each example's crop mapped onto the driver's crop,
        `View.map_to`) rather than moving with each example's person-centred crop. Sets
        `background` ((K, 2, 3) output px -> example px, or None) and `background_aligned`."""
        ex = self.examples
        self.background_aligned = bool(
            self.cfg.keypoint_prior and ex.views is not None
            and all(tuple(s) == tuple(driver_size) for s in ex.source_sizes))
        self.background = (np.stack([fit.map_to(v) for v in ex.views])
                           if self.background_aligned else None)
        return self._prepare(self.background) if self.background_aligned else self.state

    def render(self, frame, fit: View, retarget
               ) -> tuple[np.ndarray, torch.Tensor | None, Frame | None]:
        """Driver frame (source pixels) -> (semantic map at the model's resolution, its keypoints
        (1, J, 3) in model pixels for the prior flow or None, the keypoint Frame in model
        pixels or None)."""
        if self.spec.keypoints:
            frame = fit.keypoints(frame)
            if retarget is not None:
                frame = [retarget(p) for p in frame]
            kp = (torch.from_numpy(self.spec.prior_keypoints(frame))[None]
                  if self.cfg.keypoint_prior else None)
            return self.spec.render(frame, self.cfg.size), kp, frame
        return fit.label(frame), None, None

    def run(self, driver_frames: Iterable, driver_size: tuple[int, int] | None = None,
            retarget: bool = True, reference_frames: int = REFERENCE_FRAMES,
            source_semantics: bool = False) -> Iterator[SynthFrame]:
        """Generate one frame per driver frame, lazily (see module docstring).

        source_semantics: also render the driver without retargeting (for side-by-side views).
        """
        cfg, spec = self.cfg, self.spec
        size = cfg.size
        stream = hold_gaps(driver_frames, cfg.kind)
        head = list(itertools.islice(stream, reference_frames))  # small look-ahead (keypoints)
        if not head:
            raise UserError("driver: no frames")
        good = [f for f, held in head if not held]
        src_size = driver_size or (size if spec.keypoints else _size_of(head[0][0]))
        fit = person_view(cfg.kind, self.data, src_size, size,
                          good if spec.keypoints else None)
        self.view = fit
        state = self._state_for(fit, src_size)
        mapper = None
        if retarget and spec.keypoints:
            mapper = spec.fit_retarget(self.examples.keypoints, [fit.keypoints(f) for f in good])
            self.retargeted = mapper is not None
            if mapper is None:
                log.warning("retargeting impossible (examples or driver lack the needed "
                            "keypoints); driving without it")
        prev_img: collections.deque = collections.deque(maxlen=cfg.n_prev_frames)
        prev_sem: collections.deque = collections.deque(maxlen=cfg.n_prev_frames)
        prev_kp = None
        # no torch context stays open across the yields (autocast / inference mode would leak
        # into the consumer's code): each step enters its own (Synthesizer.step)
        for i, (frame, held) in enumerate(itertools.chain(head, stream)):
            sem_np, kp, driving = self.render(frame, fit, mapper)
            t0 = time.perf_counter()
            sem = self.fast.layout(spec.to_tensor(sem_np, cfg.n_classes)[None])
            pi, ps = _stack_prev(prev_img, cfg.n_prev_frames), _stack_prev(
                prev_sem, cfg.n_prev_frames)
            out = self.step(state, sem, pi, ps, kp, prev_kp)
            prev_img.append(out.image)
            prev_sem.append(sem)
            prev_kp = kp
            image = to_uint8(out.image[0])
            att = out.attention
            att = att[0].float().cpu().numpy() if att is not None else None
            sel = out.selection
            sel = sel[0].float().cpu().numpy() if sel is not None else None
            ref = int(out.ref_index[0]) if out.ref_index is not None else 0
            dt = time.perf_counter() - t0
            src = (self.render(frame, fit, None)[0] if source_semantics and mapper is not None
                   else None)
            yield SynthFrame(i, image, sem_np, ref, att, held, dt, src, sel, driving)


def _stack_prev(buf: collections.deque, p: int) -> torch.Tensor | None:
    """(1, P, C, H, W) of the last P tensors, the oldest repeated while fewer exist; None first."""
    if not buf:
        return None
    items = list(buf)
    items = [items[0]] * (p - len(items)) + items
    return torch.stack(items, dim=1)


def iter_synthesis(generator: torch.nn.Module, config: Config | GeneratorConfig,
                   example_images: list[np.ndarray], example_semantics: list,
                   driver_frames: Iterable, driver_size: tuple[int, int] | None = None,
                   retarget: bool = True, finetune: int = 0, seed: int = 0,
                   amp: str = "auto", compile: bool = False) -> Iterator[SynthFrame]:
    """Stream generated frames for in-memory examples and a driver sequence (module docstring).

    With `finetune` > 0 a copy of the generator is finetuned on the examples first (the
    caller's model is not modified).
    """
    synth = Synthesizer(generator, config, example_images, example_semantics,
                        finetune=finetune, seed=seed, amp=amp, compile=compile)
    return synth.run(driver_frames, driver_size, retarget)
