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


# ---- the config validator (config_check) ------------------------------------------------------

def _leaf_keys(cfg) -> list[str]:
    from dataclasses import fields, is_dataclass

    keys = []
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        keys += [f"{f.name}.{g.name}" for g in fields(v)] if is_dataclass(v) else [f.name]
    return keys


def test_every_config_value_has_a_rule_and_presets_pass():
    from v2vtool.config_check import RULES, validate_config

    assert set(_leaf_keys(Config())) == set(RULES)  # nothing unchecked, no stale rule
    for name in PRESETS:
        assert validate_config(preset(name)) == preset(name)


@pytest.mark.parametrize("override, message", [
    ("train.batch_size=0", "train.batch_size=0: must be >= 1"),
    ("train.batch_size=-1", "train.batch_size=-1: must be >= 1"),
    ("train.lr_g=nan", "train.lr_g=nan: must be a finite number"),
    ("train.lr_g=0", "train.lr_g=0.0: must be > 0"),
    ("generator.height=0", "generator.height=0: must be >= 16"),
    ("generator.height=100000", "generator.height=100000: must be <= 2048"),
    ("generator.height=72", "generator.width=128, generator.height=72: generator size"),
    ("generator.ngf=0", "generator.ngf=0: must be >= 1"),
    ("train.k_max=0", "train.k_max=0: must be >= 1"),
    ("train.k_max=50", "train.k_max=50: must be <= 32 (the K limit"),
    ("data.workers=-1", "data.workers=-1: must be >= 0"),
    ("train.ema=2", "train.ema=2.0: must be < 1"),
    ("train.checkpoint_every=0", "train.checkpoint_every=0: must be >= 1"),
    ("train.seq_len_max=0", "train.seq_len_max=0: must be >= 1"),
    ("train.amp=fp16", "train.amp='fp16': must be one of none, bf16"),
    ("generator.kind=depth", "generator.kind='depth': must be one of"),
    ("generator.adaptive_kernel=2", "generator.adaptive_kernel=2: must be one of 1, 3, 5, 7"),
    ("seed=-1", "seed=-1: must be >= 0"),
    ("loss.gan=inf", "loss.gan=inf: must be a finite number"),
    ("discriminator.face=true", "discriminator.face=True: needs generator.kind=pose"),
])
def test_validator_names_the_key(override, message):
    extra = ["generator.kind=face"] if override.startswith("discriminator.face") else []
    from v2vtool.config_check import validate_config

    with pytest.raises(UserError) as exc:
        validate_config(apply_overrides(preset("tiny"), extra + [override]))
    assert str(exc.value).startswith(message), str(exc.value)


def test_validator_checks_types_of_a_loaded_config(tmp_path):
    from v2vtool.config_check import check_number, validate_config

    d = preset("tiny").to_dict()
    d["generator"]["ngf"] = "32"
    with pytest.raises(UserError, match=r"^cfg.json: generator.ngf='32': must be an integer"):
        validate_config(Config.from_dict(d), source="cfg.json")
    d["generator"]["ngf"] = True
    with pytest.raises(UserError, match="must be an integer"):
        validate_config(Config.from_dict(d))
    d["generator"]["ngf"] = 16
    d["train"]["lr_g"] = 1  # a JSON int where a float is expected: fine, made a float
    assert validate_config(Config.from_dict(d)).train.lr_g == 1.0
    for bad in ([], None, "x", {"generator": [1]}):
        with pytest.raises(UserError, match="expected a JSON object"):
            Config.from_dict(bad)
    with pytest.raises(UserError, match="--fps nan: must be a finite number"):
        check_number("--fps", float("nan"), 0, 1000, lo_open=True)
