"""Outputs never destroy inputs, and `--overwrite` only replaces what v2v itself wrote.

Two rules, used by every command before it writes anything:

1. `check_outputs(outputs, inputs)`: an output path that IS an input, CONTAINS an input, or
   LIES INSIDE an input is refused. Existing files and folders are compared by identity
   (`os.stat` device + inode of the input and of every ancestor of the output, and the other
   way round), so a symlink, a hard link or a bind mount of the input is the input; paths
   (resolved, symlinks followed) decide for outputs that do not exist yet. So `--out` can
   never replace the driver video, a `--json` can never overwrite the generated video, and
   `--out PARENT --overwrite` can never delete the source folder.
2. `check_replaceable(path, kind)`: an existing output is only replaced (or written into)
   when it carries the marker of a previous run of the same command: a clip dir's meta.json,
   a dataset's manifest.json, a run's run.json, a PNG folder's `.v2v-output` file, ... A
   folder of the user's is never removed.
Both raise `UserError` (one line, exit 2).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable

from v2vtool.errors import UserError

Named = Iterable[tuple[str, "str | os.PathLike | None"]]  # (what it is, e.g. "--out", path)

# The marker file of folders of plain files written by v2v (PNG frame folders): JSON naming
# the writer, so a later run may replace the folder without risking a folder of the user's.
OUTPUT_MARKER = ".v2v-output"


def resolved(path: str | os.PathLike) -> Path:
    """Absolute, symlinks followed as far as the path exists."""
    return Path(os.path.abspath(path)).resolve()


Identity = tuple[int, int]  # (st_dev, st_ino)


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)  # follows symlinks: a link to the input is the input
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _lineage(path: str | os.PathLike) -> list[Identity]:
    """Identities of `path` (when it exists) and of every existing ancestor, found both along
    the path as written (normalised) and along its resolved form."""
    chains = {Path(os.path.abspath(path)), resolved(path)}
    out: list[Identity] = []
    for p in chains:
        for q in (p, *p.parents):
            ident = _identity(q)
            if ident is not None and ident not in out:
                out.append(ident)
    return out


def check_outputs(outputs: Named, inputs: Named) -> None:
    """Refuse any output that is, contains or lies inside any input (module docstring), or
    that could not be created because a parent of it is a file."""
    ins = [(what, Path(p), resolved(p), _identity(Path(p)), _lineage(p))
           for what, p in inputs if p is not None]
    for o_what, o in outputs:
        if o is None:
            continue
        o = Path(o)
        _check_parents(o, o_what)
        ro, o_id, o_lineage = resolved(o), _identity(o), _lineage(o)
        for i_what, i, ri, i_id, i_lineage in ins:
            if ro == ri or (o_id is not None and o_id == i_id):
                raise UserError(f"{o}: {o_what} is the input {i} ({i_what}); refusing to "
                                "overwrite an input: choose another output path")
            if ri.is_relative_to(ro) or (o_id is not None and o_id in i_lineage):
                raise UserError(f"{o}: {o_what} contains the input {i} ({i_what}); refusing "
                                "to write over an input: choose another output path")
            if ro.is_relative_to(ri) or (i_id is not None and i_id in o_lineage):
                raise UserError(f"{o}: {o_what} lies inside the input {i} ({i_what}); choose "
                                "an output outside the inputs")


def _check_parents(path: Path, what: str) -> None:
    parent = Path(os.path.abspath(path)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{path}: {what}: {parent} is a file, not a folder")


def check_distinct(outputs: Named) -> None:
    """Refuse two outputs of one command that are (or nest in) each other."""
    items = [(w, Path(p), resolved(p)) for w, p in outputs if p is not None]
    for n, (wa, a, ra) in enumerate(items):
        for wb, b, rb in items[n + 1:]:
            if ra == rb or ra.is_relative_to(rb) or rb.is_relative_to(ra):
                raise UserError(f"{b}: {wb} collides with {a} ({wa}); give them separate paths")


# ---- markers of previous outputs ------------------------------------------------------------

def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _format_of(path: Path) -> str | None:
    obj = _json(path)
    return obj.get("format") if isinstance(obj, dict) else None


def is_clip_output(path: Path) -> bool:
    """A clip dir written by v2v extract / data synth / data import."""
    return (_format_of(path / "meta.json") or "").startswith("v2v-clip/")


def is_dataset_output(prefix: str) -> Callable[[Path], bool]:
    """A dataset folder whose manifest.json has a format starting with `prefix`."""
    return lambda path: (_format_of(path / "manifest.json") or "").startswith(prefix)


def is_marked_output(path: Path) -> bool:
    """A folder carrying `OUTPUT_MARKER` (PNG frame folders of synthesize)."""
    return isinstance(_json(path / OUTPUT_MARKER), dict)


def write_marker(folder: Path, fmt: str, writer: str) -> None:
    (folder / OUTPUT_MARKER).write_text(json.dumps({"format": fmt, "writer": writer}) + "\n")


def is_empty_dir(path: Path) -> bool:
    """No entries (a run-dir lock file, held by the caller, does not count)."""
    from v2vtool.io.lock import LOCK_NAME

    return path.is_dir() and not any(p.name != LOCK_NAME for p in path.iterdir())


def check_replaceable(path: str | os.PathLike, is_ours: Callable[[Path], bool], what: str,
                      hint: str = "remove it yourself or choose another path") -> None:
    """`path` is about to be replaced (or written into): allowed when it does not exist, is an
    empty folder, or `is_ours(path)` (a previous output of the same command)."""
    path = Path(path)
    if not os.path.lexists(path) or is_empty_dir(path):
        return
    if path.is_symlink():
        raise UserError(f"{path}: is a symbolic link; not replaced ({hint})")
    if path.is_dir() and is_ours(path):
        return
    kind = "folder" if path.is_dir() else "file"
    raise UserError(f"{path}: existing {kind} is not {what}; not replaced ({hint})")
