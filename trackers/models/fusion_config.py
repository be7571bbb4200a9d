"""The ``fusion:`` section of an experiment yaml.

.. code-block:: yaml

    fusion:
      name: l1              # any name registered in rgbtfuse.fusion (add, l1, max, mean, nuclear, sca, rfn, ...)
      position: neck        # neck (default) | backbone: which features are fused, see SiameseRGBT
      share_backbone: true  # false: a second backbone for IR, initialised from the RGB one
      window: 1             # every other key is an option of the fusion module
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import MultiScaleFusion
from rgbtfuse.trackers.models.siamese import POSITIONS


@dataclass
class FusionConfig:
    name: str
    position: str = "neck"
    share_backbone: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> FusionConfig | None:
        """``None`` (no fusion) for an absent or empty section."""
        if not cfg:
            return None
        if not isinstance(cfg, dict) or "name" not in cfg:
            raise ConfigError(f"fusion: expected a mapping with a 'name' key, got {cfg!r}")
        options = dict(cfg)
        name = options.pop("name")
        position = options.pop("position", "neck")
        share = options.pop("share_backbone", True)
        if position not in POSITIONS:
            raise ConfigError(f"fusion.position must be one of {POSITIONS}, got {position!r}")
        if not isinstance(share, bool):
            raise ConfigError(f"fusion.share_backbone must be true or false, got {share!r}")
        return cls(str(name), position, share, options)

    def build(self, channels: Sequence[int]) -> MultiScaleFusion:
        """One fusion module per scale, for feature maps with ``channels`` channels."""
        return MultiScaleFusion.build(self.name, channels, **self.options)
