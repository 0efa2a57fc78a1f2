"""Gradient aligners against the papers' formulas and the authors' code, restated on flat vectors.

Oracles: DPDA-GA's PCGrad / GradVac / CAGrad loops (ductuantruong/dpda_ga, grad_align/*.py) and
Gradient Remedy's per-tensor rule (YUCHEN005/Gradient-Remedy, trainer_gradient_remedy.py), written
here from methods.md on flattened vectors, plus invariants (PCGrad never conflicts, GradVac reaches
its target cosine, CAGrad minimises its objective, GR's rotation angle).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdd.train.align import (
    ALIGNERS,
    align,
    align_,
    cagrad,
    gr,
    gradient_telemetry,
    gradvac,
    make_aligner,
    mean_update,
    pcgrad,
)
from sdd.train.align.cagrad import cagrad_simplex
from sdd.train.align.core import gram
from sdd.train.align.gradvac import GradVac, gradvac_adjustments
from sdd.train.align.pcgrad import pcgrad_projections
from sdd.train.params import ALIGN_CHOICES, AlignerParams, GradVacParams, resolve_aligner

vectors = st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=2, max_size=12)


def rand(n, seed, scale=1.0):
    return scale * torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def flat_gram(g1, g2):
    return gram([g1], [g2])


# ------------------------------------------------------------------------------------------- PCGrad


def dpda_pcgrad(grads, order_seed=0):
    """DPDA's PCGrad: for each copy g_i, for each ORIGINAL g_j in random order, project on conflict."""
    rng = np.random.default_rng(order_seed)
    projected = []
    for g in grads:
        g_i = g.clone()
        for j in rng.permutation(len(grads)):
            d = torch.dot(g_i, grads[j])
            if d < 0:
                g_i = g_i - d / grads[j].norm() ** 2 * grads[j]
        projected.append(g_i)
    return torch.stack(projected).mean(0)


@settings(max_examples=200, deadline=None)
@given(vectors, vectors)
def test_pcgrad_update_never_conflicts_with_either_path(a, b):
    n = min(len(a), len(b))
    g1, g2 = torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    update, info = pcgrad([g1, g2])
    tol = 1e-9 * (1 + g1.norm() * g2.norm()).item()
    if torch.dot(g1, g2) < 0:
        # Each projected gradient is orthogonal to the other original; their mean cannot point
        # against either original.
        assert torch.dot(update, g1) >= -tol and torch.dot(update, g2) >= -tol
        assert info.flags["projected"] == float(g1.norm() > 0 and g2.norm() > 0)
    else:
        assert torch.allclose(update, (g1 + g2) / 2)
        assert info.flags["projected"] == 0.0


@settings(max_examples=200, deadline=None)
@given(vectors, vectors)
def test_pcgrad_each_projected_gradient_ends_without_conflict_and_matches_dpda(a, b):
    n = min(len(a), len(b))
    g1, g2 = torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    coef, projected = pcgrad_projections(flat_gram(g1, g2))
    g1p, g2p = (coef[0, i, 0] * g1 + coef[0, i, 1] * g2 for i in range(2))
    scale = 1 + g1.norm() * g2.norm()
    if projected[0]:
        assert torch.dot(g1p, g2) >= -1e-6 * scale and torch.dot(g2p, g1) >= -1e-6 * scale
    else:
        assert torch.equal(g1p, g1) and torch.equal(g2p, g2), "identity without conflict"
    update, _ = pcgrad([g1, g2])
    if g1.norm() > 0 and g2.norm() > 0:
        torch.testing.assert_close(update, dpda_pcgrad([g1, g2]), rtol=1e-9, atol=1e-9 * float(scale))


def test_pcgrad_hand_computed():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # g1 - (<g1,g2>/|g2|^2) g2 = [1,0] + 0.5[-1,1] = [0.5, 0.5]; g2 - (-1/1) g1 = [0, 1]
    update, info = pcgrad([g1, g2])
    assert torch.allclose(update, torch.tensor([0.25, 0.75]))
    assert info.flags["projected"] == 1.0 and info.conflict == 1.0


