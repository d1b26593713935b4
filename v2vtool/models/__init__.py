"""Networks: the few-shot generator (E_F, E_A, E_P, H, W/M), discriminators, VGG19 features.

contract.py states what a generator is (`Generator`, `StepOutput`, `SequenceOutput`,
`ExampleState`); build.py builds one from its config; checkpoint.py saves / loads it.
"""
from v2vtool.models.build import build_generator
from v2vtool.models.contract import ExampleState, Generator, SequenceOutput, StepOutput
from v2vtool.models.generator import FewShotGenerator
from v2vtool.models.warp import warp

__all__ = ["FewShotGenerator", "Generator", "ExampleState", "StepOutput", "SequenceOutput",
           "build_generator", "warp"]
