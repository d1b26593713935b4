"""The typer app, the root options (--version, --debug) and the error policy of every command.

Policy (architecture.md rule 7): a `UserError` (or any error named in `USER_ERRORS`) prints one
line `error: ...` on stderr and exits with code 2; `--debug` re-raises to show the traceback.
Human output goes to stderr (`console`), machine output (JSON) to stdout.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable, TypeVar

import click
import typer
from rich.console import Console

from v2vtool import __version__
from v2vtool.errors import UserError

console = Console(stderr=True)  # human output; stdout stays clean for JSON
F = TypeVar("F", bound=Callable)

app = typer.Typer(
    name="v2v",
    help="Few-shot video-to-video synthesis: extract semantics, train, synthesize, evaluate, ablate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"v2vtool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
) -> None:
    ctx.obj = {"debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and "debug" in ctx.obj:
            return bool(ctx.obj["debug"])
        ctx = ctx.parent
    return False


def command(fn: F) -> F:
    """Wrap a CLI command with the error policy: one line + exit 2 on bad input."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except UserError as exc:
            if _debug_enabled():
                raise
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