def test_zero_gradients_are_guarded():
    g1, g2 = torch.tensor([1.0, 2.0]), torch.zeros(2)
    for fn in (pcgrad, gradvac, cagrad, gr, mean_update):
        update, info = fn([g1, g2])
        assert torch.isfinite(update).all(), fn.__name__
        update, _ = fn([g2, g2])
        assert torch.isfinite(update).all() and torch.equal(update, torch.zeros(2)), fn.__name__
    assert pcgrad([g1, g2])[1].flags["projected"] == 0.0


# ------------------------------------------------------------------------------------------ GradVac


def dpda_gradvac_step(g, rho_t, beta, ema):
    """DPDA's GradVac on flat vectors; rho_t is the (2, 2) target matrix, updated in place."""
    pc = [x.clone() for x in g]
    for i in range(2):
        j = 1 - i
        rho = torch.dot(pc[i], g[j]) / (pc[i].norm() * g[j].norm() + 1e-8)
        t = rho_t[i, j]
        if rho < t:
            w = pc[i].norm() * (t * (1 - rho**2).sqrt() - rho * (1 - t**2).sqrt()) / (
                g[j].norm() * (1 - t**2).sqrt() + 1e-8)
            pc[i] = pc[i] + w * g[j]
        if ema == "paper" or rho > 0:
            rho_t[i, j] = (1 - beta) * t + beta * rho
    return (pc[0] + pc[1]) / 2


@pytest.mark.parametrize("ema", ["dpda", "paper"])
def test_gradvac_follows_dpda_over_steps_and_its_ema(ema):
    state = GradVac("global", beta=0.5, ema=ema)
    rho_t = torch.zeros(2, 2, dtype=torch.float64)
    for step in range(12):
        g = [rand(50, 2 * step), rand(50, 2 * step + 1) + (0.8 if step % 3 else -0.8) * rand(50, 2 * step)]
        before = 0.0 if state.target is None else float(state.target[0])
        update, info = gradvac(g, state=state)
        expected = dpda_gradvac_step(g, rho_t, 0.5, ema)
        torch.testing.assert_close(update, expected, rtol=1e-9, atol=1e-9)
        assert float(state.target[0]) == pytest.approx(float(rho_t[0, 1]), abs=1e-12)
        assert float(rho_t[0, 1]) == pytest.approx(float(rho_t[1, 0]), abs=1e-15), "both pairs move together"
        rho = float(info.cos)
        if ema == "dpda" and rho <= 0:
            assert float(state.target[0]) == before, "DPDA's EMA moves only on a positive cosine"
        else:
            assert float(state.target[0]) == pytest.approx(0.5 * before + 0.5 * rho, abs=1e-7)


@pytest.mark.parametrize("target", [0.0, 0.3, 0.8])
def test_gradvac_cosine_reaches_its_target(target):
    for seed in range(5):
        g1, g2 = rand(40, seed), rand(40, 100 + seed)
        target_t = torch.tensor([target], dtype=torch.float64)
        coef, rho, adjusted = gradvac_adjustments(flat_gram(g1, g2), target_t)
        assert bool(adjusted[0]) == (float(rho[0]) < target)
        g1p, g2p = (coef[0, i, 0] * g1 + coef[0, i, 1] * g2 for i in range(2))
        cos = lambda a, b: float(torch.dot(a, b) / (a.norm() * b.norm()))  # noqa: E731
        if adjusted[0]:
            assert cos(g1p, g2) == pytest.approx(target, abs=1e-6)
            assert cos(g2p, g1) == pytest.approx(target, abs=1e-6)
        else:
            assert torch.equal(g1p, g1) and torch.equal(g2p, g2)


