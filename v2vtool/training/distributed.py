"""Data-parallel training over torchrun ranks: gloo on CPU, NCCL on GPU.

Gradients are averaged by one flattened all-reduce per optimiser step (`average_gradients`)
instead of wrapping the networks in `DistributedDataParallel`: the generator is driven through
`prepare` / `step` / `forward`, the discriminators are called several times per step (real,
fake, generator pass) and the temporal nets sit idle in the single-frame phase — all patterns
that DDP's forward hooks handle badly (find_unused_parameters, multiple forwards per backward).
The result is the same synchronous data parallelism: identical weights on every rank.

No per-step host syncs: on CUDA the process group is "cpu:gloo,cuda:nccl", so the host-side
agreements (which parameters have a gradient, stop / time-budget flags, throughput) travel as
CPU tensors over gloo and never wait for the GPU; the one device-side flag a step needs (a
non-finite loss on any rank) rides along in the gradient all-reduce.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (env set by torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=10))
    return DistInfo(rank, world, local)


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Make every rank start from rank 0's weights and buffers."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo,
                      flag: torch.Tensor | None = None) -> torch.Tensor | None:
    """All-reduce-mean the gradients of `params`; returns `flag` summed over ranks.

    Every rank reduces the same parameters in the same order: those with a gradient on ANY
    rank (agreed on the host first), a rank without one contributing zeros (its loss does not
    depend on them, e.g. a face D on a batch without faces). Parameters without a gradient on
    every rank keep ``grad = None`` (Adam skips them, as in a single process). `flag` (a
    device scalar, e.g. 1.0 = non-finite loss here) is appended to the same buffer, so
    agreeing on it costs no extra collective and no host sync.
    """
    if not info.enabled:
        return flag
    local = torch.tensor([p.grad is not None for p in params], dtype=torch.int32)
    dist.all_reduce(local)  # CPU tensor: gloo, host only
    active = [p for p, n in zip(params, local.tolist()) if n > 0]
    if not active and flag is None:
        return None
    device = (active[0] if active else flag).device
    parts = [p.grad.reshape(-1) if p.grad is not None else
             torch.zeros(p.numel(), dtype=p.dtype, device=p.device) for p in active]
    dtype = parts[0].dtype if parts else torch.float32
    parts.append((flag if flag is not None else torch.zeros((), device=device))
                 .reshape(1).to(dtype))
    flat = torch.cat(parts)
    dist.all_reduce(flat)
    offset = 0
    for p in active:
        n = p.numel()
        p.grad = (flat[offset:offset + n] / info.world_size).view_as(p)
        offset += n
    return flat[-1] if flag is not None else None


def gather_floats(value: float, info: DistInfo, device: torch.device | None = None
                  ) -> list[float]:
    """Every rank's `value`, in rank order (a one-element list without DDP). Host only."""
    if not info.enabled:
        return [value]
    out = [torch.zeros(1) for _ in range(info.world_size)]
    dist.all_gather(out, torch.tensor([value], dtype=torch.float32))
    return [float(t.item()) for t in out]


def any_rank(flag: bool, info: DistInfo, device: torch.device | None = None) -> bool:
    """True if `flag` is true on any rank (keeps ranks in lock-step on skips / stops).
    A CPU tensor: a host-side exchange that does not wait for queued GPU work."""
    return any_ranks([flag], info)[0]


def any_ranks(flags: list[bool], info: DistInfo) -> list[bool]:
    """Several `any_rank` flags in one collective."""
    if not info.enabled:
        return list(flags)
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32)
    dist.all_reduce(t)
    return [v > 0 for v in t.tolist()]
