"""Networks: the few-shot generator (E_F, E_A, E_P, H, W/M), discriminators, VGG19 features."""
from v2vtool.models.generator import (ExampleState, FewShotGenerator, SequenceOutput,
                                      StepOutput)
from v2vtool.models.warp import warp

__all__ = ["FewShotGenerator", "ExampleState", "StepOutput", "SequenceOutput", "warp"]
