"""The generator's fast path: precision, memory layout, weights computed once, compilation.

`FastPath` says how a generator runs (device, bf16 autocast or fp32, channels_last, compiled);
`fast_path(device, amp=..., ...)` resolves the "auto" choices for this machine:

* bf16 autocast where the hardware does bf16 math natively: CUDA GPUs with bf16 support, CPUs
  with AVX-512 BF16 or AMX-BF16 (about 2x fp32 in conv / matmul throughput). Elsewhere fp32
  (bf16 would be emulated and slower). Precision-critical parts stay fp32 under autocast:
  flow / mask heads (`layers.Fp32Conv2d`), the warp grid and sampling (`warp`), E_A's logits and
  softmax (`attention`), instance-norm statistics (computed in fp32 by the kernel).
* channels_last (NHWC) tensors and weights: oneDNN's convolutions run on NHWC natively; with
  NCHW every conv reorders its input and output.
* `inference_generator`: a frozen copy for streaming synthesis with spectral norm materialised
  (no per-frame power iteration or weight division) and, under bf16, weights stored in bf16
  (no per-frame fp32 -> bf16 casts); modules marked ``keep_fp32`` keep fp32 weights.
* `compile_step`: ``torch.compile`` of ``step`` (inductor; CPU inference with weight freezing),
  with the inductor cache in a persistent per-user directory (`inductor_cache_dir`), so a
  second run reuses the first run's kernels.
* `tune_host_allocator`: glibc serves allocations above 32 MB with fresh mmaps, so a pose-256
  step on a CPU spent ~30 % of its time in page faults; keeping freed memory in the heap
  removes that (process-wide; called by the entry points that run the generator).

What a generator must do to stay on this path: see docs/architecture.md ("Fast path").
"""
from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from v2vtool.errors import UserError

log = logging.getLogger(__name__)

