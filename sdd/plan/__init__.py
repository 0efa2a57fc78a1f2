"""The plan: params.yaml validated and resolved into the per-stage plan documents. The entry point and
overview is :mod:`.assemble`; the work is in :mod:`.schema`, :mod:`.arms`, :mod:`.validate`,
:mod:`.consistency` and :mod:`.documents`.
"""
