"""Standalone infrared/visible image-fusion networks built on :mod:`rgbtfuse.fusion` modules.

Every module of this package is imported here, so a network registered in a new file of this
folder (:func:`register_model`) is available to :func:`create_model` and ``rgbtfuse fuse``.
"""

import importlib
import pkgutil

from rgbtfuse.image_fusion.registry import ModelInfo, create_model, list_models, model_info, register_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ModelInfo", "create_model", "list_models", "model_info", "register_model"]
