"""Image-level training losses of the image-fusion papers (NestFuse, RFN-Nest, LRRNet, DIDFuse).

Images are ``(B, 1, H, W)``. SSIM and MS-SSIM come from ``pytorch-msssim`` (Gaussian window
11, σ = 1.5, valid convolution); the authors' own variants differ in small ways, listed in
docs/image_fusion_training.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim, ssim

from rgbtfuse.losses.feature import feature_target_loss, gram_matrix
from rgbtfuse.losses.ssim import fitting_window


def image_ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 255.0, win_size: int = 11) -> torch.Tensor:
    """Five-scale MS-SSIM of ``x`` against ``y`` (pytorch-msssim), with a window that fits.

    pytorch-msssim needs ``min(H, W) > (win − 1)·16``: 256² training images get the standard
    11×11 window; smaller crops (tests, quick runs) get the largest odd window that fits, and
    below 33 pixels single-scale SSIM.
    """
    side = min(x.shape[-2:])
    win = min(win_size, (side - 1) // 16 + 1)
    win -= 1 - win % 2
    if win < 3:
        return ssim(x, y, data_range=data_range, win_size=fitting_window(side, side, win_size))
    return ms_ssim(x, y, data_range=data_range, win_size=win)


def batch_minmax(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``(x − min) / (max − min + eps)`` over the whole batch (RFN-Nest's training code)."""
    return (x - x.min()) / (x.max() - x.min() + eps)


def nest_autoencoder_loss(outputs: Sequence[torch.Tensor], image: torch.Tensor, ssim_weight: float = 100.0) -> tuple[torch.Tensor, dict[str, float]]:
    """NestFuse / RFN-Nest stage 1 (RFN-Nest Eq. 1): ``L_pixel + λ·L_ssim`` averaged over the outputs.

    ``L_pixel = ||O − I||²`` (mean over pixels, images in 0–255) and
    ``L_ssim = 1 − MS-SSIM(O, I)``; ``outputs`` has one image, or three with deep supervision.
    """
    pixel = sum(F.mse_loss(o, image) for o in outputs) / len(outputs)
    structure = sum(1 - image_ms_ssim(o, image, 255.0) for o in outputs) / len(outputs)
    total = pixel + ssim_weight * structure
    return total, {"loss": total.item(), "pixel": pixel.item(), "ssim": structure.item()}


def rfn_nest_fusion_loss(
    output: torch.Tensor,
    vis: torch.Tensor,
    fused: Sequence[torch.Tensor],
    ir_feats: Sequence[torch.Tensor],
    vis_feats: Sequence[torch.Tensor],
    alpha: float = 700.0,
    w_ir: float = 6.0,
    w_vi: float = 3.0,
    w1: Sequence[float] = (1.0, 10.0, 100.0, 1000.0),
) -> tuple[torch.Tensor, dict[str, float]]:
    """RFN-Nest stage 2 (Eq. 4–6): ``α·L_detail + L_feature``.

    ``L_detail = 1 − MS-SSIM(255·minmax(O), V)``: the decoded image, min-max scaled over the
    batch as the authors' ``train_fusionnet.py`` does, against the *visible* image (their
    ``ssim_vi`` model). ``L_feature = Σ_m w1(m)·||Φ_f^m − (w_ir·Φ_ir^m + w_vi·Φ_vi^m)||²``.
    """
    detail = 1 - image_ms_ssim(batch_minmax(output) * 255, vis, 255.0)
    feature = feature_target_loss(fused, vis_feats, ir_feats, w_vi, w_ir, w1)
    total = alpha * detail + feature
    return total, {"loss": total.item(), "detail": detail.item(), "feature": feature.item()}


