"""Shared fixtures. Area-specific fixtures live in the area's own test files."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Real media shipped with the tests (see tests/data/README.md)."""
    return DATA


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> Path:
    """A tiny procedural dancer set (6 identities, 2 held out; 2 clips x 24 frames, 64 px)."""
    from v2vtool.data.synth import generate_dataset

    out = tmp_path_factory.mktemp("synth") / "dancers"
    generate_dataset(out, identities=6, clips_per_identity=2, frames=24, size=64, seed=0,
                     test_identities=2)
    return out
