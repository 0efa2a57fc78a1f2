"""The per-path gradients of a step: separate passes, the joint forward and the pooled step against
two plain autograd passes (float64, dropout off, tiny model), and the two-copies memory bound."""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sdd.models.backbone import build_backbone
from sdd.models.detector import Detector
from sdd.models.params import ModelParams
from sdd.train.align import make_aligner
from sdd.train.align.core import align_
from sdd.train.params import AlignerParams, resolve_aligner
from sdd.train.step import (
    AUG,
    CLEAN,
    POOLED,
    Buffers,
    accumulate_dual,
    accumulate_pooled,
    cross_sample_modules,
    resolve_forward,
)
from tests.helpers.train import TINY


def null():
    return contextlib.nullcontext()


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = Detector(build_backbone("tiny-wavlm", TINY), ModelParams(tiny=TINY)).double().eval()  # no dropout
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(1)
    x_c, x_a = torch.randn(3, 3200, generator=gen).double(), torch.randn(3, 3200, generator=gen).double()
    y, w = torch.tensor([0, 1, 1]), torch.tensor([0.1, 0.9], dtype=torch.float64)
    reference = {
        path: torch.autograd.grad(F.cross_entropy(model(x), y, weight=w), params)  # two plain passes
        for path, x in ((CLEAN, x_c), (AUG, x_a))
    }
    return model, params, x_c, x_a, y, w, reference


def assert_grads_close(got, expected, atol=1e-6):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("forward", ["separate", "joint"])
@pytest.mark.parametrize("micro", [1, 2])
def test_per_path_gradients_equal_two_plain_passes(setup, forward, micro):
    model, params, x_c, x_a, y, w, reference = setup
    buffers = Buffers(params)
    for xc, xa, yy in zip(*(torch.tensor_split(t, micro) for t in (x_c, x_a, y)), strict=True):
        accumulate_dual(model, buffers, xc, xa, yy, w, forward, null)
    assert all(p.grad is None for p in params), "buffers are swapped out of p.grad"
    active, grads, losses = buffers.reduce([CLEAN, AUG])
    assert active == list(range(len(params)))
    for path in (CLEAN, AUG):
        assert_grads_close(grads[path], reference[path])
    assert losses[CLEAN] == pytest.approx(F.cross_entropy(model(x_c), y, weight=w).item(), rel=1e-12)


def test_pooled_step_gradient_equals_the_dual_path_none_update(setup):
    """The `augmented` regime optimises the same objective as dual_path with align none (methods.md)."""
    model, params, x_c, x_a, y, w, reference = setup
    buffers = Buffers(params)
    accumulate_pooled(model, buffers, x_c, x_a, y, w, null)
    _, pooled, _ = buffers.reduce([POOLED])
    buffers = Buffers(params)
    accumulate_dual(model, buffers, x_c, x_a, y, w, "separate", null)
    _, grads, _ = buffers.reduce([CLEAN, AUG])
    align_(grads[CLEAN], grads[AUG], make_aligner("none", resolve_aligner("none", AlignerParams())))
    assert_grads_close(pooled[POOLED], grads[AUG])
    mean = [(a + b) / 2 for a, b in zip(reference[CLEAN], reference[AUG], strict=True)]
    assert_grads_close(grads[AUG], mean)


def test_a_dual_path_step_holds_two_gradient_copies(setup):
    model, params, x_c, x_a, y, w, _ = setup
    buffers = Buffers(params)
    accumulate_dual(model, buffers, x_c, x_a, y, w, "separate", null)
    assert set(buffers.grads) == {CLEAN, AUG}
    _, grads, _ = buffers.reduce([CLEAN, AUG])
    ids = {id(t) for path in grads for t in grads[path]}
    assert len(ids) == 2 * len(params)
    before = [t.data_ptr() for t in grads[AUG]]
    align_(grads[CLEAN], grads[AUG], make_aligner("pcgrad", resolve_aligner("pcgrad", AlignerParams())))
    assert [t.data_ptr() for t in grads[AUG]] == before, "the update is written into the augmented buffers"


class TinyBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5, stride=4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.bn(self.conv(x[:, None])).mean(-1))


def test_batchnorm_models_take_the_joint_forward():
    model = TinyBN().double().train()
    assert cross_sample_modules(model) == ["bn"]
    assert resolve_forward(model, "auto") == "joint"
    with pytest.raises(ValueError, match="cross-sample layers.*bn"):
        resolve_forward(model, "separate")
    wavlm = Detector(build_backbone("tiny-wavlm", TINY), ModelParams(tiny=TINY))
    assert resolve_forward(wavlm, "auto") == "separate"
    # Why: with BatchNorm the separate passes' gradients are not the joint forward's (DPDA's step).
    params = list(model.parameters())
    x_c, x_a = torch.randn(4, 400).double(), torch.randn(4, 400).double() * 3
    y, w = torch.tensor([0, 1, 0, 1]), torch.tensor([0.5, 0.5], dtype=torch.float64)
    out = {}
    for forward in ("separate", "joint"):
        buffers = Buffers(params)
        accumulate_dual(model, buffers, x_c, x_a, y, w, forward, null)
        out[forward] = buffers.reduce([CLEAN, AUG])[1]
    logits = model(torch.cat([x_c, x_a]))
    joint_ref = torch.autograd.grad(F.cross_entropy(logits[:4], y, weight=w), params)
    assert_grads_close(out["joint"][CLEAN], joint_ref)
    assert not torch.allclose(out["separate"][CLEAN][0], joint_ref[0])
