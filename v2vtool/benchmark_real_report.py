"""What the real-footage protocol (benchmark_real.py) prints: per-clip and mean tables, the
cross-identity table, skipped metrics and notes (rich, stderr), and the machine it ran on."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from v2vtool.metrics import table

# the compact tables on stderr (the JSON has every column)
SELF_TABLE = ("l1", "psnr", "ssim", "lpips", "person_psnr", "ghost_l1", "sharpness", "ring_l1",
              "akd", "mkr")
CROSS_TABLE = ("pose_error", "pose_missing_rate", "identity")


def machine() -> dict:
    """The CPU's name (/proc/cpuinfo "model name"), cores and torch threads, for reports."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Processor") and value.strip():
                cpu = value.strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def _table(title: str, caption: str, rows: list[dict], keys: tuple[str, ...]):
    from v2vtool.benchmark import rows_table

    cols = {c.key: c for m in table.METRICS for c in m.columns}
    return rows_table(title, caption, rows, [cols[k] for k in keys])


def print_benchmark_real(res: dict, console) -> None:
    """Per-clip and mean tables, cross-identity, skipped metrics and notes (stderr)."""
    from rich.markup import escape

    w, h = res["size"]
    for clip in res["per_clip"]:
        console.print(_table(f"{escape(clip['clip'])} ({clip['scored_frames']} frames, stride "
                             f"{clip['stride']})", "", clip["scores"], SELF_TABLE))
    console.print(_table(
        f"real footage, self-reenactment: mean over {len(res['per_clip'])} clips ({w}x{h})",
        f"akd = keypoint distance in px at {h}, mkr = missing keypoints; sharp = person "
        "gradient energy / truth's; ring = L1 where the examples' person stood", res["rows"],
        SELF_TABLE))
    cross = res.get("cross")
    if cross:
        console.print(_table(
            f"cross-identity: mean over {len(cross['per_pair'])} pairs",
            f"pose = px at {h} vs the retargeted driver; ident = Hellinger distance of person "
            "colours to the example's (same-person: floor, driver-person: a full swap)",
            cross["rows"], CROSS_TABLE))
    for k, why in res.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {k}: {escape(str(why))}", highlight=False,
                      soft_wrap=True)
    for note in res.get("notes", []):
        console.print(f"[dim]note: {escape(str(note))}[/]", highlight=False, soft_wrap=True)
    console.print(f"{res['seconds']:.0f} s on {escape(res.get('machine', {}).get('cpu', '?'))}")
