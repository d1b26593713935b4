"""Packaging beyond pyproject.toml: ship the trained models and the demo inputs.

Everything under weights/ and examples/ (whatever they hold when the package is built) is
installed as data files under <prefix>/share/v2vtool/, keeping the folder structure, so a plain
`pip install .` or a wheel finds them from any working directory (v2vtool/resources.py).
"""
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
SHIPPED = ("weights", "examples")  # top-level folders installed under share/v2vtool/
SKIP = {"__pycache__", ".ipynb_checkpoints"}


def data_files() -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for top in SHIPPED:
        for f in sorted((ROOT / top).rglob("*")):
            rel = f.relative_to(ROOT)
            if f.is_file() and not SKIP.intersection(rel.parts):
                groups.setdefault(f"share/v2vtool/{rel.parent.as_posix()}", []).append(
                    rel.as_posix())
    return sorted(groups.items())


setup(data_files=data_files())
