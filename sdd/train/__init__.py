"""Training: the ``train`` section and arm config (:mod:`.params`), data pairs, regimes, gradient
aligners, checkpoint averaging."""
