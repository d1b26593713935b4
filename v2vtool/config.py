"""Experiment configuration: frozen dataclasses, every default in one place, named presets.

A preset is a small diff on the defaults; `--set a.b=c` overrides are applied on top and the
resolved config (``Config.to_dict()``) is saved with every run and every output.
Modules never receive the whole ``Config``: each takes its own sub-config.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from v2vtool.errors import UserError
from v2vtool.semantics.kinds import get_kind

@dataclass(frozen=True)
class GeneratorConfig:
    """Generator F = H (SPADE image net) + E (weight generation, attention) + W/M (flow, mask)."""

    kind: str = "pose"  # semantic kind the model is driven by
    n_classes: int = 20  # only for kind == "segmentation"
    height: int = 128
    width: int = 128
    ngf: int = 16  # base channels of H; doubles per level up to max_channels
    n_downsample: int = 4  # resolution levels of H below full size
    max_channels: int = 128
    n_adaptive_layers: int = 3  # finest SPADE blocks whose branch weights are generated (E_P)
    adaptive_kernel: int = 1  # kernel size of generated SPADE convs (1 in the paper, 3 later)
    spade_hidden: int = 32  # channels of the SPADE branch's shared feature p_S
    appearance: str = "weightgen"  # weightgen | encoder | concat | adain (paper Table 1)
    aggregation: str = "attention"  # attention | average (over the K examples)
    attention_channels: int = 32  # key/query nets (reference: 128)
    style_dim: int = 64  # style vector of the encoder / concat / adain baselines
    n_prev_frames: int = 1  # tau in x_t = F(x_{t-tau..t-1}, ...)
    warp_ref: bool = True  # warp the examples to the current frame
    # keypoints: for kinds with keypoints (pose, face) flows start from an analytic keypoint
    # prior (semantics/prior.py) and the flow nets learn a residual; every example is warped and
    # chosen per pixel (models/example_warp.py). Kinds without keypoints (edges, segmentation)
    # and none: flows learned from scratch, the most-attended example warped (pre-prior models).
    flow_prior: str = "keypoints"
    composition: str = "blend"  # blend (eq. 11) | spade_combine
    flow_ngf: int = 8
    flow_n_downsample: int = 3
    flow_n_blocks: int = 2
    flow_max_channels: int = 64
    flow_scale: float = 20.0  # flow output multiplier (reference: x20)
    weightgen_hidden: int = 64  # hidden width of E_P's per-layer MLPs
    # 2x downsamplings of E_A's key/query nets (reference: 2). 3 keeps the per-frame cost flat in
    # K (the attention is (K*N) x N; K=4 costs <= 1.3x K=1): with the keypoint prior the per-pixel
    # choice among examples is the selection net's, E_A only aggregates what E_P pools globally
    attention_downsample: int = 3

    @property
    def semantic_nc(self) -> int:
        """Channels of the semantic map fed to the networks (from the kind's registry record:
        pose 3, face 1, edges 1, segmentation n_classes)."""
        return get_kind(self.kind).channels(self.n_classes)

    @property
    def size(self) -> tuple[int, int]:
        """The model's frame size (width, height), as images and views take it."""
        return self.width, self.height

    @property
    def keypoint_prior(self) -> bool:
        """Whether the flows start from the keypoint prior (see flow_prior)."""
        return self.flow_prior == "keypoints" and get_kind(self.kind).prior is not None


@dataclass(frozen=True)
class DiscriminatorConfig:
    ndf: int = 32
    n_layers: int = 3
    n_scales: int = 2  # multi-scale PatchGAN
    temporal: bool = True  # temporal D over `temporal_frames` consecutive frames
    temporal_frames: int = 3
    temporal_scales: int = 2
    face: bool = False  # extra D on face crops (pose only)
    face_size: int = 32
    condition_on_example: bool = True  # image D also sees the warped example + its semantics


@dataclass(frozen=True)
class LossConfig:
    """Weights of the named loss terms (paper / reference defaults); 0 disables a term."""

    gan: float = 1.0
    feature_matching: float = 10.0
    perceptual: float = 10.0  # VGG19; disabled loudly when its weights are not on disk
    l1: float = 1.0
    gradient: float = 10.0  # L1 on image gradients: keeps edges sharp (with or without VGG19)
    flow: float = 10.0
    warp: float = 10.0
    mask: float = 10.0
    temporal_gan: float = 1.0
    face_gan: float = 10.0


@dataclass(frozen=True)
class DataConfig:
    frame_stride: int = 1  # max stride between target frames (sampled 1..frame_stride)
    crop: bool = True  # person-centred crop at crop_scale x body height (pose)
    crop_scale: float = 1.5
    flip: bool = True
    color_jitter: float = 0.1
    example_window: int = 60  # examples come from the first N frames of a clip (reference 14-60)
    # DataLoader processes per training process (decode, render, DIS flow run there; 0 = in
    # the training process). Capped at run time by the CPUs each local process can have.
    workers: int = 0
    # camera look of the training samples (data/realism.py): the probability that a sample's
    # background is a real photograph (clips with person masks), and that its frames get a
    # camera's blur / noise / JPEG compression
    backdrop: float = 0.0
    camera: float = 0.0
    # how often each --data folder is sampled, in the order given: e.g. "1,3" draws a quarter
    # of the samples from the first folder; "" draws every clip equally often
    mix: str = ""


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 4
    k_max: int = 2  # K sampled per batch from 1..k_max
    lr_g: float = 2e-4  # TTUR (reference code)
    lr_d: float = 8e-4
    beta1: float = 0.0
    beta2: float = 0.999
    steps: int = 2000
    single_frame_steps: int = 500  # phase 1: T = 1, no temporal nets
    seq_len_start: int = 2
    seq_len_max: int = 8
    seq_double_every: int = 500  # steps between doublings of the sequence length
    decay_start: float = 0.8  # linear LR decay over the last (1 - decay_start) of training
    ema: float = 0.999  # 0 disables the EMA generator
    amp: str = "none"  # none | bf16 | auto (bf16 where the CPU / GPU does bf16 natively)
    compile: bool = False  # torch.compile the generator step (first step pays the compile)
    log_every: int = 10
    sample_every: int = 250
    val_every: int = 250
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    max_bad_steps: int = 5  # consecutive non-finite losses before giving up
    threads: int = 0  # torch intra-op threads per process (0 = torch's default)


