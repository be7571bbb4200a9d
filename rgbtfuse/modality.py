"""The package's modality vocabulary: ``rgb`` (the visible-light camera, colour or gray) and ``ir``
(the thermal infrared camera), always in that order — ``fusion(rgb, ir)``, ``net(rgb, ir)``,
``tracker.init(rgb, ir, box)``, ``{'rgb': ..., 'ir': ...}``.

Image-fusion papers call the visible image ``vis``/``vi``; those names are accepted as keyword
aliases of ``rgb`` by the public image-fusion entry points (:func:`visible_alias`).

>>> canonical_modality("vis")
'rgb'
>>> canonical_modality("thermal")
'ir'
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from rgbtfuse.errors import ConfigError

MODALITIES = ("rgb", "ir")
#: other names the field uses (datasets' folder names, image-fusion papers)
ALIASES = {"vis": "rgb", "vi": "rgb", "visible": "rgb", "color": "rgb", "colour": "rgb",
           "t": "ir", "tir": "ir", "thermal": "ir", "infrared": "ir"}

F = TypeVar("F", bound=Callable[..., Any])


def canonical_modality(name: str) -> str:
    """``rgb`` or ``ir`` for any of the field's names of the two modalities."""
    key = str(name).lower()
    if key in MODALITIES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise ConfigError(f"unknown modality {name!r}; use {' or '.join(MODALITIES)} (aliases: {', '.join(sorted(ALIASES))})")


def visible_alias(fn: F) -> F:
    """Accept ``vis=`` (the image-fusion papers' name, and this package's before 0.2) for ``rgb=``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "vis" in kwargs:
            if "rgb" in kwargs:
                raise TypeError(f"{fn.__qualname__}() got both rgb= and its alias vis=")
            warnings.warn(f"{fn.__qualname__}(vis=...) is the old name of rgb=...", DeprecationWarning, stacklevel=2)
            kwargs["rgb"] = kwargs.pop("vis")
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
