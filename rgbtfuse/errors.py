"""One exception hierarchy for everything a user can get wrong.

Catch :class:`RgbtfuseError` to handle any bad-input condition; each subclass names the
file, line or key at fault in its message.
"""

from __future__ import annotations

from pathlib import Path


class RgbtfuseError(Exception):
    """Base class of every error rgbtfuse raises for bad input."""


class ConfigError(RgbtfuseError):
    """An experiment yaml or a command-line option is invalid."""


class ImageReadError(RgbtfuseError):
    """An image file is missing, unreadable or corrupt."""

    def __init__(self, path: str | Path, reason: str = "cannot be read as an image"):
        self.path = Path(path)
        super().__init__(f"{path}: {reason}")


class SizeMismatchError(RgbtfuseError):
    """Two images (or frames) that must be aligned have different sizes."""

    def __init__(self, path_a: str | Path, shape_a: tuple, path_b: str | Path, shape_b: tuple, hint: str = ""):
        self.paths = (Path(path_a), Path(path_b))
        msg = f"size mismatch: {path_a} is {shape_a[1]}x{shape_a[0]} but {path_b} is {shape_b[1]}x{shape_b[0]}"
        super().__init__(msg + (f" ({hint})" if hint else ""))


class PairingError(RgbtfuseError):
    """Folders of infrared and visible images do not pair up by file name."""


class CheckpointError(RgbtfuseError):
    """A checkpoint does not fit the model: missing/unexpected keys or wrong shapes."""


class AnnotationError(RgbtfuseError):
    """A ground-truth file is malformed; the message names ``file:line``."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


class DatasetLayoutError(RgbtfuseError):
    """A dataset folder does not have the layout its reader expects."""


class MissingFrameError(RgbtfuseError):
    """A frame listed by a sequence is absent in one modality."""


class InitBoxError(RgbtfuseError):
    """A tracker initialisation box is empty or lies outside the image."""


class ImageSizeError(RgbtfuseError):
    """An image is too small (or otherwise sized wrongly) for the network that must process it."""


class MetricInputError(RgbtfuseError):
    """An image cannot be scored by a metric (e.g. smaller than the metric's windows)."""


class WeightsError(RgbtfuseError):
    """A weights file is unknown, fails its checksum, or cannot be downloaded."""


class VotError(RgbtfuseError):
    """The VOT toolkit is missing, a workspace is invalid, or a tracker crashed or timed out
    during an evaluation (the message names the toolkit's log file)."""


class ExportError(RgbtfuseError):
    """A model (or one of its modules, named in the message) cannot be exported to ONNX, or the
    exported graph does not reproduce the PyTorch outputs."""


class ResultFileError(RgbtfuseError):
    """A tracker's result file is missing, unparsable (``file:line``) or has the wrong number of lines."""


class OutputError(RgbtfuseError):
    """An output folder is in use by another run, holds a run that would be lost, or cannot be written."""
