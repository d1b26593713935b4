import pytest

from v2vtool.config import PRESETS, Config, apply_overrides, preset, semantic_channels
from v2vtool.errors import UserError


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_dict(name):
    cfg = preset(name)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert cfg.preset == name


def test_overrides_are_typed_and_validated():
    cfg = apply_overrides(preset("tiny"), ["generator.ngf=8", "generator.warp_ref=false",
                                          "train.lr_g=1e-3", "seed=7"])
    assert cfg.generator.ngf == 8 and cfg.generator.warp_ref is False
    assert cfg.train.lr_g == pytest.approx(1e-3) and cfg.seed == 7
    for bad in ["generator.nope=1", "nosection.x=1", "generator.ngf", "generator.ngf=abc"]:
        with pytest.raises(UserError):
            apply_overrides(preset("tiny"), [bad])


def test_semantic_channels():
    assert semantic_channels("pose") == 3
    assert semantic_channels("face") == 1
    assert semantic_channels("segmentation", 35) == 35
    with pytest.raises(UserError):
        semantic_channels("depth")
    assert preset("street-512").generator.semantic_nc == 20
