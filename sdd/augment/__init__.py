"""Data augmentation, from the bottom up: pure functions on waveforms (:mod:`.functional`), named ops
with typed parameters and their registry (:mod:`.ops`), policies composing ops (:mod:`.policies`), the
``augment`` params section validated against them (:mod:`.params`), the precompute stage
(:mod:`.precompute`) and report figures (:mod:`.report`). Import from those modules; this file
re-exports nothing, so importing one of them does not pull in the others.
"""
