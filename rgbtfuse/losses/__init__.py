"""Feature-level fusion losses of RFN-Nest and LRRNet, for training fusion modules."""

from rgbtfuse.losses.feature import gram_matrix, lrrnet_tracking_loss, rfn_tracking_loss
from rgbtfuse.losses.ssim import feature_ssim

__all__ = ["feature_ssim", "gram_matrix", "lrrnet_tracking_loss", "rfn_tracking_loss"]
