"""Per-scale fusion modules ``forward(rgb, ir) -> fused`` and their registry.

Every module of this package is imported here, so a fusion module registered in a new file of
this folder (:func:`register_fusion`) is available by name without further changes.

>>> from rgbtfuse.fusion import build_fusion
>>> fuse = build_fusion("l1", channels=64, window=1)
>>> "l1" in available_fusions()
True
"""

import importlib
import pkgutil

from rgbtfuse.fusion.base import FusionModule, available_fusions, register_fusion
from rgbtfuse.fusion.build import MultiScaleFusion, build_fusion

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FusionModule", "MultiScaleFusion", "available_fusions", "build_fusion", "register_fusion"]
