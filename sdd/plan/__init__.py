"""The plan: params.yaml validated and resolved into the per-stage plan documents (:mod:`.assemble`).
"""
