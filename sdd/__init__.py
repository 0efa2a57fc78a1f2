"""sdd: a reproducible DVC pipeline for speech deepfake detection research."""

__version__ = "0.1.0"
