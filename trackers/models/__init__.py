"""Siamese models: backbones, necks, heads, and the RGB-T wrapper that fuses per scale."""
