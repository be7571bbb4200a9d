"""pysot's context crop (``get_subwindow``), computed without padding the whole frame.

pysot copies the full frame into a padded canvas every frame; here only the crop window is
allocated, which gives the same pixels (padding = the per-channel image mean truncated to
uint8, exactly as pysot's assignment into a uint8 canvas does) at a fraction of the cost
on 1080p frames.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def crop_window(pos: tuple[float, float], original_sz: float) -> tuple[int, int, int, int]:
    """pysot's integer window ``(xmin, ymin, xmax, ymax)`` (inclusive) of side ``original_sz``."""
    c = (original_sz + 1) / 2
    xmin = int(np.floor(pos[0] - c + 0.5))
    ymin = int(np.floor(pos[1] - c + 0.5))
    # pysot: xmax = xmin + sz - 1, then slices [xmin : xmax + 1] with int() truncation
    xmax = int(xmin + original_sz - 1)
    ymax = int(ymin + original_sz - 1)
    return xmin, ymin, xmax, ymax


def get_subwindow(
    image: np.ndarray,
    pos: tuple[float, float],
    model_sz: int,
    original_sz: float,
    avg_chans: np.ndarray,
) -> np.ndarray:
    """Square crop of side ``original_sz`` centred at ``pos`` (x, y), padded with ``avg_chans``,
    resized to ``model_sz`` → ``(model_sz, model_sz, 3)`` uint8 (HWC, the frame's channel order).

    A single-channel ``(H, W)`` frame (IR) is cropped as is and the crop replicated to 3
    channels, which equals cropping the replicated frame without copying the whole frame.
    """
    h, w = image.shape[:2]
    xmin, ymin, xmax, ymax = crop_window(pos, original_sz)
    if xmin >= 0 and ymin >= 0 and xmax < w and ymax < h:
        patch = image[ymin : ymax + 1, xmin : xmax + 1]
    else:
        ph, pw = ymax + 1 - ymin, xmax + 1 - xmin
        patch = np.empty((ph, pw, *image.shape[2:]), np.uint8)
        patch[...] = np.asarray(avg_chans).astype(np.uint8)  # pysot's float→uint8 truncation
        sx0, sy0 = max(xmin, 0), max(ymin, 0)
        sx1, sy1 = min(xmax + 1, w), min(ymax + 1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - ymin : sy1 - ymin, sx0 - xmin : sx1 - xmin] = image[sy0:sy1, sx0:sx1]
    if patch.shape[0] != model_sz or patch.shape[1] != model_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    if patch.ndim == 2:
        patch = np.repeat(patch[:, :, None], 3, axis=2)
    return patch


def to_tensor(patches: list[np.ndarray] | np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HWC uint8 patch(es) → ``(B, 3, H, W)`` float32 in 0–255 (pysot feeds raw pixel values)."""
    arr = np.stack(patches) if isinstance(patches, list) else patches[None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))).to(device=device, dtype=torch.float32)
