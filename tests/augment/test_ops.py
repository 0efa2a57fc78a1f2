"""Per-op invariants: length, finiteness, range, determinism, SNR, ranges of drawn parameters,
codec delay compensation, dict round trips, composition."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from sdd.augment import functional as F
from sdd.augment.ops import OPS, AugmentContext, op_from_dict, op_to_dict
from sdd.augment.policies import Policy, parse_policy
from sdd.augment.precompute import seed_for
from sdd.core.configbase import ConfigError

SR = 16000


@pytest.fixture(scope="module")
def wave():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * SR)) / SR
    x = sum(np.sin(2 * np.pi * 180 * k * t + k) / k for k in range(1, 12))
    x = x * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    x = x + 0.02 * rng.standard_normal(t.shape[0])
    return (0.7 * x / np.abs(x).max()).astype(np.float32)


def _ctx(wave):
    pool = (np.roll(wave, 5000), np.roll(wave, 9000)[::-1].copy(), wave * 0.5, wave)
    return AugmentContext(pool=pool, exclude=3)


def _runnable_ops():
    out = []
    for name, cls in OPS.items():
        try:
            out.append((name, cls()))
        except ConfigError:
            continue  # needs user data (noise_folder): tested separately
    return out


RUNNABLE = _runnable_ops()


def _policy(name, op):
    return Policy(name, parse_policy([op_to_dict(op)], name), [op_to_dict(op)])


@pytest.mark.parametrize("name, op", RUNNABLE, ids=[n for n, _ in RUNNABLE])
def test_op_invariants(wave, name, op):
    policy = _policy(name, op)
    rng_a = np.random.default_rng(seed_for(0, name, "utt_a", 0))
    y, drawn = policy(wave, SR, rng_a, _ctx(wave))
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    assert np.abs(y).max() <= 1.0
    if name == "speed":
        assert y.shape[0] == round(wave.shape[0] / drawn["chain"][0]["factor"])
    else:
        assert y.shape == wave.shape
    json.dumps(drawn)  # loggable
    # same seed -> identical; another utterance id -> different
    y2, drawn2 = policy(wave, SR, np.random.default_rng(seed_for(0, name, "utt_a", 0)), _ctx(wave))
    np.testing.assert_array_equal(y, y2)
    assert drawn == drawn2
    y3, _ = policy(wave, SR, np.random.default_rng(seed_for(0, name, "utt_b", 0)), _ctx(wave))
    deterministic = name in ("mulaw", "alaw", "telephone")  # no random parameter at all
    assert deterministic == (y3.shape == y.shape and np.array_equal(y3, y))


@pytest.mark.parametrize("name, op", RUNNABLE, ids=[n for n, _ in RUNNABLE])
def test_dict_round_trip(name, op):
    d = op_to_dict(op)
    assert op_from_dict(json.loads(json.dumps(d)), "x") == op


RANGES = {
    "noise": {"snr_db": (5.0, 20.0)},
    "babble": {"snr_db": (10.0, 25.0), "n_talkers": (3, 3)},  # pool of 3 others caps the count
    "reverb": {"rt60_s": (0.2, 0.8), "drr_db": (0.0, 10.0)},
    "codec": {"compression_level": (0.0, 1.0)},
    "packet_loss": {"loss_rate": (0.0, 0.1)},
    "gain": {"gain_db": (-6.0, 6.0)},
    "speed": {"factor": (0.9, 1.1)},
}


@pytest.mark.parametrize("name", sorted(RANGES))
def test_drawn_params_within_ranges(wave, name):
    op = OPS[name]()
    short = wave[:4000]
    rng = np.random.default_rng(1)
    for _ in range(15 if name != "codec" else 4):
        _, drawn = op(short, SR, rng, _ctx(short))
        for key, (lo, hi) in RANGES[name].items():
            assert lo <= drawn[key] <= hi, (key, drawn[key])


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 30.0])
def test_noise_snr_within_half_db(wave, colour, snr):
    op = op_from_dict({"op": "noise", "colour": colour, "snr_db": [snr, snr]}, "t")
    y, d = op(wave, SR, np.random.default_rng(2))
    assert d["snr_db"] == snr
    assert abs(F.snr_db(wave, y.astype(np.float64) - wave) - snr) < 0.5


def test_babble_snr_and_pool(wave):
    op = op_from_dict({"op": "babble", "snr_db": [8.0, 8.0], "n_talkers": [2, 2]}, "t")
    y, d = op(wave, SR, np.random.default_rng(3), _ctx(wave))
    assert d["n_talkers"] == 2
    assert abs(F.snr_db(wave, y.astype(np.float64) - wave) - 8.0) < 0.5
    with pytest.raises(ValueError, match="pool"):
        op(wave, SR, np.random.default_rng(3), AugmentContext(pool=(wave,), exclude=0))


def test_coloured_noise_slopes():
    """White is flat, pink falls ~3 dB/octave, brown ~6 dB/octave."""
    rng = np.random.default_rng(4)
    for colour, slope in [("white", 0.0), ("pink", -3.0), ("brown", -6.0)]:
        n = F.coloured_noise(2**16, rng, colour)
        p = np.abs(np.fft.rfft(n)) ** 2
        f = np.arange(p.shape[0])
        band = lambda lo, p=p, f=f: p[(f >= lo) & (f < 2 * lo)].mean()  # noqa: E731
        per_octave = 10 * np.log10(band(4000) / band(250)) / 4
        assert abs(per_octave - slope) < 1.0, (colour, per_octave)


def test_folder_noise(tmp_path, wave):
    noise_dir = tmp_path / "noises"
    noise_dir.mkdir()
    sf.write(noise_dir / "hum.wav", (0.1 * np.sin(np.arange(3000) * 0.2)).astype(np.float32), SR)
    op = op_from_dict({"op": "noise_folder", "folder": str(noise_dir), "snr_db": [6.0, 6.0]}, "t")
    y, d = op(wave, SR, np.random.default_rng(5))
    assert d["file"] == "hum.wav" and y.shape == wave.shape
    assert abs(F.snr_db(wave, y.astype(np.float64) - wave) - 6.0) < 0.5
    with pytest.raises(ConfigError, match=r"t\.folder"):
        op_from_dict({"op": "noise_folder", "folder": str(tmp_path / "absent")}, "t")


def test_reverb_rt60_of_synthetic_rir():
    """Schroeder backward integration of the synthetic RIR decays 60 dB in about RT60."""
    rng = np.random.default_rng(6)
    for rt60 in (0.3, 0.7):
        h = F.synthetic_rir(rng, SR, rt60, drr_db=-20.0)  # tail-dominated for a clean estimate
        edc = 10 * np.log10(np.cumsum((h**2)[::-1])[::-1] / np.sum(h**2))
        t5, t25 = np.argmax(edc < -5) / SR, np.argmax(edc < -25) / SR
        assert abs(3 * (t25 - t5) - rt60) < 0.1 * rt60


def test_reverb_from_folder(tmp_path, wave):
    rir_dir = tmp_path / "rirs"
    rir_dir.mkdir()
    h = F.synthetic_rir(np.random.default_rng(0), SR, 0.4, 3.0)
    sf.write(rir_dir / "room.flac", (0.5 * h / np.abs(h).max()).astype(np.float32), SR)
    op = op_from_dict({"op": "reverb", "rir_folder": str(rir_dir)}, "t")
    y, d = op(wave, SR, np.random.default_rng(0))
    assert d == {"rir": "room.flac"} and y.shape == wave.shape and np.all(np.isfinite(y))


@pytest.mark.parametrize("codec", sorted(F.CODECS))
def test_codec_delay_compensated(wave, codec):
    if not F.codec_support()[codec]:
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot encode {codec}")
    for n, level in ((wave.shape[0], 1.0), (12345, 0.2)):  # exact length kept, also for an odd length
        y, d = F.codec_roundtrip(wave[:n], SR, codec, compression_level=level)
        assert y.shape == (n,)
    corr = float(np.dot(y, wave[:n]) / np.linalg.norm(y) / np.linalg.norm(wave[:n]))
    assert corr > 0.8, (codec, corr, d)


def test_codec_support_reported():
    support = F.codec_support()
    assert set(support) == set(F.CODECS) and all(isinstance(v, bool) for v in support.values())


def test_companding_quantises_to_256_levels(wave):
    for fn in (F.mulaw, F.alaw):
        y = fn(wave)
        assert len(np.unique(y)) <= 256
        assert np.max(np.abs(y - wave)) < 0.05  # companded 8-bit: small error at speech levels


def test_telephone_band_limits(wave):
    noise = np.random.default_rng(7).uniform(-0.5, 0.5, SR).astype(np.float32)
    y = F.telephone_band(noise, SR)
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(y.shape[0], 1 / SR)
    inside = p[(f > 500) & (f < 3000)].mean()
    assert p[f > 4500].mean() < 1e-4 * inside and p[f < 100].mean() < 1e-2 * inside


def test_packet_loss_zeroes_whole_frames(wave):
    y, d = F.packet_loss(wave, np.random.default_rng(8), SR, loss_rate=0.5, frame_ms=20)
    frames = y[: (y.shape[0] // 320) * 320].reshape(-1, 320)
    zeroed = int(np.sum(np.all(frames == 0, axis=1)))
    assert d["frames_lost"] >= zeroed >= d["frames_lost"] - 1 and 0 < d["frames_lost"] < d["frames"]


@pytest.mark.parametrize("factor", [0.8, 1.0, 1.25, 1.1])
def test_speed_length_exact(wave, factor):
    assert F.speed(wave, factor).shape == (round(wave.shape[0] / factor),)


def test_composition_one_of_weights_and_prob(wave):
    gains = [{"op": "gain", "gain_db": [1, 1]}, {"op": "gain", "gain_db": [-1, -1]}]
    spec = [{"one_of": gains, "weights": [3, 1]}, {"op": "noise", "prob": 0.25}]
    policy = Policy("t", parse_policy(spec, "t"), spec)
    rng = np.random.default_rng(9)
    chosen, applied = [], []
    short = wave[:800] * 0.1
    for _ in range(800):
        _, d = policy(short, SR, rng)
        chosen.append(d["chain"][0]["one_of"])
        applied.append(d["chain"][1]["applied"])
    assert abs(np.mean(np.asarray(chosen) == 0) - 0.75) < 0.05
    assert abs(np.mean(applied) - 0.25) < 0.05


def test_policy_peak_normalises_without_clipping(wave):
    spec = [{"op": "gain", "gain_db": [20, 20]}]
    y, _ = Policy("loud", parse_policy(spec, "loud"), spec)(wave, SR, np.random.default_rng(0))
    assert np.abs(y).max() == pytest.approx(1.0)
    np.testing.assert_allclose(y, wave / np.abs(wave).max(), atol=1e-6)  # shape kept, not clipped


def test_policy_rejects_non_finite_input(wave):
    spec = [{"op": "gain"}]
    bad = wave.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Policy("g", parse_policy(spec, "g"), spec)(bad, SR, np.random.default_rng(0))
