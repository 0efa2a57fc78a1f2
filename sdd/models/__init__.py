"""Backbones (transformers SSL models), heads and the detector that joins them."""
