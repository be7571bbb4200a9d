"""Dataset readers (aligned RGB/IR frames + boxes) and training data."""

from rgbtfuse.data import readers  # noqa: F401  (registers the layouts)
from rgbtfuse.data.datasets import RGBTDataset, available_datasets, open_dataset
from rgbtfuse.data.sequence import Sequence, available_layouts, detect_layout, load_sequence, register_reader

__all__ = [
    "RGBTDataset",
    "Sequence",
    "available_datasets",
    "available_layouts",
    "detect_layout",
    "load_sequence",
    "open_dataset",
    "register_reader",
]
