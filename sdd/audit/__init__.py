"""The shortcut audit of the corpora (:mod:`.shortcuts`), the hand-feature baseline (:mod:`.baseline`) and
the class-balanced logistic regression they share with the probes (:mod:`.logistic`).
"""
