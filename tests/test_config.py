import pytest

from v2vtool.config import PRESETS, Config, GeneratorConfig, apply_overrides, preset
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


def test_semantic_channels_come_from_the_kind():
    assert GeneratorConfig(kind="pose").semantic_nc == 3
    assert GeneratorConfig(kind="face").semantic_nc == 1
    assert GeneratorConfig(kind="segmentation", n_classes=35).semantic_nc == 35
    with pytest.raises(UserError):
        GeneratorConfig(kind="depth").semantic_nc
    assert preset("street-512").generator.semantic_nc == 20
    assert GeneratorConfig(width=96, height=64).size == (96, 64)
