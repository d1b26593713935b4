"""The one config validator: every value of a `Config`, checked once, with the key in the message.

`validate_config(cfg)` runs after a preset and its `--set` overrides are applied and whenever a
config.json is read from a checkpoint; it checks types (a JSON "32" is not an int), ranges,
finiteness (no NaN / inf), allowed strings, and the generator's architecture constraints, and
raises `UserError("train.batch_size=0: must be >= 1")`. Every field of every section has a rule
(`RULES`); a field added without one fails the validator's own test.

`check_number` is the same range rule for command-line options that are not config fields
(`--fps`, `--reference-height`, ...), so every number a user types is checked the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from v2vtool.errors import UserError

MAX_K = 32  # the one K limit (examples per video): synthesize, the benchmark, ablate, train.k_max
MAX_SIDE = 4096  # largest frame side (pixels) of an output (synthesize --size)
MAX_MODEL_SIDE = 2048  # largest model resolution (the paper's largest is 512 x 1024)
MAX_SEED = 2**32 - 1
BIG = 10**9  # "practically unbounded" counts (steps, intervals)


@dataclass(frozen=True)
class Rule:
    kind: str  # "int" | "float" | "bool" | "str"
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself not allowed (e.g. a learning rate > 0)
    hi_open: bool = False
    choices: tuple | None = None  # allowed strings (None: any, see `_choices`)


def I(lo=None, hi=None) -> Rule:  # noqa: E743 - short names keep the table readable
    return Rule("int", lo, hi)


def F(lo=None, hi=None, lo_open=False, hi_open=False) -> Rule:
    return Rule("float", lo, hi, lo_open, hi_open)


B = Rule("bool")
S = Rule("str")

RULES: dict[str, Rule] = {
    # generator
    "generator.kind": Rule("str", choices=("<semantic kinds>",)),
    "generator.n_classes": I(1, 256),
    "generator.height": I(16, MAX_MODEL_SIDE), "generator.width": I(16, MAX_MODEL_SIDE),
    "generator.ngf": I(1, 256), "generator.n_downsample": I(1, 8),
    "generator.max_channels": I(1, 2048), "generator.n_adaptive_layers": I(0, 9),
    "generator.adaptive_kernel": Rule("int", choices=(1, 3, 5, 7)),
    "generator.spade_hidden": I(1, 1024),
    "generator.appearance": Rule("str", choices=("<generator appearances>",)),
    "generator.aggregation": Rule("str", choices=("<generator aggregations>",)),
    "generator.attention_channels": I(1, 1024), "generator.style_dim": I(1, 2048),
    "generator.n_prev_frames": I(1, 8), "generator.warp_ref": B,
    "generator.composition": Rule("str", choices=("<generator compositions>",)),
    "generator.flow_ngf": I(1, 256), "generator.flow_n_downsample": I(1, 8),
    "generator.flow_n_blocks": I(1, 32), "generator.flow_max_channels": I(1, 2048),
    "generator.flow_scale": F(0, 1e4, lo_open=True), "generator.weightgen_hidden": I(1, 2048),
    "generator.attention_downsample": I(0, 6),
    "generator.flow_prior": Rule("str", choices=("<generator flow priors>",)),
    # discriminator
    "discriminator.ndf": I(1, 256), "discriminator.n_layers": I(1, 8),
    "discriminator.n_scales": I(1, 6), "discriminator.temporal": B,
    "discriminator.temporal_frames": I(2, 32), "discriminator.temporal_scales": I(1, 6),
    "discriminator.face": B, "discriminator.face_size": I(8, 1024),
    "discriminator.condition_on_example": B,
    # loss weights: finite, >= 0 (0 disables a term)
    **{f"loss.{k}": F(0, 1e6) for k in ("gan", "feature_matching", "perceptual", "l1",
                                         "gradient", "flow",
                                         "warp", "mask", "temporal_gan", "face_gan")},
    # data
    "data.frame_stride": I(1, 1000), "data.crop": B, "data.crop_scale": F(0.1, 10),
    "data.flip": B, "data.color_jitter": F(0, 1), "data.example_window": I(1, BIG),
    "data.workers": I(0, 64), "data.backdrop": F(0, 1), "data.camera": F(0, 1), "data.mix": S,
    # train
    "train.batch_size": I(1, 4096), "train.k_max": I(1, MAX_K),
    "train.lr_g": F(0, 1, lo_open=True), "train.lr_d": F(0, 1, lo_open=True),
    "train.beta1": F(0, 1, hi_open=True), "train.beta2": F(0, 1, hi_open=True),
    "train.steps": I(1, BIG), "train.single_frame_steps": I(0, BIG),
    "train.seq_len_start": I(1, 1024), "train.seq_len_max": I(1, 1024),
    "train.seq_double_every": I(1, BIG), "train.decay_start": F(0, 1),
    "train.ema": F(0, 1, hi_open=True), "train.amp": Rule("str", choices=("none", "bf16", "auto")),
    "train.compile": B,
    "train.log_every": I(1, BIG), "train.sample_every": I(0, BIG), "train.val_every": I(0, BIG),
    "train.checkpoint_every": I(1, BIG), "train.keep_checkpoints": I(1, 1000),
    "train.max_bad_steps": I(1, BIG), "train.threads": I(0, 1024),
    # top level
    "preset": S, "seed": I(0, MAX_SEED),
}
NOTES = {  # why a bound is what it is, when that is not obvious: key -> (which bound, why)
    "train.k_max": ("hi", "the K limit shared with synthesize and the benchmark"),
    "train.checkpoint_every": ("lo", "0 would leave a run with no checkpoint to resume from"),
    "train.ema": ("hi", "0 disables the EMA generator; 1 would never move from its start"),
}


def _choices(key: str, rule: Rule) -> tuple | None:
    """Allowed strings; the model's own lists where the model defines them."""
    if rule.choices is None or not str(rule.choices[0]).startswith("<"):
        return rule.choices
    if key == "generator.kind":  # the semantic-kind registry
        from v2vtool.semantics.kinds import KINDS
        return tuple(KINDS)
    from v2vtool.models import generator as g
    return {"generator.appearance": g.APPEARANCES, "generator.aggregation": g.AGGREGATIONS,
            "generator.composition": g.COMPOSITIONS, "generator.flow_prior": g.FLOW_PRIORS}[key]


