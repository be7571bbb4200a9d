"""Standalone infrared/visible image-fusion networks built on :mod:`rgbtfuse.fusion` modules."""

from image_fusion.registry import create_model, list_models, register_model

from image_fusion import didfuse  # noqa: F401  (registers 'didfuse')
from image_fusion import lrrnet  # noqa: F401  (registers 'lrrnet')

__all__ = ["create_model", "list_models", "register_model"]
