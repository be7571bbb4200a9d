"""Dataset readers (aligned RGB/IR frames + boxes) and training data."""

from rgbtfuse.data import readers  # noqa: F401  (registers the layouts)
from rgbtfuse.data.sequence import Sequence, available_layouts, detect_layout, load_sequence, register_reader

__all__ = ["Sequence", "available_layouts", "detect_layout", "load_sequence", "register_reader"]
