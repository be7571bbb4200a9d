"""rgbtfuse: RGB-T tracking with feature-level fusion, and infrared/visible image fusion."""

from rgbtfuse.errors import RgbtfuseError

__version__ = "0.1.0"
__all__ = ["RgbtfuseError", "__version__"]
