"""augment params validation: errors name the dotted key, the value and the allowed values."""

from __future__ import annotations

import pytest

from sdd.augment.params import AugmentParams
from sdd.augment.policies import BUILTIN_POLICIES, build_policy
from sdd.core.configbase import ConfigError, build, to_dict


def _build(d):
    return build(AugmentParams, d, "augment")


def test_defaults_are_dpda_rawboost4():
    p = _build(None)
    assert (p.policy, p.seed, p.copies, p.sample_rate) == ("rawboost4", 0, 1, 16000)
    assert [r["op"] for r in build_policy(p).spec] == ["lnl", "isd", "ssi"]
    assert to_dict(p)["policy"] == "rawboost4"


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_every_builtin_builds(name):
    assert build_policy(_build({"policy": name})).name == name


@pytest.mark.parametrize(
    "data, key, fragment",
    [
        ({"policy": "rawboost9"}, "augment.policy", "rawboost8"),
        ({"policies": {"mine": [{"op": "ssi"}, {"op": "noise", "snr_db": [30, 10]}]}},
         "augment.policies.mine[1].snr_db", "[low, high]"),
        ({"policies": {"mine": [{"op": "ssi", "snr_min": 50, "snr_max": 40}]}},
         "augment.policies.mine[0].snr_min", "<= snr_max"),
        ({"policies": {"mine": [{"op": "warp"}]}}, "augment.policies.mine[0].op", "'lnl'"),
        ({"policies": {"mine": [{"op": "noise", "colour": "purple"}]}},
         "augment.policies.mine[0].colour", "'pink'"),
        ({"policies": {"mine": [{"op": "isd", "p": "ten"}]}}, "augment.policies.mine[0].p", "a number"),
        ({"policies": {"mine": [{"op": "isd", "wrong": 1}]}}, "augment.policies.mine[0]", "unknown key"),
        ({"policies": {"mine": [{"op": "gain", "prob": 1.5}]}}, "augment.policies.mine[0].prob", "[0, 1]"),
        ({"policies": {"mine": [{"one_of": [{"op": "gain"}], "weights": [1, 2]}]}},
         "augment.policies.mine[0].weights", "1 non-negative"),
        ({"policies": {"mine": [{"chain": [{"op": "gain"}, {"op": "lnl", "n_f": 0}]}]}},
         "augment.policies.mine[0].chain[1].n_f", "[1, 10]"),
        ({"policies": {"mine": [{"op": "gain", "chain": []}]}}, "augment.policies.mine[0]", "exactly one of"),
        ({"policies": {"mine": []}}, "augment.policies.mine", "non-empty list"),
        ({"policies": {"rawboost4": [{"op": "gain"}]}}, "augment.policies", "shadow"),
        ({"copies": 0}, "augment.copies", "[1, 100]"),
        ({"copies": 1.5}, "augment.copies", "integer"),
        ({"sample_rate": 8000}, "max_f", "sample_rate/2"),
        ({"seeds": 1}, "augment", "unknown key"),
    ],
)
def test_errors_name_the_key(data, key, fragment):
    with pytest.raises(ConfigError) as info:
        _build(data)
    msg = str(info.value)
    assert msg.startswith(key) or f"{key}:" in msg or key in msg, msg
    assert fragment in msg, msg


def test_custom_policy_is_selectable_and_validated_even_when_unused():
    mine = [{"op": "noise", "snr_db": [5, 5]}, {"op": "reverb", "prob": 0.5}]
    p = _build({"policy": "mine", "policies": {"mine": mine}})
    assert build_policy(p).name == "mine"
    with pytest.raises(ConfigError, match=r"augment\.policies\.other\[0\]\.gain_db"):
        _build({"policies": {"other": [{"op": "gain", "gain_db": [0, 99]}]}})
