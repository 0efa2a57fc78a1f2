"""Training: data pairs, regimes, gradient aligners, checkpoint averaging."""