def test_gradvac_with_zero_target_is_pcgrad_on_its_first_step():
    g1, g2 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([-1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(gradvac([g1, g2])[0], pcgrad([g1, g2])[0], rtol=1e-7, atol=1e-7)


def test_gradvac_state_round_trips():
    a = GradVac("per_tensor")
    align([[rand(5, 1), rand(3, 2)], [rand(5, 3), rand(3, 4)]], a)
    b = GradVac("per_tensor")
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.target, b.target) and a.target.shape == (2,)


# ------------------------------------------------------------------------------------------- CAGrad


def cagrad_objective(t, gg, c_prime):
    """DPDA's objective at w = (t, 1 - t), b = (1/2, 1/2): w^T GG b + c' sqrt(w^T GG w + 1e-8)."""
    w = np.stack([t, 1 - t], -1)
    b = np.array([0.5, 0.5])
    return w @ gg @ b + c_prime * np.sqrt(np.einsum("...i,ij,...j->...", w, gg, w) + 1e-8)


def dpda_cagrad_update(g1, g2, t, c):
    """DPDA's update from a simplex solution w = (t, 1 - t)."""
    gg = np.array([[g1 @ g1, g1 @ g2], [g2 @ g1, g2 @ g2]])
    c_prime = c * np.sqrt(gg.mean() + 1e-8) + 1e-8
    gw = t * g1 + (1 - t) * g2
    lam = c_prime / (np.linalg.norm(gw) + 1e-8)
    return ((g1 + g2) / 2 + lam * gw) / (1 + c**2)


@pytest.mark.parametrize("c", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("seed", range(8))
def test_cagrad_equals_brute_force_minimisation(c, seed):
    rng = np.random.default_rng(seed)
    g1 = rng.standard_normal(30)
    g2 = rng.standard_normal(30) * rng.uniform(0.1, 3) + rng.uniform(-1.5, 1.5) * g1  # conflicts or not
    gg = np.array([[g1 @ g1, g1 @ g2], [g2 @ g1, g2 @ g2]])
    c_prime = c * np.sqrt(gg.mean() + 1e-8) + 1e-8
    grid = np.linspace(0, 1, 1_000_001)
    f = cagrad_objective(grid, gg, c_prime)
    t_brute = grid[np.argmin(f)]
    t, cp = cagrad_simplex(torch.tensor(gg)[None], c)
    assert float(cp[0]) == pytest.approx(c_prime, rel=1e-12)
    assert cagrad_objective(float(t[0]), gg, c_prime) <= f.min() + 1e-12, "at least as low as the grid"
    assert float(t[0]) == pytest.approx(t_brute, abs=2e-3)
    update, _ = cagrad([torch.tensor(g1), torch.tensor(g2)], c=c)
    expected = dpda_cagrad_update(g1, g2, float(t[0]), c)
    np.testing.assert_allclose(update.numpy(), expected, rtol=1e-9, atol=1e-12)
    # ... and the grid's solution gives the same update up to the grid's resolution.
    np.testing.assert_allclose(update.numpy(), dpda_cagrad_update(g1, g2, t_brute, c),
                               atol=5e-3 * np.abs(expected).max())


def test_cagrad_matches_the_authors_slsqp_solver():
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    g1, g2 = rng.standard_normal(20), -0.7 * rng.standard_normal(20)
    gg = np.array([[g1 @ g1, g1 @ g2], [g2 @ g1, g2 @ g2]])
    c_prime = 0.5 * np.sqrt(gg.mean() + 1e-8) + 1e-8
    b = np.ones(2) / 2
    res = minimize(lambda x: x @ gg @ b + c_prime * np.sqrt(x @ gg @ x + 1e-8), b, bounds=((0, 1), (0, 1)),
                   constraints=({"type": "eq", "fun": lambda x: 1 - x.sum()},))
    t, _ = cagrad_simplex(torch.tensor(gg)[None], 0.5)
    assert float(t[0]) == pytest.approx(res.x[0], abs=1e-4)


def test_cagrad_of_identical_gradients_is_their_scaled_mean():
    g = rand(10, 0)
    update, _ = cagrad([g, g.clone()], c=0.5)
    # w is irrelevant when g_c = g_a: update = (g + c ||g|| g / ||g||) / (1 + c^2) = g (1 + c) / (1 + c^2)
    torch.testing.assert_close(update, g * 1.5 / 1.25, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------ Gradient Remedy


def official_gr(g_main, g_aux, k=5.0):
    """Gradient Remedy's rule on one tensor (trainer_gradient_remedy.py), returning the summed update."""
    tan_t = g_aux.norm() / g_main.norm()
    d = torch.dot(g_aux, g_main)
    if d < 0:
        g_aux = g_aux - d * g_main / g_main.norm() ** 2
        g_aux = g_aux + (g_aux.norm() / tan_t) * g_main / g_main.norm()
    cos = torch.dot(g_aux, g_main) / (g_aux.norm() * g_main.norm())
    if g_aux.norm() / g_main.norm() > k and cos != 0:
        g_aux, g_main = g_aux * cos, g_main / cos
    return g_aux + g_main


@pytest.mark.parametrize("seed", range(6))
def test_gr_matches_the_official_rule_per_tensor(seed):
    shapes = [(4, 3), (7,), (2, 2, 2)]
    g_m = [rand(int(np.prod(s)), 10 * seed + i).reshape(s) for i, s in enumerate(shapes)]
    # tensor 0 conflicts, tensor 1 has a large auxiliary norm (rescale), tensor 2 is random
    g_x = [-0.5 * g_m[0] + 0.1 * rand(12, 99).reshape(4, 3), 8 * g_m[1] + rand(7, 98),
           rand(8, 97).reshape(2, 2, 2)]
    update, info = gr([g_m, g_x], granularity="per_tensor", k=5.0, combine="sum")
    for u, m, x in zip(update, g_m, g_x, strict=True):
        expected = official_gr(m.reshape(-1), x.reshape(-1))
        torch.testing.assert_close(u.reshape(-1), expected, rtol=1e-9, atol=1e-9)
    assert info.flags["projected"] >= 1 / 3 and info.flags["rescaled"] >= 1 / 3
    mean, _ = gr([g_m, g_x], combine="mean")
    for u, v in zip(update, mean, strict=True):
        torch.testing.assert_close(v, u / 2)


@pytest.mark.parametrize("ratio", [0.3, 1.0, 3.0])
def test_gr_rotation_angle_is_atan_of_the_original_norm_ratio(ratio):
    g_m = rand(16, 1)
    g_x = -0.6 * g_m / g_m.norm() + rand(16, 2) / rand(16, 2).norm() * 0.5
    g_x = g_x / g_x.norm() * ratio * g_m.norm()  # ||g_x|| / ||g_m|| = ratio, in conflict with g_m
    assert torch.dot(g_x, g_m) < 0
    update, info = gr([g_m, g_x], k=1e9)  # no rescale: update = rotated g_x + g_m
    rotated = update - g_m
    angle = math.acos(float(torch.dot(rotated, g_m) / (rotated.norm() * g_m.norm())))
    assert angle == pytest.approx(math.atan(ratio), abs=1e-9)
    assert info.flags == {"projected": 1.0, "rescaled": 0.0}


def test_gr_rescale_fires_only_above_k():
    g_m = rand(10, 3)
    noise = rand(10, 4)
    g_perp = noise - torch.dot(noise, g_m) / g_m.norm() ** 2 * g_m
    base = g_m / g_m.norm() + g_perp / g_perp.norm()  # 45 degrees from g_m, no conflict
    for ratio, fires in ((4.9, False), (5.1, True)):
        g_x = base / base.norm() * ratio * g_m.norm()
        update, info = gr([g_m, g_x], k=5.0)
        assert info.flags["rescaled"] == float(fires)
        cos = 1 / math.sqrt(2)
        expected = g_x * cos + g_m / cos if fires else g_x + g_m
        torch.testing.assert_close(update, expected, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------------- shared machinery


def test_global_and_per_tensor_granularity_differ_as_expected():
    # Tensor 1 conflicts, tensor 2 agrees strongly: globally <g_c, g_a> = -1 + 9 > 0.
    g_c = [torch.tensor([1.0, 0.0]), torch.tensor([3.0, 0.0])]
    g_a = [torch.tensor([-1.0, 1.0]), torch.tensor([3.0, 0.0])]
    glob, info_g = pcgrad([g_c, g_a], granularity="global")
    per, info_p = pcgrad([g_c, g_a], granularity="per_tensor")
    assert torch.equal(glob[0], torch.tensor([0.0, 0.5])) and torch.equal(glob[1], torch.tensor([3.0, 0.0]))
    assert torch.allclose(per[0], torch.tensor([0.25, 0.75]))
    assert torch.equal(per[1], torch.tensor([3.0, 0.0]))
    assert info_g.flags["projected"] == 0.0 and info_p.flags["projected"] == 0.5
    assert info_g.conflict == info_p.conflict == 0.0, "telemetry is whole-model either way"


def test_align_in_place_holds_the_update_in_the_augmented_buffers():
    g_c, g_a = [rand(6, 1), rand(4, 2)], [rand(6, 3), rand(4, 4)]
    expected, _ = pcgrad([g_c, g_a])
    buffers = list(g_a)
    info = align_(g_c, g_a, make_aligner("pcgrad", resolve_aligner("pcgrad", AlignerParams())))
    assert all(a is b for a, b in zip(g_a, buffers, strict=True)), "no new gradient copies"
    for u, e in zip(g_a, expected, strict=True):
        torch.testing.assert_close(u, e)
    assert info.update_norm == pytest.approx(float(torch.cat([e for e in expected]).norm()), rel=1e-9)
    bad = [torch.tensor([float("nan"), 1.0])]
    assert not align_([torch.ones(2)], bad, make_aligner("none", AlignerParams(granularity="global"))).finite


def test_registry_names_match_config_choices_and_resolve():
    assert set(ALIGN_CHOICES.values()) == set(ALIGNERS)
    for name in ALIGNERS:
        params = resolve_aligner(name, AlignerParams(gradvac=GradVacParams(beta=0.1)))
        aligner = make_aligner(name, params)
        assert aligner.granularity == ("per_tensor" if name == "gr" else "global")
        assert isinstance(aligner, ALIGNERS[name]) and aligner.name == name
    assert resolve_aligner("pcgrad", AlignerParams(gradvac=GradVacParams(beta=0.1))).gradvac.beta == 0.5, (
        "an arm's plan holds only its own method's settings"
    )


def test_telemetry():
    t = gradient_telemetry(flat_gram(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]))[0])
    assert t["conflict"] == 1.0 and math.isclose(t["cos"], -1 / np.sqrt(2), rel_tol=1e-6)
    assert math.isclose(t["norm_ratio"], 1 / np.sqrt(2), rel_tol=1e-6)
    assert gradient_telemetry(flat_gram(torch.ones(3), torch.ones(3))[0])["conflict"] == 0.0
    assert gradient_telemetry(flat_gram(torch.ones(3), torch.zeros(3))[0])["cos"] == 0.0


@pytest.mark.parametrize("name", sorted(ALIGNERS))
def test_aligners_are_deterministic_and_need_two_paths(name):
    gs = [rand(100, i) for i in range(2)]
    a, _ = align(gs, make_aligner(name, resolve_aligner(name, AlignerParams())))
    b, _ = align(gs, make_aligner(name, resolve_aligner(name, AlignerParams())))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="expected 2"):
        align(gs + gs[:1], make_aligner(name, resolve_aligner(name, AlignerParams())))
