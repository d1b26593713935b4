"""`v2v demo`: synthesize the shipped driver with the shipped model for K=1 and K=2, and score it."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.demo import HEADLINE, run_demo


@app.command(epilog="Examples:\n\n  v2v demo\n\n  v2v demo --out /tmp/demo --device cpu")
@command
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Output folder (created)."),
    checkpoint: Path = typer.Option(None, "--checkpoint",
                                    help="Checkpoint to use instead of weights/default."),
    weights: Path = typer.Option(None, "--weights", help="A folder laid out like the shipped "
                                 "weights/ (default/, keypoints/) to use instead of it "
                                 "(also: $V2V_WEIGHTS)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    examples_dir: Path = typer.Option(None, "--examples-dir",
                                      help="Folder laid out like examples/ (default: the shipped "
                                           "examples/)."),
) -> None:
    """Synthesize the shipped example driver for K=1 and K=2 with the shipped model; score both."""
    with console.status("demo") as status:
        res = run_demo(out, checkpoint=checkpoint, examples_dir=examples_dir, device=device,
                       say=lambda s: status.update(s), weights=weights)
    table = Table(title=f"v2v demo -> {escape(str(out))}  ({res['seconds']:.1f} s)")
    table.add_column("case")
    table.add_column("K", justify="right")
    for m in HEADLINE:
        table.add_column(m.replace("_error", " err"), justify="right")
    table.add_column("synth fps", justify="right")
    for name, case in res["cases"].items():
        vals = [case["metrics"].get(m) for m in HEADLINE]
        table.add_row(name, str(case["k"]),
                      *("-" if v is None else f"{v:.4g}" for v in vals),
                      f"{case['synthesis_fps']:.1f}")
    console.print(table)
    skipped = {k: v for case in res["cases"].values() for k, v in case["skipped"].items()}
    for k, why in skipped.items():
        console.print(f"[yellow]not computed[/] {k}: {escape(str(why))}", highlight=False, soft_wrap=True)
    console.print(escape(f"videos, attention maps and metrics.json are in {out}/"))
    typer.echo(json.dumps({"out": str(out), "metrics": str(out / "metrics.json")}))
