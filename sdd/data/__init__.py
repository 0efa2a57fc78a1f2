"""Corpora, manifests, the demo generator and audio I/O."""
