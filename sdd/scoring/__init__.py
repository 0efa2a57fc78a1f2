"""Scoring: trained checkpoints and published models (:mod:`.score`, ``sdd score``) and the scoring-only
arms of published weights (:mod:`.published`).
"""
