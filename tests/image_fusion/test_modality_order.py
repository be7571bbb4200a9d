"""Visible first, infrared second, in image fusion as everywhere; the papers' ``vis=`` still works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rgbtfuse.image_fusion import create_model
from rgbtfuse.image_fusion.color import fuse_images


@pytest.fixture(scope="module")
def lrrnet():
    torch.manual_seed(0)  # random weights: LRRNet decomposes the two inputs with different branches
    return create_model("lrrnet")


def _pair() -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(3)
    return g.integers(0, 256, (24, 32), dtype=np.uint8), g.integers(0, 256, (24, 32), dtype=np.uint8)


def test_vis_keyword_is_an_alias_of_rgb(lrrnet):
    vis, ir = _pair()
    expected = lrrnet.fuse_arrays(vis, ir)
    assert not np.array_equal(expected, lrrnet.fuse_arrays(ir, vis))  # the order matters for this network
    with pytest.warns(DeprecationWarning, match="rgb="):
        np.testing.assert_array_equal(lrrnet.fuse_arrays(vis=vis, ir=ir), expected)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(fuse_images(lrrnet, vis=vis, ir=ir), expected)
    with pytest.raises(TypeError, match="both rgb= and its alias vis="):
        lrrnet.fuse_arrays(rgb=vis, vis=vis, ir=ir)


def test_forward_takes_rgb_then_ir(lrrnet):
    """LRRNet's published weights decompose the infrared image with ``get_ls1``."""
    vis, ir = (torch.from_numpy(a).float()[None, None] / 255 for a in _pair())
    with torch.no_grad():
        direct = lrrnet.decoder(*lrrnet.get_ls1(ir), *lrrnet.get_ls2(vis))
        torch.testing.assert_close(lrrnet(vis, ir), direct, rtol=0, atol=0)
