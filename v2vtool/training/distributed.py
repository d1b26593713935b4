"""Data-parallel training over torchrun ranks: gloo on CPU, NCCL on GPU.

Gradients are averaged by one flattened all-reduce per optimiser step (`average_gradients`)
instead of wrapping the networks in `DistributedDataParallel`: the generator is driven through
`prepare` / `step` / `forward`, the discriminators are called several times per step (real,
fake, generator pass) and the temporal nets sit idle in the single-frame phase — all patterns
that DDP's forward hooks handle badly (find_unused_parameters, multiple forwards per backward).
The result is the same synchronous data parallelism: identical weights on every rank.
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
        backend = "nccl" if device.type == "cuda" else "gloo"
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


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """All-reduce-mean the gradients of `params` that have one.

    Which parameters receive gradients depends only on the step's phase, K and T, which every
    rank shares (the batch sampler agrees K and T globally), so the sets match across ranks.
    """
    params = [p for p in params if p.grad is not None]
    if not info.enabled or not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def gather_floats(value: float, info: DistInfo, device: torch.device) -> list[float]:
    """Every rank's `value`, in rank order (a one-element list without DDP)."""
    if not info.enabled:
        return [value]
    out = [torch.zeros(1, device=device) for _ in range(info.world_size)]
    dist.all_gather(out, torch.tensor([value], dtype=torch.float32, device=device))
    return [float(t.item()) for t in out]


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if `flag` is true on any rank (keeps ranks in lock-step on skips / stops)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)
