"""The run directory's logs: RUN/metrics.jsonl (one JSON object per line) and RUN/run.json.

metrics.jsonl records carry "type": "train" (every named loss term, learning rates, K, T,
phase, it/s, samples/s per rank and total), "val" (held-out L1 / PSNR and the copy-the-example
baseline), or "event" (non-finite losses, interruptions, resumes). On resume, records beyond
the checkpoint's step are dropped first, so the file reads like one uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from v2vtool.io.atomic import atomic_path


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no nan / inf
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class MetricsLog:
    """Append-only JSON-lines writer (rank 0 only; other ranks get `enabled=False`)."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path = path
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """Drop records with step > `step` (written after the checkpoint we resume from)."""
        if not self.enabled or not self.path.is_file():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if int(rec.get("step", 0)) <= step:
                keep.append(line)
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(k + "\n" for k in keep))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **_clean(record)}
        try:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
                fh.flush()
        except OSError as exc:
            from v2vtool.errors import UserError

            raise UserError(f"{self.path}: could not write ({exc.strerror or exc})") from None


def read_metrics(run_dir: str | os.PathLike, kind: str | None = None) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if kind is None or rec.get("type") == kind:
            out.append(rec)
    return out


def write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
