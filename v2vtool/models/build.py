"""`build_generator(cfg)`: the one place a generator is constructed from its config.

Training, checkpoint loading, the benchmark scripts and the tests all build through here, so a
new generator implementation (it must satisfy `models.contract.Generator`) is wired in by one
change below. Today every configuration is a `FewShotGenerator`: the appearance variants of
paper Table 1 (weightgen, encoder, concat, adain) are its `generator.appearance` switch.
"""
from __future__ import annotations

from v2vtool.config import GeneratorConfig
from v2vtool.models.contract import Generator
from v2vtool.models.generator import FewShotGenerator


def build_generator(cfg: GeneratorConfig) -> Generator:
    """A freshly initialised generator (an `nn.Module`) for `cfg`, on the CPU."""
    return FewShotGenerator(cfg)
