"""Siamese RGB-T trackers (SiamRPN++ as in pysot, NanoTrack) with per-scale feature fusion."""