@dataclass(frozen=True)
class Config:
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "tiny"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        """Rebuild from `to_dict()` output (e.g. a checkpoint's config.json); values are not
        checked here: `config_check.validate_config` does that."""
        return _from_dict(cls, _migrate(d))


def _migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Configs saved before a field existed keep the behaviour they were trained with."""
    gen = d.get("generator") if isinstance(d, dict) else None
    if isinstance(gen, dict) and "flow_prior" not in gen:
        d = {**d, "generator": {**gen, "flow_prior": "none"}}  # models before the keypoint prior
    return d


def _from_dict(cls, d: dict[str, Any], where: str = "config"):
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(d).__name__}")
    kwargs = {}
    known = {f.name: f for f in fields(cls)}
    for key, value in d.items():
        if key not in known:
            raise UserError(f"config has unknown key {key!r} for {cls.__name__}")
        sub = _dataclass_type(cls, key)
        kwargs[key] = _from_dict(sub, value, f"config section {key!r}") if sub is not None \
            else value
    return cls(**kwargs)


def _dataclass_type(cls, name: str):
    default = next(f for f in fields(cls) if f.name == name)
    if default.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = default.default_factory()  # type: ignore[misc]
        if is_dataclass(value):
            return type(value)
    return None


# Presets: small diffs on the defaults. `tiny` runs on a CPU; the others are the paper's sizes.
# The paper-sized networks the three full presets share; each preset adds its own diff.
_PAPER_GENERATOR = dict(ngf=32, n_downsample=5, max_channels=1024, n_adaptive_layers=4,
                        spade_hidden=128, attention_channels=128, flow_ngf=32,
                        flow_n_downsample=3, flow_n_blocks=6, flow_max_channels=256)
_PAPER_DISCRIMINATOR = dict(ndf=64, n_layers=3, n_scales=2)
_PAPER_TRAIN = dict(batch_size=30, k_max=4, seq_len_max=16, steps=200000,
                    single_frame_steps=50000, seq_double_every=20000,
                    amp="auto")  # bf16 on GPUs (and CPUs) that compute it natively
_GPU_WORKERS = 8  # data loader processes per GPU: decoding, rendering and DIS flow run there
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "pose-256": {
        "generator": dict(_PAPER_GENERATOR, kind="pose", height=512, width=256,
                          composition="spade_combine"),
        "discriminator": dict(_PAPER_DISCRIMINATOR, face=True),
        "data": dict(workers=_GPU_WORKERS),
        "train": _PAPER_TRAIN,
    },
    "face-256": {
        "generator": dict(_PAPER_GENERATOR, kind="face", height=256, width=256,
                          composition="spade_combine"),
        "discriminator": _PAPER_DISCRIMINATOR,
        "data": dict(crop=False, example_window=300, workers=_GPU_WORKERS),
        "train": _PAPER_TRAIN,
    },
    "street-512": {
        "generator": dict(_PAPER_GENERATOR, kind="segmentation", n_classes=20, height=256,
                          width=512, warp_ref=False),
        "discriminator": _PAPER_DISCRIMINATOR,
        "data": dict(crop=False, flip=True, example_window=300, workers=_GPU_WORKERS),
        "train": _PAPER_TRAIN,
    },
}


def _merge(cfg, diff: dict[str, Any]):
    updates = {}
    for key, value in diff.items():
        current = getattr(cfg, key)
        updates[key] = _merge(current, value) if is_dataclass(current) else value
    return replace(cfg, **updates)


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return _merge(Config(preset=name), PRESETS[name])


def _parse_value(text: str, like: Any) -> Any:
    if isinstance(like, bool):
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {text!r}")
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    return text


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """Apply ``a.b=c`` overrides (typed like the field they replace)."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override {item!r} is not of the form section.key=value")
        path, text = item.split("=", 1)
        parts = path.strip().split(".")
        node = cfg
        for p in parts[:-1]:
            if not is_dataclass(node) or not hasattr(node, p):
                raise UserError(f"override {item!r}: no config section {p!r}")
            node = getattr(node, p)
        leaf = parts[-1]
        if not is_dataclass(node) or leaf not in {f.name for f in fields(node)}:
            raise UserError(f"override {item!r}: unknown key {path!r}")
        if is_dataclass(getattr(node, leaf)):
            raise UserError(f"override {item!r}: {path!r} is a section; set one of its keys "
                            f"({path}.KEY=VALUE)")
        try:
            value = _parse_value(text, getattr(node, leaf))
        except ValueError as exc:
            raise UserError(f"override {item!r}: {exc}") from None
        diff: dict[str, Any] = {leaf: value}
        for p in reversed(parts[:-1]):
            diff = {p: diff}
        cfg = _merge(cfg, diff)
    return cfg  # values are checked by config_check.validate_config (CLI, train, checkpoints)
