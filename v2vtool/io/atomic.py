"""Atomic outputs: write to a temporary name next to the target, rename when complete.

Nothing half-written is ever left under the final name; on error the temporary is removed,
and so are the parent folders the write created (a failed command leaves no empty folders).
Write errors (disk full, read-only folder, a parent that is a file) become a `UserError`
naming the final output, not the temporary.

Temporaries are named `.NAME.tmp-XXXXXXXX[.ext]` beside NAME (old content being replaced:
`.NAME.old-XXXXXXXX`); `remove_stale(path)` removes those a killed run left at `path`.
`commit_together(outputs)` puts several finished outputs of one command in place as a unit.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from v2vtool.errors import UserError, os_error_message


_STALE = r"\.(tmp|old)-[0-9a-f]{8}(\.[^.]*)?"  # after ".NAME": what _tmp_name / replace_dir add


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


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporaries of earlier writes to `path` left beside it (`.NAME.tmp-XXXXXXXX[.ext]`,
    `.NAME.old-XXXXXXXX`: what a killed run leaves)."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}{_STALE}$")
    try:
        entries = list(path.parent.iterdir())
    except OSError:  # no folder yet: nothing left there
        return []
    return sorted(p for p in entries if pattern.match(p.name))


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove `stale_temporaries(path)` (files and folders); returns what was removed. Call
    it before writing `path` again: a temporary of a live writer of the same output would
    go too, and two writers of one output are a conflict anyway."""
    removed = []
    for p in stale_temporaries(path):
        remove_path(p)
        removed.append(p)
    return removed


def remove_path(p: Path) -> None:
    """Remove a file, link or folder tree, quietly (a leftover that is already gone is fine)."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


class Pending(Protocol):
    """A finished output under a temporary name: `commit()` renames it onto `path`."""

    path: Path

    def commit(self) -> Path: ...


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def commit_together(outputs: Sequence[Pending]) -> None:
    """Put finished outputs in place as one unit: all of them, or none (old ones kept).

    The last output is the record of the unit (synthesize's sidecar). First every existing
    old output is moved aside (`.NAME.old-XXXXXXXX`), the record's first; then the new ones
    are renamed in, the record last; then the old ones are removed. A failure on the way
    removes the new ones already placed and moves the old ones back. A kill in between leaves
    no record (a new record exists only beside all of its new outputs), and the old ones
    aside are removed by the next run's `remove_stale`."""
    aside: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for out in [*outputs[-1:], *outputs[:-1]]:
            if os.path.lexists(out.path):
                old = out.path.with_name(f".{out.path.name}.old-{uuid.uuid4().hex[:8]}")
                try:
                    os.replace(out.path, old)
                except OSError as exc:
                    raise UserError(os_error_message(exc, out.path)) from None
                aside.append((out.path, old))
        for out in outputs:
            out.commit()
            placed.append(out.path)
    except BaseException:
        for path in placed:
            _discard(path)
        for path, old in reversed(aside):
            with contextlib.suppress(OSError):
                os.replace(old, path)
        raise
    for _, old in aside:
        _discard(old)
