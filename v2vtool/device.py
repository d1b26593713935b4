"""`--device` for every command: auto (CUDA when available, else CPU), cpu, cuda, cuda:N, mps."""
from __future__ import annotations

import torch

from v2vtool.errors import UserError

DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a `--device` value; UserError for a bad or unavailable one."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"--device {device!r}: not a device (auto, cpu, cuda, cuda:N)") from None
    if dev.type not in DEVICE_TYPES:
        raise UserError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {device}: MPS is not available on this machine")
    return dev
