"""Training loop shared by fusion-module training and image-fusion training."""

from rgbtfuse.training.optim import OptimConfig
from rgbtfuse.training.trainer import LoopConfig, Trainer

__all__ = ["LoopConfig", "OptimConfig", "Trainer"]
