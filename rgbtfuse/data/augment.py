"""Training augmentation on context crops: geometry shared by both modalities, photometry per modality.

:class:`GeometricAug` is pysot's ``Augmentation`` shift/scale/flip (``pysot/datasets/augmentation.py``):
a window of side ``out_size - 1`` centred in the crop is scaled by ``1 ± scale`` per axis, shifted
by up to ``± shift`` pixels (kept inside the crop) and resampled to ``out_size``; one draw is
applied to the RGB and the IR crop alike, so they stay pixel-aligned. :class:`PhotometricAug` is
drawn separately for each modality. Randomness comes only from the ``numpy.random.Generator``
passed in, so a sample is a function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rgbtfuse.errors import ConfigError

# pysot's colour PCA (ImageNet RGB eigenvectors scaled by eigenvalues)
_RGB_VAR = np.array(
    [[-0.55919361, 0.98062831, -0.41940627], [1.72091413, 0.19879334, -1.82968581], [4.64467907, 4.73710203, 4.88324118]],
    dtype=np.float32,
)


def _uniform(rng: np.random.Generator) -> float:
    return rng.random() * 2 - 1


@dataclass
class GeometricAug:
    """pysot shift (pixels), scale (fraction) and horizontal flip (probability)."""

    shift: float = 0.0
    scale: float = 0.0
    flip: float = 0.0

    def __call__(
        self, images: list[np.ndarray], box: np.ndarray, out_size: int, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Crop ``out_size`` patches of every image in ``images`` (all the same size) with one draw.

        ``box``: target corners ``(x1, y1, x2, y2)`` in the input; returns them in the output.
        """
        im_h, im_w = images[0].shape[:2]
        cx, cy = im_w // 2, im_h // 2
        w = h = out_size - 1
        sx = sy = 1.0
        if self.scale:
            sx = min(1 + _uniform(rng) * self.scale, im_w / w)
            sy = min(1 + _uniform(rng) * self.scale, im_h / h)
            w, h = w * sx, h * sy
        x1, y1 = cx - w / 2, cy - h / 2
        if self.shift:
            dx, dy = _uniform(rng) * self.shift, _uniform(rng) * self.shift
            x1 += max(-x1, min(im_w - 1 - (x1 + w), dx))
            y1 += max(-y1, min(im_h - 1 - (y1 + h), dy))
        flip = bool(self.flip) and self.flip > rng.random()
        ax, ay = (out_size - 1) / w, (out_size - 1) / h
        mapping = np.array([[ax, 0, -ax * x1], [0, ay, -ay * y1]])
        out_box = np.array([(box[0] - x1) * ax, (box[1] - y1) * ay, (box[2] - x1) * ax, (box[3] - y1) * ay])
        if flip:
            mapping = np.array([[-1, 0, out_size - 1], [0, 1, 0]]) @ np.vstack([mapping, [0, 0, 1]])
            out_box = np.array([out_size - 1 - out_box[2], out_box[1], out_size - 1 - out_box[0], out_box[3]])
        crops = [
            cv2.warpAffine(img, mapping, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            for img in images
        ]
        return crops, out_box


@dataclass
class PhotometricAug:
    """Per-modality appearance changes; each field is the probability (``brightness``: the range).

    * ``color``: pysot's PCA colour offset (for RGB; it would tint a thermal image);
    * ``blur``: pysot's random line kernel (5-45 px, mixed horizontal/vertical);
    * ``gray``: replace colour by its gray value (drawn once per sample, template and search alike);
    * ``brightness``: multiply by ``1 + U(-b, b)`` (a thermal gain change).

    Like pysot, values are not clipped to 0-255.
    """

    color: float = 0.0
    blur: float = 0.0
    gray: float = 0.0
    brightness: float = 0.0

    def __post_init__(self) -> None:
        for name in ("color", "blur", "gray"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"augmentation {name} is a probability, got {getattr(self, name)}")

    def draw_gray(self, rng: np.random.Generator) -> bool:
        return bool(self.gray) and self.gray > rng.random()

    def __call__(self, image: np.ndarray, rng: np.random.Generator, gray: bool = False) -> np.ndarray:
        """``(H, W, 3)`` uint8/float BGR → float32."""
        if gray:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        image = image.astype(np.float32)
        if self.color and self.color > rng.random():
            offset = (_RGB_VAR @ rng.standard_normal(3).astype(np.float32))[::-1]  # RGB → BGR
            image = image - offset
        if self.blur and self.blur > rng.random():
            image = cv2.filter2D(image, -1, _line_kernel(rng))
        if self.brightness:
            image = image * np.float32(1 + _uniform(rng) * self.brightness)
        return image


def _line_kernel(rng: np.random.Generator) -> np.ndarray:
    size = int(rng.choice(np.arange(5, 46, 2)))
    kernel = np.zeros((size, size), np.float32)
    c, wx = size // 2, rng.random()
    kernel[:, c] += wx / size
    kernel[c, :] += (1 - wx) / size
    return kernel


@dataclass
class ModalityDropout:
    """Simulate a failed sensor: with probability ``p`` one modality (RGB or IR, equally likely) is blanked.

    ``fill``: ``zero`` (black frame), ``mean`` (the crop's mean, no structure) or ``noise``
    (uniform 0-255). By default only the search crop fails: the template comes from the
    initialisation frame, where both sensors worked.
    """

    p: float = 0.0
    fill: str = "zero"
    template_too: bool = False

    def __post_init__(self) -> None:
        if self.fill not in ("zero", "mean", "noise"):
            raise ConfigError(f"modality dropout fill must be zero, mean or noise, got {self.fill!r}")

    def draw(self, rng: np.random.Generator) -> str | None:
        """The modality that fails in this sample (``'rgb'``/``'ir'``) or None."""
        if not self.p or self.p <= rng.random():
            return None
        return "rgb" if rng.random() < 0.5 else "ir"

    def blank(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.fill == "zero":
            return np.zeros_like(image)
        if self.fill == "mean":
            return np.full_like(image, image.mean())
        return rng.uniform(0, 255, image.shape).astype(image.dtype)


@dataclass
class SensorFailure:
    """A realistic sensor failure on one modality of the search crop (:mod:`rgbtfuse.data.degrade`).

    With probability ``p`` one modality (RGB with probability ``rgb_share``, else IR) gets one of
    its ``rgb``/``ir`` kinds (drawn uniformly) at a strength drawn from ``strength = [lo, hi]``;
    ``template_too`` also degrades the template (the failure was already there at initialisation).
    The kinds are :data:`rgbtfuse.data.degrade.DEGRADATIONS` names (``night``, ``overexposure``,
    ``blur``, ``crossover``, ``washout``, ``occlusion``, ``dropout``). Applied to the uint8 crops
    after the geometry and before the photometric augmentation; the occluder uses the target box.
    """

    p: float = 0.0
    rgb: tuple[str, ...] = ("night", "overexposure", "blur", "occlusion", "dropout")
    ir: tuple[str, ...] = ("crossover", "washout", "blur", "occlusion", "dropout")
    strength: tuple[float, float] = (0.5, 1.0)
    rgb_share: float = 0.5
    template_too: bool = False

    def __post_init__(self) -> None:
        from rgbtfuse.data.degrade import DEGRADATIONS

        if not 0 <= self.p <= 1 or not 0 <= self.rgb_share <= 1:
            raise ConfigError(f"sensor failure p and rgb_share are probabilities, got {self.p}, {self.rgb_share}")
        self.rgb, self.ir = tuple(self.rgb), tuple(self.ir)
        for modality in ("rgb", "ir"):
            if bad := [k for k in getattr(self, modality) if k not in DEGRADATIONS]:
                raise ConfigError(f"data.pairs.degrade.{modality}: unknown kinds {bad}; known: {sorted(DEGRADATIONS)}")
        lo, hi = (float(v) for v in self.strength)
        if not 0 <= lo <= hi <= 1:
            raise ConfigError(f"data.pairs.degrade.strength must be [lo, hi] within [0, 1], got {self.strength}")
        self.strength = (lo, hi)

    def draw(self, rng: np.random.Generator) -> tuple[str, str, float] | None:
        """``(modality, kind, strength)`` of this sample's failure, or None."""
        if not self.p or self.p <= rng.random():
            return None
        modality = "rgb" if rng.random() < self.rgb_share else "ir"
        kinds = getattr(self, modality)
        if not kinds:
            return None
        kind = kinds[int(rng.integers(len(kinds)))]
        return modality, kind, float(rng.uniform(*self.strength))

    @staticmethod
    def apply(image: np.ndarray, kind: str, strength: float, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade one ``(H, W, 3)`` uint8 crop; ``box`` = target corners. A crop with equal channels
        (thermal replicated to 3) is degraded as one channel and replicated again."""
        from rgbtfuse.data.degrade import DEGRADATIONS

        xywh = np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]], np.float64)
        gray = image.ndim == 3 and np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2])
        if gray:
            out = DEGRADATIONS[kind](np.ascontiguousarray(image[..., 0]), rng, xywh, strength)
            return np.repeat(out[..., None], 3, axis=2)
        return DEGRADATIONS[kind](image, rng, xywh, strength)
