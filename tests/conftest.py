"""Shared fixtures. Area-specific fixtures live in the area's own test files."""
from __future__ import annotations

import os
from pathlib import Path

import json

import pytest
import torch

from v2vtool.config import apply_overrides, preset
from v2vtool.models.build import build_generator
from v2vtool.models.checkpoint import save_generator

DATA = Path(__file__).parent / "data"

# No test may try the network (CI has none; a connect that hangs would stall it): pretrained
# weights are never downloaded, in this process and in every `v2v` subprocess a test starts.
# The download tests (tests/test_io_pretrained.py) lift this and point at 127.0.0.1.
os.environ["V2V_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a 2-core box: one intra-op thread is faster and steadier than two
    (oversubscription is 5-15x slower when anything else runs)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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


# Tiny generator checkpoints made here (no trained model needed): synthesis / evaluation tests.
SMALL = ["generator.height=64", "generator.width=64", "generator.ngf=8",
         "generator.n_downsample=3", "generator.max_channels=32", "generator.flow_ngf=8",
         "generator.flow_n_blocks=1", "generator.flow_max_channels=32",
         "generator.attention_channels=8", "generator.spade_hidden=16",
         "generator.weightgen_hidden=16"]



def make_checkpoint(path: Path, kind: str = "pose", extra: tuple[str, ...] = ()) -> Path:
    cfg = apply_overrides(preset("tiny"), SMALL + [f"generator.kind={kind}", *extra])
    torch.manual_seed(0)
    return save_generator(path, cfg, build_generator(cfg.generator))


@pytest.fixture(scope="session")
def pose_ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "pose")


@pytest.fixture(scope="session")
def heldout_clip(synth_dataset) -> Path:
    """A held-out identity's clip (24 frames, 64 px, pose) from the procedural dataset."""
    manifest = json.loads((synth_dataset / "manifest.json").read_text())
    entry = next(c for c in manifest["clips"] if c["split"] == "test")
    return synth_dataset / entry["path"]


def load_script(path: Path, name: str):
    """A benchmarks/ script (not a package module) imported by file path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
