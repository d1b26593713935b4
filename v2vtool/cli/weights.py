"""`v2v weights fetch | list`: the third-party pretrained weights (VGG19, Inception, AlexNet).

`fetch` downloads ahead of time (a login node with a network, before jobs on compute nodes
without one); `list` shows what is on disk and whether it is the published file. Both are thin
wrappers around `v2vtool.io.pretrained`.
"""
from __future__ import annotations

import json
import time
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from v2vtool.cli.app import app, command, console
from v2vtool.errors import UserError
from v2vtool.io import pretrained

weights_app = typer.Typer(
    name="weights", no_args_is_help=True, rich_markup_mode="rich",
    help="Pretrained weights of the perceptual loss (VGG19), FID (Inception) and LPIPS (AlexNet): "
         "[bold]fetch[/] ahead of time, [bold]list[/] what is present.")
app.add_typer(weights_app, name="weights")


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def _names(names: list[str] | None, all_: bool) -> list[str]:
    names = list(names or [])
    if all_ and names:
        raise UserError("give names or --all, not both")
    if all_:
        return list(pretrained.REGISTRY)
    if not names:
        raise UserError(f"name the weights to fetch ({', '.join(pretrained.REGISTRY)}) or "
                        "pass --all")
    for n in names:
        pretrained.get(n)  # unknown name -> one line listing the known ones
    return list(dict.fromkeys(names))


@weights_app.command("fetch", epilog="""
Examples:

  v2v weights fetch --all

  v2v weights fetch inception alexnet

  TORCH_HOME=/shared/torch v2v weights fetch vgg19   (then the same TORCH_HOME on the nodes)
""")
@command
def fetch(
    names: Optional[list[str]] = typer.Argument(None, help="vgg19, inception, alexnet.",
                                                show_default=False),
    all_: bool = typer.Option(False, "--all", help="Every known file."),
) -> None:
    """Download the published files into the torch hub cache, each checked against its SHA-256
    (files already present with that hash are kept)."""
    wanted = _names(names, all_)
    if pretrained.offline_requested():
        files = ", ".join(pretrained.get(n).file_name for n in wanted)
        raise UserError(f"offline (${pretrained.ENV_OFFLINE}=1 or v2v --offline): nothing "
                        f"fetched; on a machine with a network, download {files} and put them in "
                        f"{pretrained.hub_dir()}")
    rows = []
    for name in wanted:
        entry = pretrained.get(name)
        t0 = time.perf_counter()
        with console.status(f"checking {escape(entry.file_name)}"):
            current = pretrained.state(name)
        with pretrained.download_bar(entry.file_name, console=console) as bar:
            path, status = pretrained.fetch(name, progress=bar, checked=current)
        rows.append((entry, path, status, time.perf_counter() - t0))
    table = Table(title="pretrained weights", title_justify="left")
    for col in ("name", "status", "size", "seconds"):
        table.add_column(col, no_wrap=True)
    table.add_column("path", overflow="fold")
    for entry, path, status, seconds in rows:
        table.add_row(entry.name, status, _mib(path.stat().st_size), f"{seconds:.1f}",
                      escape(str(path)))
    console.print(table)


@weights_app.command("list")
@command
def list_(
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of the "
                                  "table."),
    quick: bool = typer.Option(False, "--quick", help="Compare sizes only, do not hash "
                               "(hash status 'unknown' when the size matches)."),
) -> None:
    """Each known file: present or not, where (or where a download would go), size, and whether
    its SHA-256 is the published one (ok / mismatch / unknown)."""
    states = []
    for name in pretrained.REGISTRY:
        with console.status(f"checking {escape(pretrained.get(name).file_name)}"):
            states.append(pretrained.state(name, verify=not quick))
    if json_out:
        typer.echo(json.dumps({"hub_dir": str(pretrained.hub_dir()),
                               "offline": pretrained.offline_requested(),
                               "files": [s.to_dict() for s in states]}, indent=2))
        return
    table = Table(title=f"pretrained weights (hub cache: {escape(str(pretrained.hub_dir()))})",
                  title_justify="left")
    for col in ("name", "present", "size", "sha256"):
        table.add_column(col, no_wrap=True)
    table.add_column("path", overflow="fold")
    for s in states:
        table.add_row(s.entry.name, "yes" if s.present else "no", _mib(s.size), s.hash,
                      escape(str(s.path)))
    console.print(table)
