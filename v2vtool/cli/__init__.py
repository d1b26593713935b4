"""`v2v` command-line tool. Each subcommand lives in its own module and registers on `app`."""
from __future__ import annotations

import importlib

from v2vtool.cli.app import app

# One module per subcommand; importing it registers the command. Only working commands are listed.
COMMANDS: tuple[str, ...] = (  # in pipeline order, as `v2v --help` lists them
    "extract",
    "data",
    "train",
    "synthesize",
    "evaluate",
    "ablate",
    "demo",
    "weights",  # set-up: third-party pretrained weights
)
for _name in COMMANDS:
    importlib.import_module(f"v2vtool.cli.{_name}")


def main() -> None:
    app()


__all__ = ["app", "main"]
