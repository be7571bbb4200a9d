"""Image-fusion quality metrics, numerically matched to the MATLAB code of the fusion papers.

Every metric is a function ``metric(fused, ir, vis) -> float`` on gray ``(H, W)`` images on the
0–255 scale (uint8 or float). Where the papers' MATLAB deviates from the textbook definition,
both exist under plain names (``std`` / ``sd_li``, ``mi`` / ``mi_li``, ``nabf`` / ``nabf_li``,
``vif`` / ``vif_li``); ``docs/metrics.md`` lists sources, ranges and measured parity.

Example:
    >>> from rgbtfuse.metrics import compute
    >>> compute(["en", "mi", "qabf"], fused, ir, vis)  # doctest: +SKIP
    {'en': 7.006..., 'mi': 2.34..., 'qabf': 0.4...}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from rgbtfuse.metrics.edges import nabf, nabf_li, qabf
from rgbtfuse.metrics.information import fmi, fmi_dct, fmi_w, mi, mi_li, mutual_information
from rgbtfuse.metrics.statistics import (
    average_gradient,
    correlation_coefficient,
    entropy,
    psnr,
    scd,
    sd_li,
    spatial_frequency,
    std,
)
from rgbtfuse.metrics.structural import mef_ssim, ms_ssim, ms_ssim_pair, ms_ssim_scales, ssim, ssim_a
from rgbtfuse.metrics.vif import vif, vif_li, vif_pair


@dataclass(frozen=True)
class Metric:
    """A registered fusion metric: ``fn(fused, ir, vis)``; ``higher_is_better`` picks the best method."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    higher_is_better: bool = True
    label: str = ""


def _fused_only(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    def metric(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
        return fn(fused)

    metric.__doc__ = fn.__doc__
    metric.__name__ = fn.__name__
    return metric


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("en", _fused_only(entropy), label="EN"),
        Metric("std", _fused_only(std), label="SD"),
        Metric("sd_li", _fused_only(sd_li), label="SD (Li)"),
        Metric("mi", mi, label="MI"),
        Metric("mi_li", mi_li, label="MI (Li)"),
        Metric("nabf", nabf, higher_is_better=False, label="Nabf"),
        Metric("nabf_li", nabf_li, higher_is_better=False, label="Nabf (Li)"),
        Metric("scd", scd, label="SCD"),
        Metric("mef_ssim", mef_ssim, label="MEF-SSIM"),
        Metric("ms_ssim", ms_ssim, label="MS-SSIM"),
        Metric("ssim_a", ssim_a, label="SSIM_a"),
        Metric("fmi_dct", fmi_dct, label="FMI_dct"),
        Metric("fmi_w", fmi_w, label="FMI_w"),
        Metric("vif", vif, label="VIF"),
        Metric("vif_li", vif_li, label="VIF (Li)"),
        Metric("qabf", qabf, label="Qabf"),
        Metric("sf", _fused_only(spatial_frequency), label="SF"),
        Metric("ag", _fused_only(average_gradient), label="AG"),
        Metric("psnr", psnr, label="PSNR"),
        Metric("cc", correlation_coefficient, label="CC"),
    )
}


def compute(names: Iterable[str], fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> dict[str, float]:
    """Evaluate the named metrics on one (fused, ir, vis) triple."""
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    return {n: METRICS[n].fn(fused, ir, vis) for n in names}


__all__ = [
    "METRICS",
    "Metric",
    "compute",
    "average_gradient",
    "correlation_coefficient",
    "entropy",
    "fmi",
    "fmi_dct",
    "fmi_w",
    "mef_ssim",
    "mi",
    "mi_li",
    "ms_ssim",
    "ms_ssim_pair",
    "ms_ssim_scales",
    "mutual_information",
    "nabf",
    "nabf_li",
    "psnr",
    "qabf",
    "scd",
    "sd_li",
    "spatial_frequency",
    "ssim",
    "ssim_a",
    "std",
    "vif",
    "vif_li",
    "vif_pair",
]
