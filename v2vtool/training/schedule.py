"""The progressive training schedule (paper Sec. 4 / vid2vid): phase, sequence length, LR factor.

    steps [0, single_frame_steps)          phase "single": T = 1, no temporal networks
    then every seq_double_every steps      T = seq_len_start * 2^i, capped at seq_len_max
    lr(step) = lr0 * min(1, (steps - step) / (steps - decay_start * steps))   (linear decay)
Pure functions of the step, so a resumed run follows the same schedule.
"""
from __future__ import annotations

from v2vtool.config import TrainConfig


def seq_len(cfg: TrainConfig, step: int) -> int:
    """Target frames per sample at `step` (1 in the single-frame phase)."""
    if step < cfg.single_frame_steps:
        return 1
    doublings = (step - cfg.single_frame_steps) // max(1, cfg.seq_double_every)
    return int(min(cfg.seq_len_max, cfg.seq_len_start * (2 ** min(doublings, 30))))


def phase(cfg: TrainConfig, step: int) -> str:
    return "single" if step < cfg.single_frame_steps else "sequence"


def max_seq_len(cfg: TrainConfig, total_steps: int) -> int:
    """Longest window the run reaches (what every training clip must hold)."""
    return seq_len(cfg, max(0, total_steps - 1))


def lr_factor(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """1 until decay_start * total_steps, then linearly down to 0 at total_steps."""
    start = cfg.decay_start * total_steps
    if step < start or total_steps <= start:
        return 1.0
    return max(0.0, (total_steps - step) / (total_steps - start))
