"""Gradient aligners: PCGrad invariants (Yu et al. 2020) and telemetry."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdd.train.align import ALIGNERS, gradient_telemetry, mean_update, pcgrad

vectors = st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=2, max_size=12)


@settings(max_examples=200, deadline=None)
@given(vectors, vectors)
def test_pcgrad_update_never_conflicts_with_either_path(a, b):
    n = min(len(a), len(b))
    g1, g2 = torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    update, info = pcgrad([g1, g2], torch.Generator().manual_seed(0))
    tol = 1e-9 * (1 + g1.norm() * g2.norm()).item()
    if torch.dot(g1, g2) < 0:
        # Each projected gradient is orthogonal to the other original; their mean cannot point
        # against either original.
        assert torch.dot(update, g1) >= -tol and torch.dot(update, g2) >= -tol
        assert info["projected"] == bool(g1.norm() > 0 and g2.norm() > 0)
    else:
        assert torch.allclose(update, (g1 + g2) / 2)
        assert not info["projected"]


def test_pcgrad_hand_computed():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # g1 - (<g1,g2>/|g2|^2) g2 = [1,0] + 0.5[-1,1] = [0.5, 0.5]; g2 - (-1/1) g1 = [0, 1]
    update, info = pcgrad([g1, g2])
    assert torch.allclose(update, torch.tensor([0.25, 0.75]))
    assert info["projected"]
    assert torch.dot(torch.tensor([0.5, 0.5]), g2).abs() < 1e-7


def test_pcgrad_zero_gradient_is_not_projected_onto():
    g1, g2 = torch.tensor([1.0, 2.0]), torch.zeros(2)
    update, info = pcgrad([g1, g2])
    assert torch.allclose(update, (g1 + g2) / 2) and not info["projected"]
    assert torch.isfinite(update).all()


def test_mean_update_is_gradient_of_mean_loss():
    g1, g2 = torch.randn(5, generator=torch.Generator().manual_seed(1)), torch.randn(5)
    update, _ = mean_update([g1, g2])
    assert torch.allclose(update, (g1 + g2) / 2)


def test_registry_names_match_config_choices():
    from sdd.train.params import ALIGN_CHOICES

    assert set(ALIGN_CHOICES.values()) == set(ALIGNERS)


def test_telemetry():
    t = gradient_telemetry(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]))
    assert t["conflict"] == 1.0 and math.isclose(t["cos"], -1 / np.sqrt(2), rel_tol=1e-6)
    assert math.isclose(t["norm_ratio"], 1 / np.sqrt(2), rel_tol=1e-6)
    assert gradient_telemetry(torch.ones(3), torch.ones(3))["conflict"] == 0.0
    assert gradient_telemetry(torch.ones(3), torch.zeros(3))["cos"] == 0.0


@pytest.mark.parametrize("name", sorted(ALIGNERS))
def test_aligners_are_deterministic_for_a_seed(name):
    gs = [torch.randn(100, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    a, _ = ALIGNERS[name](gs, torch.Generator().manual_seed(7))
    b, _ = ALIGNERS[name](gs, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
