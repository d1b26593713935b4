"""Where the shipped `weights/` and `examples/` folders are found.

A clone or an editable install has them next to the package (the source tree). A plain install
(`pip install .`, a wheel, `pip install git+URL`) gets them as data files under
`<prefix>/share/v2vtool/` (see setup.py). They are looked up in that order:

    weights:   --weights DIR  or  $V2V_WEIGHTS   (explicit: the only place searched)
               <source tree>/weights
               <prefix>/share/v2vtool/weights     (the environment's data prefix, sys.prefix,
                                                   the user base of `pip install --user`)
    examples:  the same, without the explicit override (`v2v demo --examples-dir` replaces it)

A weights folder holds one folder per model: `default/` (the shipped generator) and
`keypoints/` (the benchmark's keypoint net). Nothing found -> one line naming every place searched.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

from v2vtool.errors import UserError

ENV_WEIGHTS = "V2V_WEIGHTS"
SHARE_DIR = ("share", "v2vtool")  # data files of an installed distribution, under a prefix


class ResourceNotFound(UserError):
    """A shipped folder is in none of the places searched (the message names them all)."""


def source_root() -> Path:
    """The folder that holds the `v2vtool` package (a clone's root in a clone / editable install)."""
    return Path(__file__).resolve().parents[1]


def _prefixes() -> list[Path]:
    """Install prefixes whose share/v2vtool/ may hold the data files, in search order."""
    found: list[Path] = []
    for p in (sysconfig.get_path("data"), sys.prefix, getattr(site, "USER_BASE", None)):
        if p and Path(p) not in found:
            found.append(Path(p))
    return found


def search_roots(folder: str) -> list[Path]:
    """Candidate locations of `folder` ("weights" or "examples"), no explicit override."""
    return [source_root() / folder] + [p.joinpath(*SHARE_DIR, folder) for p in _prefixes()]


def weights_roots(weights: str | os.PathLike | None = None) -> list[Path]:
    """The weights folders to search: the explicit one (argument, then $V2V_WEIGHTS) alone, or
    else the source tree's and the installed ones."""
    explicit = weights if weights is not None else os.environ.get(ENV_WEIGHTS) or None
    if explicit is not None:
        return [Path(explicit).expanduser()]
    return search_roots("weights")


def _first_dir(candidates: list[Path], what: str, hint: str) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise ResourceNotFound(f"{what} not found; searched: {', '.join(map(str, candidates))}"
                           f" ({hint})")


def find_weights(name: str, weights: str | os.PathLike | None = None) -> Path:
    """The shipped model folder `name` (e.g. "default", "keypoints") in the first weights root
    that has it; ResourceNotFound naming every candidate when none does."""
    explicit = weights is not None or bool(os.environ.get(ENV_WEIGHTS))
    hint = (f"--weights / ${ENV_WEIGHTS} must name a folder laid out like weights/"
            if explicit else f"set ${ENV_WEIGHTS} to a folder laid out like weights/, or pass "
            "--checkpoint")
    return _first_dir([r / name for r in weights_roots(weights)], f"shipped weights/{name}", hint)


def weights_root(weights: str | os.PathLike | None = None) -> Path:
    """The weights folder in use: the first existing root (the source tree's when none exists,
    so messages still name a sensible place to put files)."""
    roots = weights_roots(weights)
    return next((r for r in roots if r.is_dir()), roots[0])


def find_examples() -> Path:
    """The shipped examples/ folder (driver clip, truth clip, example images)."""
    return _first_dir(search_roots("examples"), "shipped examples/",
                      "pass --examples-dir, a folder laid out like examples/")
