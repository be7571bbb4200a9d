"""Reading the RGB and IR frame of a sequence, with the size check every tracker needs."""

from __future__ import annotations

import cv2
import numpy as np

from rgbtfuse.data import Sequence
from rgbtfuse.errors import ConfigError, SizeMismatchError
from rgbtfuse.imageio import read_image

ALIGN = ("none", "resize")


class FrameReader:
    """``reader(i) -> (rgb, ir)``: BGR uint8 ``(H, W, 3)`` and IR uint8 ``(H, W)`` or ``(H, W, 3)``,
    ``None`` for a modality that is not needed. RGB and IR must have the same size unless
    ``align="resize"`` (IR resized to the RGB size)."""

    def __init__(self, seq: Sequence, need_rgb: bool = True, need_ir: bool = True, align: str = "none"):
        if align not in ALIGN:
            raise ConfigError(f"align {align!r}: expected one of {', '.join(ALIGN)}")
        self.seq, self.need_rgb, self.need_ir, self.align = seq, need_rgb, need_ir, align

    def __call__(self, i: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        rgb = read_image(self.seq.rgb_frames[i], "bgr") if self.need_rgb else None
        ir = read_image(self.seq.ir_frames[i], "unchanged") if self.need_ir else None
        if rgb is not None and ir is not None and rgb.shape[:2] != ir.shape[:2]:
            if self.align != "resize":
                raise SizeMismatchError(
                    self.seq.rgb_frames[i], rgb.shape, self.seq.ir_frames[i], ir.shape, "pass --align resize to resize IR to the RGB size"
                )
            ir = cv2.resize(ir, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        return rgb, ir
