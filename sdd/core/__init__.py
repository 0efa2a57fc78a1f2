"""Plumbing every other part builds on: atomic writes (:mod:`.atomic`), repository paths
(:mod:`.paths`), fault points for the kill tests (:mod:`.faults`), the stage contract
(:mod:`.stage`), building and validating config sections (:mod:`.configbase`) and the small
sections of single-module stages (:mod:`.sections`).
"""
