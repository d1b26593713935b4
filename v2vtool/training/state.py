"""Trainer state without pickle: optimiser states and every RNG state as tensors + JSON.

`flatten_state(obj)` splits a nested structure (dicts / lists / tuples of tensors, numbers,
strings, None) into a JSON-able skeleton and a flat {name: tensor} dict for safetensors;
`unflatten_state` reverses it. Optimiser `state_dict()`s and RNG states go through it, so a
checkpoint's trainer_state.json + trainer_state.safetensors restore them exactly and loading
never executes code.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

_T = "__tensor__"
_TUPLE = "__tuple__"
_INTKEYS = "__intkeys__"


def flatten_state(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {_T: prefix}
    if isinstance(obj, np.ndarray):
        return flatten_state(torch.from_numpy(obj.copy()), prefix, tensors)
    if isinstance(obj, dict):
        int_keys = bool(obj) and all(isinstance(k, int) for k in obj)
        out = {str(k): flatten_state(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        return {_INTKEYS: out} if int_keys else out
    if isinstance(obj, tuple):
        return {_TUPLE: [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} in trainer state")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _T in obj:
            return tensors[obj[_T]]
        if _TUPLE in obj:
            return tuple(unflatten_state(v, tensors) for v in obj[_TUPLE])
        if _INTKEYS in obj:
            return {int(k): unflatten_state(v, tensors) for k, v in obj[_INTKEYS].items()}
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def rng_state() -> dict[str, Any]:
    """Every global RNG this process draws from: torch (CPU + CUDA), numpy, python."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (np_state[0], np_state[1], int(np_state[2]), int(np_state[3]),
                  float(np_state[4])),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].to(torch.uint8))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(int(x) for x in internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        # one state per GPU visible when saved; resuming with fewer (or more) GPUs restores
        # the ones both have (device i keeps its stream), the rest start from their seed
        saved = state["cuda"]
        for i in range(min(len(saved), torch.cuda.device_count())):
            torch.cuda.set_rng_state(saved[i].to(torch.uint8), i)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
