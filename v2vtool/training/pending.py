"""Per-step loss values and non-finite flags kept on the device until the host needs them.

A training step never reads a tensor back to the host: its loss terms, totals and the
"non-finite on any rank" flags (which already gate the optimiser steps on the device, see
`loop`) are queued here, and `flush()` turns every queued step into a `StepOutcome` with ONE
device-to-host copy. The loop flushes on log / sample / checkpoint steps and at the end, so a
GPU never waits for the host between ordinary steps.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import torch

from v2vtool.errors import UserError

log = logging.getLogger(__name__)


class TrainingDiverged(UserError):
    """Too many consecutive non-finite losses."""


def nonfinite(total: torch.Tensor) -> torch.Tensor:
    """1.0 (device scalar) when a loss total is NaN / inf."""
    return (~torch.isfinite(total.detach())).float()


@dataclass
class StepOutcome:
    step: int  # 1-based step number
    ok: bool  # False: a non-finite loss (on some rank) skipped the optimiser steps
    record: dict[str, float] = field(default_factory=dict)  # loss terms + totals (when ok)
    which: str | None = None  # "discriminator" | "generator" when skipped
    bad_terms: list[str] = field(default_factory=list)  # this rank's non-finite terms


@dataclass
class _Item:
    step: int
    d_names: list[str]
    g_names: list[str]
    values: torch.Tensor  # (2 + 2 * (nd + ng) + 2,) see `PendingSteps.add`


class PendingSteps:
    def __init__(self):
        self._items: list[_Item] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, step: int, d_losses: dict[str, torch.Tensor], g_losses: dict[str, torch.Tensor],
            d_bad: torch.Tensor | None, g_bad: torch.Tensor) -> None:
        """Queue step `step`: its terms and the any-rank flags (> 0 = non-finite somewhere)."""
        d_names, g_names = list(d_losses), list(g_losses)
        terms = [v.detach().float().reshape(()) for v in (*d_losses.values(), *g_losses.values())]
        zero = g_bad.new_zeros(())
        flags = [(d_bad if d_bad is not None else zero).float().reshape(()),
                 g_bad.float().reshape(())]
        finite = [torch.isfinite(t).float() for t in terms]
        d_total = sum(terms[:len(d_names)], zero) if d_names else zero
        g_total = sum(terms[len(d_names):], zero) if g_names else zero
        values = torch.stack(flags + finite + terms + [d_total, g_total])
        self._items.append(_Item(step, d_names, g_names, values))

    def flush(self) -> list[StepOutcome]:
        """Every queued step's outcome, oldest first (one host sync); empties the queue."""
        if not self._items:
            return []
        flat = torch.cat([it.values for it in self._items]).tolist()
        out, pos = [], 0
        for it in self._items:
            names = it.d_names + it.g_names
            n = len(names)
            vals = flat[pos:pos + it.values.numel()]
            pos += it.values.numel()
            d_bad, g_bad = vals[0] > 0, vals[1] > 0
            finite, terms = vals[2:2 + n], vals[2 + n:2 + 2 * n]
            d_total, g_total = vals[2 + 2 * n], vals[3 + 2 * n]
            if d_bad or g_bad:
                which = "discriminator" if d_bad else "generator"
                pool = it.d_names if d_bad else it.g_names
                bad = sorted(name for name, f in zip(names, finite) if name in pool and f < 1)
                out.append(StepOutcome(it.step, False, which=which, bad_terms=bad))
                continue
            record = {name: v for name, v in zip(it.g_names, terms[len(it.d_names):])}
            record.update({(k if k.startswith("d_") else f"d_{k}"): v
                           for k, v in zip(it.d_names, terms[:len(it.d_names)])})
            record["g_total"] = g_total
            if it.d_names:
                record["d_total"] = d_total
            out.append(StepOutcome(it.step, True, record))
        self._items = []
        return out


def settle(outcomes: list[StepOutcome], bad_steps: int, max_bad_steps: int,
           write_event: Callable[[dict], None], out) -> tuple[int, StepOutcome | None]:
    """Account flushed steps in order: a "nonfinite" event per skipped step, the consecutive
    count, TrainingDiverged at `max_bad_steps`. Returns (consecutive bad steps, last outcome)."""
    last = None
    for o in outcomes:
        last = o
        if o.ok:
            bad_steps = 0
            continue
        bad_steps += 1
        write_event({"type": "event", "step": o.step, "event": "nonfinite", "which": o.which,
                     "terms": o.bad_terms, "consecutive": bad_steps})
        terms = ", ".join(o.bad_terms) or "on another rank"
        log.warning("step %d: non-finite %s loss (%s); step skipped (%d/%d)", o.step, o.which,
                    terms, bad_steps, max_bad_steps)
        if bad_steps >= max_bad_steps:
            raise TrainingDiverged(
                f"{out}: training diverged: {bad_steps} consecutive steps with non-finite "
                f"{o.which} losses ({', '.join(o.bad_terms) or 'another rank'}) at step "
                f"{o.step}; lower train.lr_g / train.lr_d or resume from an earlier checkpoint")
    return bad_steps, last
