"""Training: `train(data_dirs, out, config, steps=None, minutes=None, resume=False,
device="auto") -> Path` (the final checkpoint dir), checkpoints, schedule, DDP helpers."""
from v2vtool.training.loop import TrainingDiverged, TrainingInterrupted, train

__all__ = ["train", "TrainingInterrupted", "TrainingDiverged"]
