"""Feature-level losses against their equations, written out naively."""

from __future__ import annotations

import pytest
import torch

from rgbtfuse.losses import gram_matrix, lrrnet_tracking_loss, rfn_tracking_loss
from rgbtfuse.losses.ssim import feature_ssim, fitting_window


def _feats(seed: int, n: int = 3, shape=(2, 4, 9, 11)) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(n)]


def test_gram_matrix_formula():
    x = _feats(0, 1)[0]
    b, c, h, w = x.shape
    ref = torch.stack([torch.stack([torch.stack([(x[k, i] * x[k, j]).sum() for j in range(c)]) for i in range(c)]) for k in range(b)])
    torch.testing.assert_close(gram_matrix(x), ref / (c * h * w))


def test_lrrnet_loss_matches_eq15():
    f, r, i = _feats(1), _feats(2), _feats(3)
    total, logs = lrrnet_tracking_loss(f, r, i)

    def msq(a):
        return (a**2).mean()

    ref = (
        10 * msq(f[0] - 3.0 * r[0])
        + 2.0 * msq(f[1] - (2.0 * i[1] + 1.0 * r[1]))
        + 2000 * msq(gram_matrix(f[2]) - (2.0 * gram_matrix(i[2]) + 1.0 * gram_matrix(r[2])))
    )
    torch.testing.assert_close(total, ref)
    assert set(logs) == {"loss", "shallow", "middle", "deep"}


def test_rfn_loss_matches_eq6_eq7():
    f, r, i = _feats(4), _feats(5), _feats(6)
    total, logs = rfn_tracking_loss(f, r, i, alpha=700, w_vi=3, w_ir=6, w1=(1, 10, 100))
    feature = sum(w * ((fm - (3 * rm + 6 * im)) ** 2).mean() for w, fm, rm, im in zip((1, 10, 100), f, r, i))
    torch.testing.assert_close(torch.tensor(logs["feature"], dtype=torch.float64), feature, rtol=1e-6, atol=0)
    assert total.item() == pytest.approx(700 * logs["detail"] + logs["feature"], rel=1e-9)
    # a fused map equal to the l1-rule target has zero detail loss
    from rgbtfuse.fusion import build_fusion

    l1 = build_fusion("l1", 4, window=1)
    perfect = [l1(rm, im) for rm, im in zip(r, i)]
    _, logs = rfn_tracking_loss(perfect, r, i, w1=(1, 1, 1))
    assert logs["detail"] == pytest.approx(0.0, abs=1e-6)


def test_losses_are_differentiable_and_decrease():
    f = [t.clone().requires_grad_(True) for t in _feats(7)]
    r, i = _feats(8), _feats(9)
    opt = torch.optim.SGD(f, lr=1e-4)
    first = None
    for _ in range(5):
        opt.zero_grad()
        loss, _ = lrrnet_tracking_loss(f, r, i)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_ssim_window_fits_small_maps():
    assert fitting_window(7, 7) == 7 and fitting_window(8, 30) == 7 and fitting_window(40, 40) == 11
    x = torch.rand(1, 3, 7, 7)
    assert feature_ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_point_targets_follow_the_ellipse_rule():
    import numpy as np

    from rgbtfuse.losses.tracking import point_grid, point_targets

    rng = np.random.default_rng(0)
    box = np.array([100.0, 110.0, 160.0, 150.0])  # centre (130, 130), 60 x 40
    cls, delta = point_targets(box, 16, 16, 255, rng, pos_num=1000, total_num=2000)
    pts = point_grid(16, 16, 127)
    inside = ((130 - pts[0]) / 15) ** 2 + ((130 - pts[1]) / 10) ** 2 < 1
    assert np.array_equal(cls == 1, inside)
    j, i = np.argwhere(cls == 1)[0]
    np.testing.assert_allclose(delta[:, j, i], [pts[0, j, i] - 100, pts[1, j, i] - 110, 160 - pts[0, j, i], 150 - pts[1, j, i]])
    cls, _ = point_targets(box, 16, 16, 255, rng)
    assert (cls == 1).sum() <= 16 and (cls == 0).sum() <= 48
    neg, _ = point_targets(box, 16, 16, 255, rng, negative=True)
    assert (neg == 1).sum() == 0 and (neg == 0).sum() > 0


