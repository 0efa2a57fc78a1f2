"""Data augmentation, from the bottom up: the waveform conventions and level rule (:mod:`.waveform`),
pure functions on waveforms (RawBoost in :mod:`.rawboost`, the rest in :mod:`.functional`, the codec
table in :mod:`.codecs`), the op registry with typed parameters (:mod:`.ops`) and the ops'
implementations (:mod:`.apply`), policies composing ops (:mod:`.policies`), the ``augment`` params
section validated against them (:mod:`.params`), the precompute stage (:mod:`.precompute`) and the
figures (:mod:`.figures`). Validation (:mod:`.params`, :mod:`.policies`, :mod:`.ops`) imports no signal
processing. Import from those modules; this file re-exports nothing, so importing one of them does
not pull in the others.
"""
