"""pysot's training-data crop (``crop_like_SiamFC`` in ``training_dataset/*/par_crop.py``).

A square window centred on the target, of side ``s_x = s_z * instance_size / exemplar_size``
where ``s_z = sqrt((w + c(w+h)) (h + c(w+h)))`` is the template context size, is mapped onto
``instance_size`` pixels (window corners onto pixels 0 and ``instance_size - 1``); outside the
frame it is filled with the frame's per-channel mean. The target then sits at the crop centre
with size ``(w, h) * exemplar_size / s_z`` (pysot's ``_get_bbox``).

Centre convention: a box ``x, y, w, h`` covers pixels ``x … x + w - 1``, so its centre is
``x + (w - 1) / 2`` — the centre pysot's tracker uses at inference (and ours,
``trackers/tracker/base.py``) and the one pysot's VID crops get from inclusive pixel corners
``(xmin + xmax) / 2``. Crop-space coordinates have pixel centres at integers (OpenCV's
``warpAffine``), so the target's pixels span ``target_in_crop`` exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def context_size(w: float, h: float, context: float = 0.5) -> float:
    """Template context side ``s_z`` of a ``w × h`` target."""
    pad = context * (w + h)
    return math.sqrt((w + pad) * (h + pad))


def context_crop(
    image: np.ndarray,
    box: tuple[float, float, float, float] | np.ndarray,
    instance_size: int = 511,
    exemplar_size: int = 127,
    context: float = 0.5,
) -> np.ndarray:
    """Target-centred crop ``(instance_size, instance_size[, C])`` uint8 of ``image`` (HW or HWC)."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + (w - 1) / 2, y + (h - 1) / 2
    s_x = context_size(w, h, context) * instance_size / exemplar_size
    scale = (instance_size - 1) / s_x
    mapping = np.array([[scale, 0, -scale * (cx - s_x / 2)], [0, scale, -scale * (cy - s_x / 2)]])
    mean = cv2.mean(image)[: 1 if image.ndim == 2 else image.shape[2]]
    return cv2.warpAffine(
        image, mapping, (instance_size, instance_size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=mean,
    )


def target_in_crop(w: float, h: float, crop_size: int, exemplar_size: int = 127, context: float = 0.5) -> np.ndarray:
    """Corners ``(x1, y1, x2, y2)`` of the target in a :func:`context_crop` of side ``crop_size``."""
    scale = exemplar_size / context_size(w, h, context)
    c = crop_size // 2
    tw, th = w * scale, h * scale
    return np.array([c - tw / 2, c - th / 2, c + tw / 2, c + th / 2])
