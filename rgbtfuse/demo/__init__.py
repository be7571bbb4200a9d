"""``rgbtfuse demo``: the default scene, the embedded demo model and its reproducible training.

The demo model is the filter-bank tracker of :mod:`rgbtfuse.trackers.models.filterbank` (no learned
features) with the learned modality gate of :mod:`rgbtfuse.fusion.gate`; its fusion weights
(``weights/gate_fusion.pth``, ~12 KB) were produced by :func:`rgbtfuse.demo.retrain.retrain`
and are described by ``weights/manifest.json``.
"""

from __future__ import annotations

from pathlib import Path

from rgbtfuse.data.synthetic import SceneConfig, default_failures

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CONFIG = PACKAGE_DIR / "model.yaml"
FUSION_WEIGHTS = PACKAGE_DIR / "weights" / "gate_fusion.pth"
MANIFEST = PACKAGE_DIR / "weights" / "manifest.json"

#: seed of the default demo scene; training scenes never use it
DEMO_SEED = 0
#: seeds of the generated training scenes
TRAIN_SEEDS = tuple(range(1000, 1012))


def demo_scene(frames: int = 120, width: int = 320, height: int = 240, seed: int = DEMO_SEED) -> SceneConfig:
    """The default demo scene: every failure of :func:`default_failures`, each sensor failing alone."""
    return SceneConfig(seed=seed, frames=frames, width=width, height=height, failures=default_failures(frames))