def _fmt(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def check_value(key: str, value: Any, rule: Rule) -> Any:
    """The value (ints given for floats become floats) or UserError '<key>=<value>: ...'."""
    def bad(why: str, bound: str | None = None) -> UserError:
        which, note = NOTES.get(key, (None, None))
        note = f" ({note})" if note and which == bound else ""
        return UserError(f"{key}={value!r}: {why}{note}")

    if rule.kind == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if rule.kind == "str":
        if not isinstance(value, str):
            raise bad("must be a string")
        allowed = _choices(key, rule)
        if allowed is not None and value not in allowed:
            raise bad(f"must be one of {', '.join(map(str, allowed))}")
        if len(value) > 200:
            raise bad("is too long")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad("must be an integer" if rule.kind == "int" else "must be a number")
    if rule.kind == "int" and not isinstance(value, int):
        raise bad("must be an integer")
    if rule.kind == "float":
        if not math.isfinite(value):
            raise bad("must be a finite number")
        value = float(value)
    if rule.choices is not None and value not in rule.choices:
        raise bad(f"must be one of {', '.join(map(str, rule.choices))}")
    if rule.lo is not None and (value < rule.lo or (rule.lo_open and value == rule.lo)):
        raise bad(f"must be {'>' if rule.lo_open else '>='} {_fmt(rule.lo)}", "lo")
    if rule.hi is not None and (value > rule.hi or (rule.hi_open and value == rule.hi)):
        raise bad(f"must be {'<' if rule.hi_open else '<='} {_fmt(rule.hi)}", "hi")
    return value


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                 integer: bool = False, lo_open: bool = False) -> Any:
    """A command-line number (`--fps 0`, `--reference-height 0`, nan, inf) by the same rules."""
    if value is None:
        return None
    rule = Rule("int" if integer else "float", lo, hi, lo_open)
    try:
        return check_value(name, value, rule)
    except UserError as exc:  # '--fps=nan: ...' reads oddly; '--fps nan: ...' as typed
        raise UserError(str(exc).replace(f"{name}=", f"{name} ", 1)) from None


def validate_config(cfg, source: str | None = None):
    """Check every value of `cfg` (a `Config`); returns it (floats normalised). `source`
    (e.g. a config.json path) prefixes the message."""
    try:
        updates = {}
        for f in fields(cfg):
            value = getattr(cfg, f.name)
            if is_dataclass(value):
                sub = {}
                for g in fields(value):
                    key = f"{f.name}.{g.name}"
                    if key not in RULES:
                        raise UserError(f"{key}: no validation rule (add one to RULES)")
                    sub[g.name] = check_value(key, getattr(value, g.name), RULES[key])
                updates[f.name] = replace(value, **sub)
            else:
                if f.name not in RULES:
                    raise UserError(f"{f.name}: no validation rule (add one to RULES)")
                updates[f.name] = check_value(f.name, value, RULES[f.name])
        cfg = replace(cfg, **updates)
        _check_architecture(cfg)
    except UserError as exc:
        raise UserError(f"{source}: {exc}" if source else str(exc)) from None
    return cfg


def _check_architecture(cfg) -> None:
    """Constraints between values: the generator's own (size divisible by its depth, ...)."""
    from v2vtool.models.generator import _validate

    g = cfg.generator
    if g.kind == "segmentation" and g.n_classes < 2:
        raise UserError(f"generator.n_classes={g.n_classes}: a label map needs >= 2 classes")
    try:
        _validate(g)
    except UserError as exc:  # name the keys where the model's message does not
        msg = str(exc)
        raise UserError(msg if msg.startswith("generator.") else
                        f"generator.width={g.width}, generator.height={g.height}: {msg}") \
            from None
    parse_mix(cfg.data.mix)
    if cfg.discriminator.face and g.kind != "pose":
        raise UserError(f"discriminator.face=True: needs generator.kind=pose (got {g.kind!r})")


def parse_mix(text: str) -> list[float]:
    """data.mix "1,3" -> [1.0, 3.0] (weights of the --data folders); "" -> []."""
    if not text.strip():
        return []
    try:
        weights = [float(t) for t in text.split(",")]
    except ValueError:
        raise UserError(f"data.mix={text!r}: expected comma-separated weights like 1,3") from None
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError(f"data.mix={text!r}: weights must be finite, >= 0, not all 0")
    return weights
