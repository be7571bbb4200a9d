"""Per-scale fusion modules ``forward(rgb, ir) -> fused`` and their registry.

>>> from rgbtfuse.fusion import build_fusion
>>> fuse = build_fusion("l1", channels=64, window=1)
"""

from rgbtfuse.fusion import attention, baselines, gate, llrr, rfn  # noqa: F401  (register the fusion modules)
from rgbtfuse.fusion.base import FusionModule, available_fusions, register_fusion
from rgbtfuse.fusion.build import MultiScaleFusion, build_fusion

__all__ = ["FusionModule", "MultiScaleFusion", "available_fusions", "build_fusion", "register_fusion"]
