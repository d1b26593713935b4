"""The semantic-kind registry: every consumer asks the kind's record, so a kind added in one
place (here a test-local registration) works through import -> dataset -> synthesize."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from v2vtool.config import DataConfig, GeneratorConfig
from v2vtool.data.dataset import FewShotDataset, SampleKey, find_clips
from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, ClipWriter
from v2vtool.io.video import read_frames
from v2vtool.semantics import kinds
from v2vtool.semantics.extract import extract_clip
from v2vtool.semantics.extractor_base import Detection, Extractor
from v2vtool.synthesis import synthesize

from tests.conftest import make_checkpoint


class _Inverter(Extractor):
    """A 3-channel map kind that is not pose: the photographic negative of the frame."""

    kind = "negative"
    name = "test-negative"
    version = "1"
    has_keypoints = False

    def __init__(self, static: bool = False):
        self.settings = {}

    def __call__(self, rgb: np.ndarray) -> Detection:
        return Detection([], 255 - rgb, None)


NEGATIVE = kinds.SemanticKind("negative", "inverted frame (test kind)", stored_channels=3,
                              extractor=_Inverter)


@pytest.fixture
def negative_kind(monkeypatch):
    monkeypatch.setitem(kinds.KINDS, "negative", NEGATIVE)  # the one registration
    return NEGATIVE


def _frames_dir(tmp_path, n=8, size=64):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(n):
        img = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), np.uint8))
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


def test_fake_kind_round_trips_import_dataset_synthesize(tmp_path, negative_kind):
    clip_dir = extract_clip(_frames_dir(tmp_path), tmp_path / "clips", "negative", fps=10)
    clip = Clip(clip_dir)
    meta = json.loads((clip_dir / "meta.json").read_text())
    assert meta["kind"] == "negative" and meta["semantic_channels"] == 3
    assert np.array_equal(clip.semantic(2), 255 - clip.frame(2))  # read back as RGB

    gen_cfg = GeneratorConfig(kind="negative", height=64, width=64)
    assert gen_cfg.semantic_nc == 3
    ds = FewShotDataset(find_clips([tmp_path / "clips"]), gen_cfg,
                        DataConfig(crop=False, flip=False, color_jitter=0.0), augment=False,
                        with_flow=False)
    sample = ds[SampleKey(0, 2, 3, 0)]
    _, targets, _, _ = ds.indices(SampleKey(0, 2, 3, 0))
    assert sample["semantics"].shape == (3, 3, 64, 64)
    want = (255 - clip.frame(targets[0])).transpose(2, 0, 1) / 255.0
    assert np.allclose(sample["semantics"][0].numpy(), want, atol=1e-6)

    ckpt = make_checkpoint(tmp_path / "ckpt", "negative")
    out = tmp_path / "out.mp4"
    res = synthesize([f"{clip_dir}:0"], clip_dir, out, checkpoint=ckpt, device="cpu")
    assert res.frames == len(clip) == len(read_frames(out))


def test_clip_reads_maps_by_recorded_channels(tmp_path):
    """A 3-channel map of a 1-channel kind (e.g. written by a newer tool) is read as 3 channels,
    because meta.json records what was written."""
    frame = np.zeros((8, 8, 3), np.uint8)
    sem = np.zeros((8, 8, 3), np.uint8)
    sem[..., 0] = 200
    w = ClipWriter(tmp_path / "c", "edges", 10)
    w.add(frame, semantic=sem)
    w.close()
    clip = Clip(tmp_path / "c")
    assert clip.semantic_channels == 3 and clip.semantic(0).shape == (8, 8, 3)
    assert clip.semantic(0)[0, 0, 0] == 200


def test_every_kind_record_is_consistent():
    for name, spec in kinds.KINDS.items():
        assert spec.name == name
        assert spec.stored_channels in (1, 3)
        assert spec.input_mode in ("rgb", "ids")
        assert (spec.renderer is not None) == spec.keypoints == (spec.found is not None)
        if spec.keypoints:
            assert spec.subject
    assert kinds.get_kind("segmentation").channels(7) == 7
    assert kinds.get_kind("pose").channels(7) == 3
    with pytest.raises(UserError, match="unknown semantic kind 'depth'"):
        kinds.get_kind("depth")


def test_cli_kind_choices_come_from_the_registry():
    from v2vtool.cli.extract import Kind

    assert [k.value for k in Kind] == list(kinds.KINDS)
