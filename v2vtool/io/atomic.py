"""Atomic outputs: write to a temporary name next to the target, rename when complete.

Nothing half-written is ever left under the final name; on error the temporary is removed,
and so are the parent folders the write created (a failed command leaves no empty folders).
Write errors (disk full, read-only folder, a parent that is a file) become a `UserError`
naming the final output, not the temporary.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from v2vtool.errors import UserError, os_error_message


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")


def make_parents(path: str | os.PathLike) -> list[Path]:
    """mkdir -p of `path`'s parent; returns the folders it created (outermost first)."""
    created: list[Path] = []
    parent = Path(path).parent
    missing = []
    while not parent.exists() and parent != parent.parent:
        if os.path.lexists(parent):  # a dangling symlink: let mkdir report it
            break
        missing.append(parent)
        parent = parent.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            remove_created(created)
            raise UserError(os_error_message(exc, d)) from None
        created.append(d)
    return created


def remove_created(folders: list[Path]) -> None:
    """Remove folders made by `make_parents` (innermost first) that are still empty."""
    for d in reversed(folders):
        with contextlib.suppress(OSError):
            d.rmdir()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces `path` (same suffix kept)."""
    path = Path(path)
    created = make_parents(path)
    tmp = _tmp_name(path)
    ok = False
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as exc:
            raise UserError(os_error_message(exc, path)) from None
        ok = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not ok:
            remove_created(created)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success it becomes `path` (replacing it if `overwrite`).

    Callers that replace check first that the old folder is theirs (`io.guard`)."""
    path = Path(path)
    created = make_parents(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    ok = False
    try:
        try:
            tmp.mkdir()
        except OSError as exc:
            raise UserError(os_error_message(exc, path)) from None
        try:
            yield tmp
            if path.exists():
                if not overwrite:
                    raise UserError(f"{path}: output exists (use --overwrite to replace it)")
                replace_dir(tmp, path)
            else:
                os.replace(tmp, path)
        except OSError as exc:
            raise UserError(os_error_message(exc, path)) from None
        ok = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not ok:
            remove_created(created)


def commit_pending(output, move) -> Path:
    """The commit step of a pending output (an object with `path`, `_created` and `abort()`):
    `move()` puts the finished temporary in place; on an OSError the output is dropped and the
    error becomes one line naming `output.path`."""
    try:
        move()
    except OSError as exc:
        output.abort()
        raise UserError(os_error_message(exc, output.path)) from None
    output._created = []  # the folders made for it now hold the output: keep them
    return output.path


def replace_dir(new: Path, path: Path) -> None:
    """Move folder `new` to `path`, replacing the folder there (old one moved aside, then
    removed: at no moment is `path` missing its old or new content for long)."""
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(old, path)  # put the old one back
        raise
    shutil.rmtree(old, ignore_errors=True)
