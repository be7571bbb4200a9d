"""Our crop equals pysot's get_subwindow (full-frame padding), re-expressed naively here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rgbtfuse.trackers.tracker.crop import get_subwindow


def pysot_style_subwindow(im, pos, model_sz, original_sz, avg_chans):
    """pysot's algorithm: pad the whole frame with the channel mean, then slice."""
    sz = original_sz
    c = (original_sz + 1) / 2
    xmin = np.floor(pos[0] - c + 0.5)
    xmax = xmin + sz - 1
    ymin = np.floor(pos[1] - c + 0.5)
    ymax = ymin + sz - 1
    left = int(max(0.0, -xmin))
    top = int(max(0.0, -ymin))
    right = int(max(0.0, xmax - im.shape[1] + 1))
    bottom = int(max(0.0, ymax - im.shape[0] + 1))
    r, cc, k = im.shape
    canvas = np.zeros((r + top + bottom, cc + left + right, k), np.uint8)
    canvas[:] = avg_chans
    canvas[top : top + r, left : left + cc] = im
    patch = canvas[int(ymin + top) : int(ymax + top + 1), int(xmin + left) : int(xmax + left + 1)]
    if model_sz != original_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    return patch


@pytest.mark.parametrize(
    "pos,sz",
    [((50.0, 40.0), 31), ((2.5, 3.0), 41), ((95.2, 70.7), 57), ((-10.0, 30.0), 21), ((50.0, 40.0), 301), ((10, 10), 127)],
)
def test_crop_matches_pysot(pos, sz):
    rng = np.random.default_rng(0)
    im = rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)
    avg = im.mean(axis=(0, 1))
    for model_sz in (sz, 127):
        ours = get_subwindow(im, pos, model_sz, sz, avg)
        ref = pysot_style_subwindow(im, pos, model_sz, sz, avg)
        assert ours.shape == (model_sz, model_sz, 3)
        assert np.array_equal(ours, ref)
