"""The typer app, the root options (--version, --debug, --offline) and the error policy of every
command.

Policy (architecture.md rule 7): a `UserError` (or any error named in `USER_ERRORS`) prints one
line `error: ...` on stderr and exits with code 2; `--debug` re-raises to show the traceback.
Human output goes to stderr (`console`), machine output (JSON) to stdout.
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
import signal
import threading
from typing import Callable, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from v2vtool import __version__
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.pretrained import ENV_OFFLINE

console = Console(stderr=True, emoji=False)  # human output (stderr); stdout stays clean for JSON
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
    offline: bool = typer.Option(False, "--offline", help="Never download pretrained weights "
                                 "(VGG19, Inception, AlexNet); same as V2V_OFFLINE=1. Metrics "
                                 "without their weights are skipped, the perceptual loss is "
                                 "disabled."),
) -> None:
    ctx.obj = {"debug": debug}
    if offline:  # an environment variable reaches every loader, torchrun's workers included
        os.environ[ENV_OFFLINE] = "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


CTX_PARAM = "_v2v_ctx"  # the click/typer context, injected into every wrapped command


def _debug_enabled(ctx: typer.Context | None) -> bool:
    while ctx is not None:
        if isinstance(ctx.obj, dict) and "debug" in ctx.obj:
            return bool(ctx.obj["debug"])
        ctx = ctx.parent
    return False


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every writer's cleanup (temporaries) runs."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _trap_sigterm():
    """Route SIGTERM to `Terminated` while a command runs (main thread only); returns the
    previous handler to restore, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def command(fn: F) -> F:
    """Wrap a CLI command with the error policy: one line + exit 2 on bad input.

    The wrapper reads the root `--debug` flag from the command's `typer.Context`: the command's
    own Context parameter, or else one added to the wrapper's signature (typer fills it). No
    click import is needed, so this works with whatever click typer bundles or depends on.
    """
    sig = inspect.signature(fn)
    own = [name for name, p in sig.parameters.items()
           if p.annotation in (typer.Context, "typer.Context")]
    ctx_name = own[0] if own else CTX_PARAM  # typer fills one Context parameter per command

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = kwargs.get(ctx_name) if own else kwargs.pop(CTX_PARAM, None)
        old_term = _trap_sigterm()
        try:
            return fn(*args, **kwargs)
        except (UserError, OSError) as exc:  # an OSError is about the user's files too
            if _debug_enabled(ctx):
                raise
            msg = os_error_message(exc) if isinstance(exc, OSError) else str(exc)
            msg = " ".join(msg.split()) or type(exc).__name__  # one line, whatever the text
            console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True,
                          emoji=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            console.print("[bold red]interrupted[/]")
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)

    if not own:
        extra = inspect.Parameter(CTX_PARAM, inspect.Parameter.KEYWORD_ONLY,
                                  annotation=typer.Context)
        wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
        wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), CTX_PARAM: typer.Context}
    return wrapper  # type: ignore[return-value]
