"""Framework-independent seeded weights and inputs for the pysot parity tests.

The expected values in ``tests/fixtures/pysot_parity.json`` were produced by running pysot's own
``ModelBuilder``/``SiamRPNTracker`` (STVIR/pysot, CPU) on exactly these tensors; the tests
rebuild them here from the recorded key list, so both sides load identical weights.
"""

from __future__ import annotations

import zlib

import numpy as np

SEED = 20240611


def seeded_state_dict(shapes: dict[str, list[int]], seed: int = SEED) -> dict[str, np.ndarray]:
    """One ``RandomState`` per key (seeded by ``seed`` and the key's CRC32), values by role.

    Scales keep activations of a random ResNet-50 in a sane range on raw 0–255 input: conv
    weights ``N(0, 1/fan_in)`` (the first conv, seeing 0–255 pixels, another ``1/255``; the heads'
    output convs another ``0.02`` so logits and box deltas are of order 1).
    """
    out = {}
    for key in sorted(shapes):
        shape = tuple(shapes[key])
        rng = np.random.RandomState((seed + zlib.crc32(key.encode())) % 2**32)
        if key.endswith("num_batches_tracked"):
            out[key] = np.zeros(shape, np.int64)
            continue
        if len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            std = np.sqrt(1.0 / fan_in) / (255.0 if shape[1] == 3 else 1.0)
            if key.endswith("head.3.weight"):  # DepthwiseXCorr output conv → logits/deltas of order 1
                std *= 0.02
            value = rng.standard_normal(shape) * std
        elif key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("running_mean"):
            value = rng.standard_normal(shape) * 0.1
        elif key.endswith(("cls_weight", "loc_weight")):
            value = rng.standard_normal(shape)
        elif key.endswith(".weight"):  # BN gamma
            value = rng.uniform(0.5, 1.5, shape)
        else:  # BN beta, conv bias
            value = rng.standard_normal(shape) * 0.1
        out[key] = value.astype(np.float32)
    return out


def seeded_image(shape: tuple[int, ...], seed: int = SEED) -> np.ndarray:
    """Uniform 0–255 values (float32) of ``shape``, e.g. a ``(1, 3, 255, 255)`` crop."""
    return np.random.RandomState(seed).randint(0, 256, shape).astype(np.float32)