def lrrnet_fusion_loss(
    fused: torch.Tensor,
    ir: torch.Tensor,
    vis: torch.Tensor,
    fused_feats: Sequence[torch.Tensor],
    ir_feats: Sequence[torch.Tensor],
    vis_feats: Sequence[torch.Tensor],
    gamma1: float = 10.0,
    gamma2: float = 1.5,
    beta2: float = 0.01,
    beta3: float = 0.5,
    gamma4: float = 2000.0,
    w_ir: float = 3.0,
    w_vi: float = 0.5,
) -> tuple[torch.Tensor, dict[str, float]]:
    """LRRNet's detail-to-semantic loss (Eq. 10–14) on VGG-16 ``relu1_2 … relu4_3`` features.

    ``γ1·||O − V||² + γ2·||Φ¹(O) − Φ¹(V)||² + Σ_{k=2,3} β_k·||Φ^k(O) − (w_ir·Φ^k(I) + w_vi·Φ^k(V))||²
    + γ4·||G(Φ⁴(O)) − G(Φ⁴(I))||²``; ``O`` is the fused image in 0–255 (``fused``), the feature
    lists hold relu1_2, relu2_2, relu3_3, relu4_3 of the loss network.
    """
    pixel = F.mse_loss(fused, vis)
    shallow = F.mse_loss(fused_feats[0], vis_feats[0])
    middle = [F.mse_loss(fused_feats[k], w_ir * ir_feats[k] + w_vi * vis_feats[k]) for k in (1, 2)]
    deep = F.mse_loss(gram_matrix(fused_feats[3]), gram_matrix(ir_feats[3]))
    total = gamma1 * pixel + gamma2 * shallow + beta2 * middle[0] + beta3 * middle[1] + gamma4 * deep
    logs = {"loss": total, "pixel": pixel, "shallow": shallow, "middle2": middle[0], "middle3": middle[1], "deep": deep}
    return total, {k: v.item() for k, v in logs.items()}


def sobel_gradient(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, C, 2, H, W)`` Sobel ∂x, ∂y, kernels divided by 8, replicate border.

    The operator of kornia's ``SpatialGradient()`` (DIDFuse's training code).
    """
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8
    kernel = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3)
    b, c, h, w = x.shape
    padded = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel).reshape(b, c, 2, h, w)


def didfuse_loss(
    ir: torch.Tensor,
    vis: torch.Tensor,
    ir_rec: torch.Tensor,
    vis_rec: torch.Tensor,
    ir_base: torch.Tensor,
    vis_base: torch.Tensor,
    ir_detail: torch.Tensor,
    vis_detail: torch.Tensor,
    alpha1: float = 0.05,
    alpha2: float = 2.0,
    alpha3: float = 2.0,
    alpha4: float = 10.0,
    lam: float = 5.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DIDFuse (Eq. 1–4): ``tanh(‖B_V − B_I‖) − α1·tanh(‖D_V − D_I‖) + α2·f(I, Î) + α3·f(V, V̂) + α4·‖∇V − ∇V̂‖₁``.

    ``f(X, X̂) = ||X − X̂||² + λ·(1 − SSIM(X, X̂))/2``; images in [0, 1]. As in the authors'
    ``train.py``, the feature gaps and the gradient term are mean absolute differences and ∇
    is the normalised Sobel operator (:func:`sobel_gradient`).
    """
    base = F.l1_loss(ir_base, vis_base)
    detail = F.l1_loss(ir_detail, vis_detail)

    def recon(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        s = ssim(x, x_hat, data_range=1.0, win_size=fitting_window(*x.shape[-2:], 11))
        return F.mse_loss(x, x_hat) + lam * (1 - s) / 2

    rec_ir, rec_vis = recon(ir, ir_rec), recon(vis, vis_rec)
    grad = F.l1_loss(sobel_gradient(vis), sobel_gradient(vis_rec))
    total = torch.tanh(base) - alpha1 * torch.tanh(detail) + alpha2 * rec_ir + alpha3 * rec_vis + alpha4 * grad
    logs = {"loss": total, "base": base, "detail": detail, "rec_ir": rec_ir, "rec_vis": rec_vis, "gradient": grad}
    return total, {k: v.item() for k, v in logs.items()}
