"""Training of the standalone image-fusion networks (NestFuse/RFN-Nest, LRRNet, DIDFuse).

A recipe builds the network, its paper's loss, the dataset and the exporter of the published
weight files; :mod:`~rgbtfuse.training.image_fusion.runner` drives it with the shared Trainer.
"""

from rgbtfuse.training.image_fusion import didfuse, lrrnet, nest  # noqa: F401  (register the recipes)
from rgbtfuse.training.image_fusion.recipe import Recipe, available_recipes, build_recipe, register_recipe
from rgbtfuse.training.image_fusion.runner import build_trainer, export_checkpoint, load_config

__all__ = ["Recipe", "available_recipes", "build_recipe", "build_trainer", "export_checkpoint", "load_config", "register_recipe"]
