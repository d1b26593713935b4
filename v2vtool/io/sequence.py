"""Folders read as a sequence of frames: natural name order and gaps in the numbering.

Every reader of a frame folder, an OpenPose JSON folder or an importer's image / annotation
folder lists it with `list_sequence`, so `frame2.png` comes before `frame10.png` everywhere.
When all names follow one pattern with one running number (`0_keypoints.json`,
`frame_0001.png`, ...), indices missing from that number's range are found here; the readers
hold the previous frame in their place (timing kept, one warning line naming the count), and
the outputs record them (`missing_record`). They are never silently closed up.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")
_SHOWN = 8  # missing indices named in a warning line
_RECORDED = 1000  # missing indices listed in a sidecar / meta.json (the count is always exact)
SPARSE = 10  # more missing indices than this per file present: a sparse numbering, not gaps


def natural_key(path: str | os.PathLike) -> list:
    """Sort key of a file name: digit runs compare as numbers, text case-insensitively."""
    name = os.path.basename(os.fspath(path))
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower())
            for t in re.split(r"(\d+)", name) if t]


def natural_sorted(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (natural_key(p), p.name))


def frame_number(path: str | os.PathLike) -> tuple[str, int, str] | None:
    """(text before, number, text after) of a name's last digit run, lower-cased; None
    without digits."""
    m = _LAST_NUMBER.match(os.path.basename(os.fspath(path)))
    return (m.group(1).lower(), int(m.group(2)), m.group(3).lower()) if m else None


def missing_indices(paths: list[Path]) -> list[int]:
    """Indices missing inside the numbered range of `paths` (sorted).

    Only for a numbered sequence: at least two names, all with the same text around their
    last digit run and no number twice; anything else has no numbering to check ([]). A
    numbering with more than `SPARSE` missing indices per file present (photo numbers, every
    30th frame annotated, `a1.png` + `a999999.png`) is sparse by design, not frames lost: []."""
    parts = [frame_number(p) for p in paths]
    if len(parts) < 2 or any(p is None for p in parts):
        return []
    if len({(a, c) for a, _, c in parts}) != 1:
        return []
    numbers = sorted(n for _, n, _ in parts)
    if len(set(numbers)) != len(numbers):
        return []
    span = numbers[-1] - numbers[0] + 1
    if span - len(numbers) > SPARSE * len(numbers):
        return []
    present = set(numbers)
    return [i for i in range(numbers[0], numbers[-1] + 1) if i not in present]


@dataclass(frozen=True)
class FileSequence:
    """A folder's files in natural order, and the slots of the numbered range: `slots[i]` is
    the i-th frame's file, or None for a missing index."""

    files: tuple[Path, ...]
    missing: tuple[int, ...]

    @property
    def slots(self) -> list[Path | None]:
        if not self.missing:
            return list(self.files)
        out: list[Path | None] = []
        first = frame_number(self.files[0])[1]
        by_number = {frame_number(f)[1]: f for f in self.files}
        for i in range(first, frame_number(self.files[-1])[1] + 1):
            out.append(by_number.get(i))
        return out

    def __len__(self) -> int:
        return len(self.files) + len(self.missing)


def list_sequence(folder: str | os.PathLike, suffixes: tuple[str, ...]) -> FileSequence:
    """The plain files of `folder` whose suffix (lower-cased) is one of `suffixes`, as a
    `FileSequence` (natural order + missing indices). Hidden files are skipped."""
    folder = Path(folder)
    files = natural_sorted(f for f in folder.iterdir() if f.is_file()
                           and not f.name.startswith(".") and f.suffix.lower() in suffixes)
    return FileSequence(tuple(files), tuple(missing_indices(files)))


def describe_missing(missing: Iterable[int]) -> str:
    """'1 missing frame index (3)' / '12 missing frame indices (3, 4, ..., 40)'."""
    missing = list(missing)
    n = len(missing)
    shown = missing if n <= _SHOWN else missing[:_SHOWN - 1] + ["...", missing[-1]]
    return (f"{n} missing frame {'index' if n == 1 else 'indices'} "
            f"({', '.join(str(i) for i in shown)})")


def warn_missing(where: str, missing: Iterable[int], action: str) -> None:
    """One warning line: '<where>: N missing frame indices (...) in a numbered sequence;
    <action>'."""
    missing = list(missing)
    if missing:
        log.warning("%s: %s in a numbered sequence; %s", where, describe_missing(missing),
                    action)


def missing_record(missing: Iterable[int]) -> dict:
    """What a sidecar / meta.json records: the exact count and the first indices."""
    missing = list(missing)
    return {"count": len(missing), "indices": missing[:_RECORDED]}
