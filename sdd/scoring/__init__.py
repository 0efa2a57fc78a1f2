"""Scoring: trained checkpoints and published models (:mod:`.score`, ``sdd score``), the scoring-only
arms of published weights (:mod:`.published`) and AttM's layer weights recorded while scoring
(:mod:`.attm_weights`). The score stage's call is :mod:`sdd.train.score_arm` (it loads trained arms).
"""
