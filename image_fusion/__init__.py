"""Standalone infrared/visible image-fusion networks built on :mod:`rgbtfuse.fusion` modules."""

from image_fusion.registry import create_model, list_models, register_model
from image_fusion import nestfuse, rfn_nest  # noqa: F401,E402  (register the models)

__all__ = ["create_model", "list_models", "register_model"]