def test_point_tracking_loss_is_low_for_a_perfect_head():
    from rgbtfuse.losses.tracking import point_tracking_loss

    label = torch.full((1, 4, 4), -1)
    label[0, 1, 1], label[0, 3, 3] = 1, 0
    target = torch.rand(1, 4, 4, 4) * 20 + 1
    good = torch.zeros(1, 2, 4, 4)
    good[0, 1, 1, 1], good[0, 0, 3, 3] = 20, 20
    loss, logs = point_tracking_loss(good, target, label, target)
    assert logs["loc"] == pytest.approx(0.0, abs=1e-6) and logs["cls"] < 1e-6
    bad, _ = point_tracking_loss(-good, target * 0.5, label, target)
    assert bad.item() > 1.0


def test_anchor_targets_follow_pysot():
    import numpy as np

    from rgbtfuse.losses.tracking import anchor_targets
    from rgbtfuse.trackers.grids import AnchorConfig, anchor_grid

    cfg = AnchorConfig()
    grid = anchor_grid(cfg, 25)
    rng = np.random.default_rng(0)
    box = np.array([97.0, 107.0, 157.0, 147.0])  # 60 x 40 at the crop centre (127, 127)
    cls, delta, weight = anchor_targets(box, grid, 25, 8, 255, rng, pos_num=1000, total_num=5000)
    a, j, i = np.argwhere(cls == 1)[0]
    cx, cy, w, h = grid.reshape(5, 25, 25, 4)[a, j, i] + np.array([127, 127, 0, 0])
    np.testing.assert_allclose(delta[:, a, j, i], [(127 - cx) / w, (127 - cy) / h, np.log(60 / w), np.log(40 / h)], rtol=1e-5)
    assert weight[cls == 1].sum() == pytest.approx(1.0, rel=1e-5)
    # the best-matching anchor (ratio 0.5·… nearest 60x40 at the centre) is positive
    assert cls[:, 12, 12].max() == 1
    neg_cls, _, _ = anchor_targets(box, grid, 25, 8, 255, rng, negative=True)
    assert (neg_cls == 1).sum() == 0 and 0 < (neg_cls == 0).sum() <= 16


def test_rpn_tracking_loss_trains_a_siamrpn_fusion():
    import yaml

    from rgbtfuse.trackers.builder import build_model
    from rgbtfuse.trackers.tracker.base import TrackConfig
    from rgbtfuse.training.fusion import FusionLoss

    cfg = yaml.safe_load(open("experiments/siamrpn_mobilev2_l234_rfn.yaml"))
    cfg["fusion"]["name"] = "rfn_light"
    torch.manual_seed(0)
    model = build_model(cfg, mode="fused")
    model.freeze_all_but_fusion()
    loss_fn = FusionLoss(model, {"name": "rfn", "alpha": 0.0, "w1": [0.0, 0.0, 0.0]}, 1.0, TrackConfig.from_dict(cfg["track"]))
    g = torch.Generator().manual_seed(1)
    batch = {
        "template_rgb": torch.rand(2, 3, 127, 127, generator=g) * 255,
        "template_ir": torch.rand(2, 3, 127, 127, generator=g) * 255,
        "search_rgb": torch.rand(2, 3, 255, 255, generator=g) * 255,
        "search_ir": torch.rand(2, 3, 255, 255, generator=g) * 255,
        "bbox": torch.tensor([[100.0, 100.0, 150.0, 160.0], [90.0, 110.0, 170.0, 140.0]]),
        "neg": torch.tensor([0.0, 1.0]),
    }
    loss, logs = loss_fn(batch)
    loss.backward()
    assert {"track_cls", "track_loc"} <= set(logs) and logs["track_loc"] > 0
    assert all(p.grad is not None for p in model.fusion.parameters())
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("fusion."))