AMP_CHOICES = ("auto", "bf16", "none")


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX-BF16 on this CPU (bf16 matmuls at ~2x fp32)."""
    try:
        caps = torch.cpu.get_capabilities()
        return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    except Exception:  # noqa: BLE001 - older torch / other platforms: read the flags
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return " avx512_bf16" in flags or " amx_bf16" in flags


# CPU: below this many pixels per frame a step is dominated by per-op overheads, and bf16
# (casts, less tuned small kernels) measured slower than fp32: 7.9 vs 7.4 ms at 64x64 (tiny
# shrunk), 27 vs 38 ms at 128x128 (tiny), 1.30 vs 2.30 s at 512x256 (pose-256), 1 thread.
CPU_BF16_MIN_PIXELS = 128 * 128


def resolve_amp(amp: str, device: torch.device, pixels: int | None = None) -> str:
    """"auto" -> "bf16" where the device computes bf16 natively (on a CPU only for frames of
    at least CPU_BF16_MIN_PIXELS when `pixels` is given), else "none"."""
    if amp not in AMP_CHOICES:
        raise UserError(f"amp={amp!r} must be one of {', '.join(AMP_CHOICES)}")
    if amp != "auto":
        return amp
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    if device.type == "cpu":
        big = pixels is None or pixels >= CPU_BF16_MIN_PIXELS
        return "bf16" if big and cpu_has_native_bf16() else "none"
    return "none"


@dataclass(frozen=True)
class FastPath:
    device: torch.device
    amp: str = "none"  # resolved: "bf16" | "none"
    channels_last: bool = False
    compile: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.amp == "bf16" else torch.float32

    def autocast(self):
        """The step's precision context (enter it around each call, not around a generator
        that yields: autocast is thread state and would leak into the consumer's code)."""
        if self.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def layout(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """An input tensor on the device in the path's memory layout ((B, C, H, W) or
        (B, T, C, H, W))."""
        if x is None:
            return None
        x = x.to(self.device, non_blocking=True)
        if not self.channels_last:
            return x
        if x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        if x.dim() == 5:  # (B, T, C, H, W): each frame NHWC
            return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        return x

    def describe(self) -> dict:
        return {"device": str(self.device), "amp": self.amp,
                "channels_last": self.channels_last, "compile": self.compile}


def fast_path(device: torch.device | str, amp: str = "auto",
              channels_last: bool | str = "auto", compile: bool = False,
              pixels: int | None = None) -> FastPath:
    """Resolve the fast path for `device` ("auto" choices: module docstring; `pixels`, the
    generator's H * W, lets "auto" keep fp32 where bf16 measured slower)."""
    device = torch.device(device)
    resolved = resolve_amp(amp, device, pixels)
    if channels_last == "auto":
        # NHWC helps oneDNN (CPU) and tensor cores (CUDA) in both precisions
        channels_last = device.type in ("cpu", "cuda")
    return FastPath(device, resolved, bool(channels_last), bool(compile))


def materialize_parametrizations(module: nn.Module) -> nn.Module:
    """Replace every parametrization (spectral norm) by its current value, in place.

    Not ``parametrize.remove_parametrizations``: that deletes the property from the
    parametrized class, which a deep copy shares with the original model (and breaks it)."""
    for mod in [m for m in module.modules() if parametrize.is_parametrized(m)]:
        values = {name: getattr(mod, name).detach() for name in mod.parametrizations.keys()}
        del mod._modules["parametrizations"]
        mod.__class__ = mod.__class__.__bases__[0]  # ParametrizedConv2d -> Conv2d
        for name, value in values.items():
            mod.register_parameter(name, nn.Parameter(value.clone(), requires_grad=False))
    return module


def inference_generator(generator: nn.Module, fast: FastPath) -> nn.Module:
    """A frozen inference copy of `generator` for `fast` (the caller's model is untouched):
    eval mode, no gradients, spectral norm materialised, bf16 weights under bf16 (modules
    with ``keep_fp32 = True`` excepted), channels_last weights."""
    with torch.no_grad():
        g = materialize_parametrizations(copy.deepcopy(generator).eval().requires_grad_(False))
        g = g.to(fast.device)
        if fast.amp == "bf16":
            for mod in g.modules():
                if getattr(mod, "keep_fp32", False):
                    continue
                for name, p in list(mod.named_parameters(recurse=False)):
                    if p.is_floating_point():
                        setattr(mod, name, nn.Parameter(p.to(torch.bfloat16),
                                                        requires_grad=False))
        if fast.channels_last:
            g = g.to(memory_format=torch.channels_last)
    return g


def inductor_cache_dir() -> Path:
    """TORCHINDUCTOR_CACHE_DIR if the user set one, else a persistent per-user directory
    ($XDG_CACHE_HOME or ~/.cache)/v2vtool/inductor (torch's default lives in /tmp)."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "v2vtool" / "inductor"


def use_inductor_cache() -> Path:
    """Point inductor at `inductor_cache_dir()` (before the first compile of the process)."""
    path = inductor_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(path))
    return path


@dataclass
class CompiledStep:
    """``generator.step`` compiled. Each case (first frame without a previous frame / with
    one, per K) compiles on its first call; ``compile_seconds`` sums those first calls."""

    fn: Callable
    cache_dir: Path
    first_calls: dict = field(default_factory=dict)  # case -> seconds of its first call

    @property
    def first_call_seconds(self) -> float | None:
        return sum(self.first_calls.values()) if self.first_calls else None

    def __call__(self, state, semantic, prev_images=None, prev_semantics=None, *args, **kwargs):
        # *args / **kwargs: whatever else `step` takes (keypoints for the prior), passed as given
        case = (getattr(state, "k", None), prev_images is None)
        if case in self.first_calls:
            return self.fn(state, semantic, prev_images, prev_semantics, *args, **kwargs)
        t0 = time.perf_counter()
        out = self.fn(state, semantic, prev_images, prev_semantics, *args, **kwargs)
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        self.first_calls[case] = time.perf_counter() - t0
        log.info("torch.compile: first step (K=%s, %s previous frame) %.1f s (inductor cache "
                 "%s)", case[0], "no" if case[1] else "with", self.first_calls[case],
                 self.cache_dir)
        return out


def compile_step(generator: nn.Module, inference: bool = True) -> CompiledStep:
    """``torch.compile(generator.step)``: static shapes (one graph per K / with or without a
    previous frame); for inference the weights are frozen into the graph (constant folding,
    prepacked oneDNN weights on CPU)."""
    cache = use_inductor_cache()
    options = {"freezing": True} if inference else None
    fn = torch.compile(generator.step, dynamic=False, options=options)
    return CompiledStep(fn, cache)


@contextlib.contextmanager
def swap_step(generator: nn.Module, compiled: CompiledStep | None):
    """generator.step -> `compiled` inside the block (training: G.forward calls self.step).
    Only for the block: an instance attribute left on the module would be deep-copied into
    the EMA model / inference copies, still bound to this generator."""
    if compiled is None:
        yield
        return
    generator.step = compiled
    try:
        yield
    finally:
        del generator.step


def tune_host_allocator() -> bool:
    """Keep large freed blocks in the heap (glibc only): no mmap + page faults per tensor."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1
        ok = libc.mallopt(m_trim_threshold, 0x7FFFFFFF) == 1 and ok
    except (OSError, AttributeError):
        return False
    return ok
