"""Training images for the image-fusion recipes: plain folders, IR/visible pair folders, LMDB crops.

Every dataset is indexed by the Trainer's key ``(index, sample_seed)`` and returns the same
tensors for the same key (random crops draw from a generator seeded with the key). Images are
8-bit gray; colour images are converted to luma Y (BT.601, what ``cv2.COLOR_BGR2GRAY`` and PIL's
``convert('L')`` compute). Tensors are ``(1, S, S)`` float32 in 0–255; each recipe scales them
as its authors' code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError, DatasetLayoutError
from rgbtfuse.imageio import check_same_size, list_images, pair_folders, read_image

_INTERP = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
#: sub-folder names accepted for the two modalities of a pair folder
IR_NAMES = ("ir", "IR", "lwir", "infrared")
VIS_NAMES = ("vi", "VI", "vis", "VIS", "visible")


@dataclass
class DataConfig:
    """``data:`` block of an image-fusion experiment yaml.

    ``root``: a pair folder (``ir/`` + ``vi/``), a plain image folder (stage 1 of NestFuse /
    RFN-Nest), or an LMDB crop cache built by ``rgbtfuse prepare`` (``index.json`` inside).
    ``geometry``: ``resize`` to ``size × size`` (Li et al.), ``center_crop`` (DIDFuse),
    ``random_crop`` (a new crop per sample). ``interpolation`` applies to ``resize``; images
    smaller than a crop are resized up first (keeping aspect) so the crop fits.
    """

    root: str = ""
    size: int = 256
    geometry: str = "resize"
    interpolation: str = "nearest"
    limit: int | None = None  # use only the first N images / pairs (natural order)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> DataConfig:
        out = from_dict(cls, cfg, "data", noun="data options")
        if not out.root:
            raise ConfigError("data.root is required")
        if isinstance(out.size, bool) or not isinstance(out.size, int) or out.size < 1:
            raise ConfigError(f"data.size must be a positive number of pixels, got {out.size!r}")
        if out.limit is not None and (isinstance(out.limit, bool) or not isinstance(out.limit, int) or out.limit < 1):
            raise ConfigError(f"data.limit must be a positive number of images, got {out.limit!r}")
        if out.geometry not in ("resize", "center_crop", "random_crop"):
            raise ConfigError(f"data.geometry {out.geometry!r}: use resize, center_crop or random_crop")
        if out.interpolation not in _INTERP:
            raise ConfigError(f"data.interpolation {out.interpolation!r}: use {', '.join(_INTERP)}")
        return out


def shape_image(img: np.ndarray, cfg: DataConfig, rng: np.random.Generator | None) -> np.ndarray:
    """Bring a gray ``(H, W)`` image to ``size × size`` as the config says."""
    s = cfg.size
    if cfg.geometry == "resize":
        return cv2.resize(img, (s, s), interpolation=_INTERP[cfg.interpolation])
    h, w = img.shape
    if min(h, w) < s:  # too small to crop: scale the short side up to s
        k = s / min(h, w)
        img = cv2.resize(img, (max(s, round(w * k)), max(s, round(h * k))), interpolation=cv2.INTER_LINEAR)
        h, w = img.shape
    if cfg.geometry == "center_crop":  # torchvision CenterCrop's rounding
        y, x = round((h - s) / 2.0), round((w - s) / 2.0)
    else:
        assert rng is not None
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    return img[y : y + s, x : x + s]


def _shape_pair(ir: np.ndarray, vis: np.ndarray, cfg: DataConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    # the same generator state for both: a random crop takes the same window of each modality
    ir = shape_image(ir, cfg, np.random.default_rng(seed))
    vis = shape_image(vis, cfg, np.random.default_rng(seed))
    return _tensor(ir), _tensor(vis)


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None]


def _find_sub(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_dir()), None)


class GrayFolderDataset(Dataset):
    """Every image of a folder (a pair folder contributes both modalities): ``(1, S, S)`` tensors."""

    def __init__(self, cfg: DataConfig):
        root = Path(cfg.root)
        if not root.is_dir():
            raise DatasetLayoutError(f"{root}: training image folder not found")
        subs = [d for d in (_find_sub(root, IR_NAMES), _find_sub(root, VIS_NAMES)) if d is not None]
        files = [p for d in (subs or [root]) for p in list_images(d)[0]]
        if cfg.limit:
            files = files[: cfg.limit]
        if not files:
            raise DatasetLayoutError(f"{root}: no images (png, jpg, bmp, tif, ...) in it or in ir/, vi/")
        self.files = files
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        img = read_image(self.files[index], mode="gray")
        return _tensor(shape_image(img, self.cfg, np.random.default_rng(seed)))


class PairFolderDataset(Dataset):
    """Aligned ``(ir, vis)`` pairs from ``root/ir`` + ``root/vi`` (paired by file stem)."""

    def __init__(self, cfg: DataConfig):
        root = Path(cfg.root)
        ir_dir, vis_dir = _find_sub(root, IR_NAMES), _find_sub(root, VIS_NAMES)
        if ir_dir is None or vis_dir is None:
            raise DatasetLayoutError(
                f"{root}: a pair folder needs an infrared sub-folder ({'/'.join(IR_NAMES)}) and a visible one ({'/'.join(VIS_NAMES)})"
            )
        pairs = pair_folders(ir_dir, vis_dir)
        self.pairs = pairs[: cfg.limit] if cfg.limit else pairs
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        ir_path, vis_path = self.pairs[index]
        ir, vis = read_image(ir_path, mode="gray"), read_image(vis_path, mode="gray")
        check_same_size(ir_path, ir, vis_path, vis, "training pairs must be aligned")
        return _shape_pair(ir, vis, self.cfg, seed)


class CropCachePairDataset(Dataset):
    """``(ir, vis)`` pairs from an LMDB crop cache of an RGB-T tracking dataset (``rgbtfuse prepare``)."""

    def __init__(self, cfg: DataConfig):
        from rgbtfuse.data.lmdb_cache import CropCache

        self.cache = CropCache(cfg.root)
        keys = [(s["name"], int(f if isinstance(f, int) else f[0])) for s in self.cache.index["sequences"] for f in s["frames"]]
        self.keys = keys[: cfg.limit] if cfg.limit else keys
        if not self.keys:
            raise DatasetLayoutError(f"{cfg.root}: the crop cache holds no frames")
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        rgb, ir = self.cache.pair(*self.keys[index])
        return _shape_pair(cv2.cvtColor(ir, cv2.COLOR_BGR2GRAY), cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY), self.cfg, seed)


def build_dataset(cfg: DataConfig, pairs: bool) -> Dataset:
    """Pair dataset (``pairs=True``: LMDB cache or pair folder) or single-image dataset."""
    root = Path(cfg.root)
    if pairs:
        return CropCachePairDataset(cfg) if (root / "index.json").is_file() else PairFolderDataset(cfg)
    if (root / "index.json").is_file():
        raise ConfigError(f"{root}: an LMDB crop cache holds pairs; this recipe trains on single images (give an image folder)")
    return GrayFolderDataset(cfg)
