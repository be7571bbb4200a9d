"""Standalone infrared/visible image-fusion networks built on :mod:`rgbtfuse.fusion` modules."""

from rgbtfuse.image_fusion import didfuse, lrrnet, nestfuse, rfn_nest  # noqa: F401  (register the models)
from rgbtfuse.image_fusion.registry import ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "create_model", "list_models", "model_info", "register_model"]
