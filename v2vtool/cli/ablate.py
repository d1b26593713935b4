"""`v2v ablate`: train + score a grid (variants x training-set size; K at test time)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from v2vtool.cli.app import app, command, console


@app.command("ablate", epilog=(
    "Examples:\n\n"
    "  v2v ablate --data data/dancers --out abl --k 1,2,4 --train-sizes 8,32 --steps 1500\n\n"
    "  v2v ablate --data data/dancers --out abl --variants weightgen,adain --budget-minutes 10"))
@command
def ablate(
    data: Path = typer.Option(..., "--data", help="A `v2v data synth` set (held-out split)."),
    out: Path = typer.Option(..., "--out", help="Sweep directory (re-run to resume)."),
    k: str = typer.Option("1,2,4,8", "--k", help="K values scored at test time."),
    train_sizes: str = typer.Option("8,32,128", "--train-sizes",
                                    help="Numbers of training identities."),
    variants: str = typer.Option("weightgen,adain,concat,encoder", "--variants",
                                 help="Appearance models (paper Table 1)."),
    budget_minutes: Optional[float] = typer.Option(None, "--budget-minutes",
                                                   help="Training wall-clock budget per cell."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Training steps per cell "
                                        "(equal for every cell)."),
    preset_name: str = typer.Option("tiny", "--preset", help="Config preset."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Config override a.b=c "
                                                  "(repeatable)."),
    seed: int = typer.Option(0, "--seed"),
    max_frames: Optional[int] = typer.Option(None, "--max-frames",
                                             help="Driver frames per held-out identity."),
    device: str = typer.Option("cpu", "--device"),
) -> None:
    """Reproduce the paper's Table 1 and Fig. 7 curves on procedural data: writes table.csv,
    table.json, k.png, train_size.png, variants.png under --out."""
    from v2vtool.ablation import parse_list, run_ablation
    from v2vtool.benchmark import parse_k
    from v2vtool.config import apply_overrides, preset
    from v2vtool.config_check import validate_config

    cfg = validate_config(apply_overrides(preset(preset_name), list(overrides or [])))
    with Progress(TextColumn("[bold]ablate[/]"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        res = run_ablation(data, out, ks=parse_k(k), train_sizes=parse_list(train_sizes,
                           "train-sizes"), variants=parse_list(variants, "variants", str),
                           budget_minutes=budget_minutes, steps=steps, config=cfg, seed=seed,
                           max_frames=max_frames, device=device, progress=progress)
    t = Table(title=f"ablation {escape(str(out))}")
    cols = [c for c in ("psnr", "ssim", "l1", "pose_error", "warp_error")
            if any(c in r for r in res["rows"])]
    for c in ("variant", "N", "K", *cols):
        t.add_column(c, justify="left" if c == "variant" else "right", no_wrap=True)
    for r in res["rows"]:
        t.add_row(r["variant"], str(r["train_identities"]), str(r["k"]),
                  *[f"{r[c]:.3g}" if r.get(c) is not None else "-" for c in cols])
    console.print(t)
    for note in res["notes"]:
        console.print(f"[dim]note: {escape(str(note))}[/]")
    console.print(escape(f"wrote {out}/table.csv, table.json, k.png, train_size.png, variants.png"))
