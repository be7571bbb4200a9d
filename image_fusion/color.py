"""Fusing colour visible images: fuse the luma, keep the chroma.

The four networks are trained on gray images. For a colour visible image the usual recipe of the
fusion literature is applied: convert it to YCbCr (OpenCV's full-range BT.601 ``YCrCb``), fuse its Y
channel with the infrared image, and convert back with the original Cb/Cr. A 3-channel image whose
channels are all equal is treated as gray (many datasets store gray frames as RGB).
"""

from __future__ import annotations

import cv2
import numpy as np

from rgbtfuse.image_fusion.base import ImageFusionNet
from rgbtfuse.modality import visible_alias


def is_gray(img: np.ndarray) -> bool:
    """``True`` for ``(H, W)`` images and for ``(H, W, 3)`` images with three identical channels."""
    if img.ndim == 2:
        return True
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def to_gray(img: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8: gray images unchanged (first channel of replicated RGB), colour → BT.601 luma."""
    if img.ndim == 2:
        return img
    return np.ascontiguousarray(img[..., 0]) if is_gray(img) else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


@visible_alias
def fuse_images(model: ImageFusionNet, rgb: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Fuse a visible and an infrared uint8 image of the same size.

    Args:
        model: an image-fusion network (its :meth:`~ImageFusionNet.fuse_arrays` does the gray fusion).
        rgb: ``(H, W)`` gray or ``(H, W, 3)`` BGR visible image.
        ir: ``(H, W)`` or ``(H, W, 3)`` infrared image (colour is reduced to gray).

    Returns:
        ``(H, W)`` uint8 when ``rgb`` is gray, else ``(H, W, 3)`` BGR uint8 with ``rgb``'s chroma.
    """
    ir_gray = to_gray(ir)
    if is_gray(rgb):
        return model.fuse_arrays(to_gray(rgb), ir_gray)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_BGR2YCrCb)
    ycrcb[..., 0] = model.fuse_arrays(np.ascontiguousarray(ycrcb[..., 0]), ir_gray)
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)
