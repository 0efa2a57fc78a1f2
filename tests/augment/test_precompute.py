"""Precompute: determinism across worker counts, manifest contract, resume after a kill, cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sdd.augment.params import AugmentParams
from sdd.augment.precompute import MANIFEST_COLUMNS, copy_relpath, precompute, seed_for
from sdd.core.configbase import build
from tests.helpers import REPO

SR = 16000


def _corpus(root: Path, n: int, seconds: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """n short FLACs under root/raw and their manifest (paths relative to ``root``)."""
    rng = np.random.default_rng(seed)
    (root / "raw").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        length = int(seconds * SR) + 37 * i
        t = np.arange(length) / SR
        x = 0.4 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.05 * rng.standard_normal(length)
        rel = f"raw/utt{i:03d}.flac"
        sf.write(root / rel, x.astype(np.float32), SR)
        rows.append({"utt_id": f"utt{i:03d}", "path": rel, "label": "bonafide" if i % 2 else "spoof",
                     "attack": "-" if i % 2 else "A07", "speaker": f"spk{i % 3}", "sample_rate": SR,
                     "duration_s": length / SR, "split": "train"})
    return pd.DataFrame(rows)


def _params(**kw) -> AugmentParams:
    return build(AugmentParams, kw, "augment")


def _audio(out_dir: Path, manifest: pd.DataFrame) -> dict[str, np.ndarray]:
    return {r.utt_id: sf.read(out_dir / r.path, dtype="int16")[0] for r in manifest.itertuples()}


MIXED = {"policy": "mixed", "copies": 2, "seed": 3,
         "policies": {"mixed": [{"one_of": [{"op": "ssi"}, {"op": "babble", "n_talkers": [1, 2]}]},
                                {"op": "isd", "prob": 0.5}]}}


def test_one_vs_two_workers_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))  # relative manifest paths resolve here
    src = _corpus(tmp_path, 6)
    m1 = precompute(src, tmp_path / "w1", _params(**MIXED), workers=1)
    m2 = precompute(src.sample(frac=1.0, random_state=1), tmp_path / "w2", _params(**MIXED), workers=2)
    pd.testing.assert_frame_equal(m1, m2)
    a1, a2 = _audio(tmp_path / "w1", m1), _audio(tmp_path / "w2", m2)
    assert all(np.array_equal(a1[k], a2[k]) for k in a1)
    assert {json.loads(p)["chain"][0]["chosen"]["op"] for p in m1["params"]} == {"ssi", "babble"}
    # different utterances and different copies differ
    assert not np.array_equal(a1["utt000__aug0"][:1000], a1["utt000__aug1"][:1000])


def test_manifest_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_ROOT", str(tmp_path))
    src = _corpus(tmp_path, 4)
    out = tmp_path / "aug"
    m = precompute(src, out, _params(copies=2), workers=1)
    assert list(m.columns) == MANIFEST_COLUMNS
    assert m.equals(pd.read_csv(out / "manifest.csv", dtype={"attack": str}).astype(m.dtypes.to_dict()))
    assert list(m["utt_id"][:2]) == ["utt000__aug0", "utt000__aug1"]
    merged = m.merge(src, left_on="source_utt_id", right_on="utt_id", suffixes=("", "_src"))
    assert (merged["label"] == merged["label_src"]).all()
    assert (merged["speaker"] == merged["speaker_src"]).all()
    for r in merged.itertuples():
        y, sr = sf.read(out / r.path, dtype="float32")
        assert sr == SR and sf.info(out / r.path).subtype == "PCM_16"
        assert y.shape[0] == round(r.duration_s_src * SR) == round(r.duration_s * SR)  # length preserved
        assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0
        assert not Path(r.path).is_absolute()
        assert r.path == copy_relpath(r.source_utt_id, r.copy)
        assert [s["op"] for s in json.loads(r.params)["chain"]] == ["lnl", "isd", "ssi"]
    # the copy is what the policy gives with the derived seed
    from sdd.audio.io import read_audio
    from sdd.augment.policies import build_policy

    x = read_audio(tmp_path / "raw/utt001.flac")[0]
    y, drawn = build_policy(_params())(x, SR, np.random.default_rng(seed_for(0, "rawboost4", "utt001", 1)))
    stored = sf.read(out / copy_relpath("utt001", 1), dtype="float32")[0]
    assert np.max(np.abs(stored - y)) < 1.0 / 32767 + 1e-6
    assert json.loads(m.set_index("utt_id").loc["utt001__aug1", "params"]) == json.loads(json.dumps(drawn))


def test_bad_manifests_fail_before_work(tmp_path):
    src = _corpus(tmp_path, 2)
    with pytest.raises(ValueError, match="lacks column"):
        precompute(src.drop(columns="speaker"), tmp_path / "a", _params(), workers=1)
    with pytest.raises(ValueError, match="duplicate utt_id"):
        precompute(pd.concat([src, src]), tmp_path / "a", _params(), workers=1)
    assert not list((tmp_path / "a").rglob("*.flac"))


_CHILD = """
import sys, pandas as pd
from pathlib import Path
from sdd.augment.precompute import precompute
from sdd.augment.params import AugmentParams
manifest = pd.read_csv(sys.argv[1], dtype={"attack": str})
precompute(manifest, Path(sys.argv[2]), AugmentParams(copies=2), workers=1)
"""


@pytest.mark.slow  # kills a precompute process midway
def test_resume_after_kill(tmp_path):
    src = _corpus(tmp_path, 60, seconds=1.0)
    src["path"] = [str(tmp_path / p) for p in src["path"]]
    src.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "in.csv"), str(out)], cwd=REPO,
                             stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.rglob("*.flac"))) < 6 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    done = sorted(out.rglob("*.flac"))
    assert 6 <= len(done) < 120, "the child should have been killed midway"
    assert not (out / "manifest.csv").exists()
    for f in done:  # every visible FLAC is complete
        assert sf.read(f)[0].shape[0] > 0
    before = {f: f.stat().st_mtime_ns for f in done}
    (done[0].parent / f".{done[0].name}.tmp99999").write_bytes(b"half-written")  # a killed write

    resumed = precompute(src, out, AugmentParams(copies=2), workers=1)
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert all(f.stat().st_mtime_ns == t for f, t in before.items())  # finished copies were skipped
    clean = precompute(src, tmp_path / "clean", AugmentParams(copies=2), workers=1)
    pd.testing.assert_frame_equal(resumed, clean)
    a, b = _audio(out, resumed), _audio(tmp_path / "clean", clean)
    assert len(a) == 120 and all(np.array_equal(a[k], b[k]) for k in a)


def test_params_change_redoes_and_removes_stale(tmp_path):
    src = _corpus(tmp_path, 3)
    src["path"] = [str(tmp_path / p) for p in src["path"]]
    out = tmp_path / "aug"
    m_a = precompute(src, out, _params(policy="rawboost2", copies=2), workers=1)
    first = _audio(out, m_a)
    m_b = precompute(src, out, _params(policy="rawboost3", copies=1), workers=1)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.flac")) == sorted(m_b["path"])
    assert len(list(out.rglob("*.json"))) == 3
    second = _audio(out, m_b)
    assert not np.array_equal(first["utt000__aug0"], second["utt000__aug0"])
    assert set(m_b["policy"]) == {"rawboost3"}


def test_seed_for_is_stable_and_distinct():
    assert seed_for(0, "rawboost4", "u1", 0) == seed_for(0, "rawboost4", "u1", 0)
    keys = {
        seed_for(s, p, u, k)
        for s in (0, 1) for p in ("rawboost4", "rawboost5") for u in ("u1", "u2") for k in (0, 1)
    }
    assert len(keys) == 16
    # independent of Python's salted hash(): a fixed value
    assert seed_for(0, "rawboost4", "u1", 0) == int.from_bytes(
        __import__("hashlib").sha256(b'[0,"rawboost4","u1",0]').digest()[:8], "little")


def test_copy_relpath_sanitises():
    p = copy_relpath("LA_T/../x y", 3)
    parts = Path(p).parts
    assert len(parts) == 3 and parts[0] == "audio" and p.endswith("__aug3.flac") and " " not in p
    assert ".." not in parts and not parts[2].startswith(".")
    assert copy_relpath("LA_T/../x y", 3) != copy_relpath("LA_T_.._x_y", 3)


def test_babble_pool_is_bona_fide_only(tmp_path):
    src = _corpus(tmp_path, 3)
    src["path"] = [str(tmp_path / p) for p in src["path"]]
    src["label"] = "spoof"  # no bona fide talkers at all: babble must refuse, not use spoofed speech
    params = _params(policy="b", policies={"b": [{"op": "babble"}]})
    with pytest.raises(ValueError, match="pool of other utterances"):
        precompute(src, tmp_path / "aug", params, workers=1)
