"""Reading and writing safetensors weights with the error policy: one line, naming the file.

- `read_state(path)`: unreadable / truncated files and tensors holding NaN or inf (a model
  that would only ever produce black frames) are refused.
- `load_state_into(module, state, path)`: the tensors must match the module built from the
  checkpoint's config.json name for name and shape; a mismatch is one line (how many tensors
  differ, the first one with both shapes), not torch's hundred lines of `size mismatch`.
  Then `check_plausible`: a tensor that is integer where the module's is float (a quantised
  int8 file), or constant (all zero, all one value) where the freshly built module's is not,
  is refused with its name. The rule compares with the module as built, so tensors that are
  constant by design (zero-initialised heads of an untrained model, norm scales of ones,
  running statistics) load, while a blanked or quantised file does not: a trained float
  weight never ends up with every element equal.
- `write_state(state, path)`: a write error (disk full, read-only folder) is an `OSError`
  (safetensors reports them as its own error type, with the OS error code inside the text).
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from v2vtool.errors import UserError


def read_state(path: str | os.PathLike, check_finite: bool = True) -> dict[str, torch.Tensor]:
    path = Path(path)
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise UserError(f"{path}: unreadable safetensors file ({text})") from None
    if check_finite:
        for name, t in state.items():
            if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
                bad = int((~torch.isfinite(t)).sum())
                raise UserError(f"{path}: tensor {name} holds {bad} NaN/inf values (a broken "
                                "checkpoint, e.g. from a diverged run); refusing to use it")
    return state


def load_state_into(module: torch.nn.Module, state: dict[str, torch.Tensor],
                    path: str | os.PathLike, what: str = "weights") -> None:
    """Strict load with a one-line error for any name or shape mismatch."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        if shapes:
            k = shapes[0]
            example = (f"e.g. {k}: file {list(state[k].shape)} vs config "
                       f"{list(own[k].shape)}")
        else:
            example = f"e.g. {(missing or unexpected)[0]}"
        raise UserError(f"{path}: {what} do not match the architecture in config.json "
                        f"({len(shapes)} tensors of another shape, {len(missing)} missing, "
                        f"{len(unexpected)} unexpected; {example})")
    check_plausible(own, state, path)
    module.load_state_dict(state, strict=True)


def _constant(t: torch.Tensor) -> bool:
    return t.numel() > 1 and bool((t == t.reshape(-1)[0]).all())


def check_plausible(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                    path: str | os.PathLike) -> None:
    """Refuse integer tensors where `own` (the module's state as built) has float ones, and
    constant float tensors where `own`'s vary (module docstring). Same names as `own`."""
    for name, mine in own.items():
        t = state[name]
        if not mine.is_floating_point():
            continue
        if not t.is_floating_point():
            raise UserError(f"{path}: tensor {name} is {str(t.dtype).replace('torch.', '')} "
                            f"where the model has {str(mine.dtype).replace('torch.', '')} "
                            "weights (a quantised or broken checkpoint); refusing to use it")
        if _constant(t) and not _constant(mine):
            value = float(t.reshape(-1)[0])
            raise UserError(f"{path}: tensor {name} holds one value ({value:g}) in all its "
                            f"{t.numel()} elements where trained weights vary (a blanked or "
                            "broken checkpoint); refusing to use it")


_OS_CODE = re.compile(r"code:\s*(\d+)")


def write_state(state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    try:
        save_file(state, str(path))
    except SafetensorError as exc:
        m = _OS_CODE.search(str(exc))
        code = int(m.group(1)) if m else errno.EIO
        raise OSError(code, os.strerror(code), str(path)) from None
