"""sdd.evaluation: readers, joins, evaluate_trials, bad input, and `sdd evaluate` end to end."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd import evaluation as E
from sdd import metrics as M

# The CLI through the interpreter that runs the tests (wherever its environment lives).
SDD = [sys.executable, "-m", "sdd.cli"]
SCORE_FILES = [f"rawgat_st_{v}_LA19eval_Scores.txt" for v in ("add", "cat", "mul")]
METRIC_KEYS = ["eer", "min_tdcf", "min_tdcf_legacy", "min_dcf", "act_dcf", "cllr"]


def _la19(shared: Path) -> dict[str, Path]:
    d = shared / "data"
    return {
        "protocol": d / "asvspoof2019_la/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt",
        "asv": d / "asvspoof2019_la/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
        "reference": d / "reference/metrics_asvspoof2019_la_eval.json",
        "scores": d / "scores",
    }


def _assert_matches(got: dict, want: dict) -> None:
    for k in METRIC_KEYS:
        assert got[k] == pytest.approx(want[k], abs=1e-6), k
    assert got["n_bonafide"] == want["n_bonafide"] and got["n_spoof"] == want["n_spoof"]
    assert set(got["per_attack"]) == set(want["per_attack"])
    for a, v in want["per_attack"].items():
        assert got["per_attack"][a] == pytest.approx(v, abs=1e-6), a


# ---- the real RawGAT-ST scores reproduce the official values ----


@pytest.fixture(scope="module")
def la19_inputs(shared_dir):
    p = _la19(shared_dir)
    ref = json.loads(p["reference"].read_text())
    return p, E.read_protocol(p["protocol"], "asvspoof2019"), E.read_asv_scores(p["asv"]), ref


@pytest.mark.parametrize("name", SCORE_FILES)
def test_reference_values_reproduced(la19_inputs, name):
    paths, protocol, asv, ref = la19_inputs
    trials = E.join_scores(protocol, E.read_scores(paths["scores"] / name))
    got = E.evaluate_trials(trials, asv_scores=asv)
    _assert_matches(got, ref[name])
    for k, v in ref["_asv"].items():
        assert got["asv_operating_point"][k] == pytest.approx(v, abs=1e-6), k
    op = M.asv_operating_point(*(asv["score"][asv["asv_key"] == k] for k in E.ASV_KEYS))
    c0, c1, c2 = M.tdcf_coefficients(op)
    assert (c0, c1, c2) == pytest.approx((0.025456, 0.915044, 0.380326), abs=1e-6)  # data.md
    json.dumps(got, allow_nan=False)


def test_cli_end_to_end_on_real_scores(la19_inputs, tmp_path):
    paths, _, _, ref = la19_inputs
    name = SCORE_FILES[2]
    out = tmp_path / "sub" / "m.json"
    cmd = [
        *SDD, "evaluate", "--scores", str(paths["scores"] / name), "--protocol", str(paths["protocol"]),
        "--asv-scores", str(paths["asv"]), "--format", "asvspoof2019", "--out", str(out), "--ci",
        "--n-resamples", "200",
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())
    assert set(ref[name]) <= set(got)
    _assert_matches(got, ref[name])
    lo, hi = got["eer_ci95"]
    assert lo < got["eer"] < hi
    assert not list(out.parent.glob("*.tmp"))


def test_cli_does_not_import_torch(la19_inputs, tmp_path):
    paths, _, _, _ = la19_inputs
    code = (
        "import sys; from sdd.cli import main; "
        f"rc = main(['evaluate', '--scores', {str(paths['scores'] / SCORE_FILES[0])!r}, '--protocol', "
        f"{str(paths['protocol'])!r}, '--format', 'asvspoof2019', '--out', {str(tmp_path / 'o.json')!r}]); "
        "assert rc == 0, rc; assert 'torch' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "min_tdcf" not in json.loads((tmp_path / "o.json").read_text())  # no ASV scores, no t-DCF


# ---- synthetic protocols and bad input ----


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small(tmp_path, rng):
    """A 2019-format protocol of 40 trials (2 attacks), its scores, and ASV scores."""
    n_b, n_s = 16, 24
    ids = [f"LA_E_{i:07d}" for i in range(n_b + n_s)]
    attacks = ["-"] * n_b + ["A07", "A08"] * (n_s // 2)
    labels = ["bonafide"] * n_b + ["spoof"] * n_s
    scores = np.concatenate([rng.normal(2, 1, n_b), rng.normal(-1, 1, n_s)])
    rows = enumerate(zip(ids, attacks, labels, strict=True))
    prot = _write(tmp_path / "prot.txt", [f"LA_00{i % 5} {u} - {a} {k}" for i, (u, a, k) in rows])
    sc = _write(tmp_path / "scores.txt", [f"{u} {s:.6f}" for u, s in zip(ids, scores, strict=True)])
    asv = _write(
        tmp_path / "asv.txt",
        [f"bonafide target {x:.4f}" for x in rng.normal(3, 1, 30)]
        + [f"bonafide nontarget {x:.4f}" for x in rng.normal(-3, 1, 60)]
        + [f"A07 spoof {x:.4f}" for x in rng.normal(1, 2, 40)],
    )
    return {
        "ids": ids, "scores": scores, "labels": labels, "attacks": attacks,
        "protocol": prot, "score_file": sc, "asv": asv,
    }  # fmt: skip


def test_join_any_order_and_per_attack(small, tmp_path):
    rows = list(zip(small["ids"], small["scores"], strict=True))[::-1]
    # a header line and the reverse of the protocol order
    sc = _write(tmp_path / "rev.txt", ["utt_id score"] + [f"{u} {s:.6f}" for u, s in rows])
    trials = E.join_scores(E.read_protocol(small["protocol"], "asvspoof2019"), E.read_scores(sc))
    res = E.evaluate_trials(trials, asv_scores=E.read_asv_scores(small["asv"]))
    s = np.round(small["scores"], 6)
    b, sp = s[:16], s[16:]
    assert res["eer"] == M.eer(b, sp)
    att = np.array(small["attacks"][16:])
    assert res["per_attack"] == {a: M.eer(b, sp[att == a]) for a in ("A07", "A08")}
    assert {"min_tdcf", "min_tdcf_legacy"} <= set(res)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda L: L[:-1], "1 trials of the protocol have no score"),
        (lambda L: L + ["LA_E_9999999 0.5"], "1 scored trials are not in the protocol.*LA_E_9999999"),
        (lambda L: L + [L[0]], "scored more than once.*LA_E_0000000"),
        (lambda L: [L[0].split()[0] + " nan"] + L[1:], "non-finite.*LA_E_0000000"),
        (lambda L: L[:3] + [L[3].split()[0] + " inf"] + L[4:], "non-finite.*LA_E_0000003"),
        (lambda L: L[:5] + [L[5] + " extra"] + L[6:], "line 6 has 3"),
        (lambda L: L[:5] + [L[5].split()[0]] + L[6:], "line 6 has 1"),
        (lambda L: L[:2] + [L[2].split()[0] + " abc"] + L[3:], "non-numeric.*'abc'"),
        (lambda L: [x + " 1" for x in L], "expected 2 columns"),
    ],
)
def test_bad_score_files_raise(small, tmp_path, mutate, pattern):
    lines = small["score_file"].read_text().splitlines()
    bad = _write(tmp_path / "bad.txt", mutate(lines))
    with pytest.raises(E.EvaluationError, match=pattern):
        trials = E.join_scores(E.read_protocol(small["protocol"], "asvspoof2019"), E.read_scores(bad))
        E.evaluate_trials(trials)


def test_bad_protocols_raise(small, tmp_path):
    lines = small["protocol"].read_text().splitlines()
    four = _write(tmp_path / "p4.txt", [" ".join(x.split()[:2] + x.split()[3:]) for x in lines])
    with pytest.raises(E.EvaluationError, match="expected 5 whitespace-separated columns"):
        E.read_protocol(four, "asvspoof2019")
    dup = _write(tmp_path / "pd.txt", lines + [lines[3]])
    with pytest.raises(E.EvaluationError, match="1 duplicated trial ids.*LA_E_0000003"):
        E.read_protocol(dup, "asvspoof2019")
    badkey = _write(tmp_path / "pk.txt", [lines[0].replace("bonafide", "genuine")] + lines[1:])
    with pytest.raises(E.EvaluationError, match="genuine"):
        E.read_protocol(badkey, "asvspoof2019")
    with pytest.raises(E.EvaluationError, match="no such file"):
        E.read_protocol(tmp_path / "nope.txt", "asvspoof2019")


def test_four_column_scores_checked_against_protocol(small, tmp_path):
    cols = zip(small["ids"], small["attacks"], small["labels"], small["scores"], strict=True)
    rows = [f"{u} {a} {k} {s:.6f}" for u, a, k, s in cols]
    prot = E.read_protocol(small["protocol"], "asvspoof2019")
    ok = E.join_scores(prot, E.read_scores(_write(tmp_path / "s4.txt", rows)))
    assert len(ok) == 40
    rows[0] = rows[0].replace("bonafide", "spoof")
    with pytest.raises(E.EvaluationError, match="labelled differently.*LA_E_0000000"):
        E.join_scores(prot, E.read_scores(_write(tmp_path / "s4b.txt", rows)))


def test_evaluate_trials_validation():
    t = pd.DataFrame(
        {"utt_id": ["a", "b", "a"], "score": [1.0, 0.0, 2.0], "label": ["bonafide", "spoof", "spoof"],
         "attack": ["-", "A1", "A1"]}
    )  # fmt: skip
    with pytest.raises(E.EvaluationError, match="duplicated utt_id.*a"):
        E.evaluate_trials(t)
    with pytest.raises(E.EvaluationError, match="need both classes"):
        E.evaluate_trials(t.assign(utt_id=["a", "b", "c"], label="spoof"))
    with pytest.raises(E.EvaluationError, match="missing columns"):
        E.evaluate_trials(t.drop(columns="attack"))
    with pytest.raises(E.EvaluationError, match="labels not"):
        E.evaluate_trials(t.assign(utt_id=["a", "b", "c"], label=["bonafide", "fake", "spoof"]))


def test_all_equal_scores_warn(caplog):
    t = pd.DataFrame(
        {"utt_id": list("abcd"), "score": 0.0, "label": ["bonafide", "bonafide", "spoof", "spoof"],
         "attack": ["-", "-", "A1", "A2"]}
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="sdd.evaluation"):
        res = E.evaluate_trials(t)
    assert "ALL 4 SCORES ARE EQUAL" in caplog.text
    assert res["eer"] == 1.0  # the official tie rule, not a silent 0.5


def test_ci_and_calibration_keys(rng):
    n = 400
    lab = np.where(rng.random(n) < 0.3, "bonafide", "spoof")
    score = np.where(lab == "bonafide", rng.normal(1, 1, n), rng.normal(-1, 1, n)) * 5 - 3
    attack = np.where(lab == "spoof", "A1", "-")
    t = pd.DataFrame({"utt_id": [f"u{i}" for i in range(n)], "score": score, "label": lab, "attack": attack})
    cal = E.fit_calibration(score[lab == "bonafide"], score[lab == "spoof"])
    r1 = E.evaluate_trials(t, ci=True, n_resamples=200, seed=3, calibration=cal)
    r2 = E.evaluate_trials(t, ci=True, n_resamples=200, seed=3, calibration=cal)
    assert r1 == r2
    assert r1["eer_ci95"][0] <= r1["eer"] <= r1["eer_ci95"][1]
    assert r1["cllr_calibrated"] < r1["cllr"]
    json.dumps(r1, allow_nan=False)


# ---- other formats ----


def _keys_2021(root: Path, rng, track: str) -> tuple[Path, list[str], np.ndarray]:
    """A tiny 2021 keys folder: subsets eval/progress, two conditions, ASV keys for LA."""
    cm = root / track / "CM"
    cm.mkdir(parents=True)
    ids, lines, scores = [], [], []
    for i in range(60):
        bona = i % 3 == 0
        cond = ["c1", "c2"][i % 2]
        subset = "eval" if i < 48 else "progress"
        utt = f"{track}_E_{i:07d}"
        label, attack = ("bonafide", "bonafide") if bona else ("spoof", ["A07", "A09"][i % 4 // 2])
        if track == "LA":
            lines.append(f"LA_00{i % 4} {utt} {cond} tx{i % 3} {attack} {label} notrim {subset}")
        else:
            voc = "bonafide" if bona else ["traditional_vocoder", "neural_vocoder_autoregressive"][i % 4 // 2]
            lines.append(f"LA_00{i % 4} {utt} {cond} asvspoof {attack} {label} notrim {subset} {voc} - - - -")
        ids.append(utt)
        scores.append(rng.normal(1.5 if bona else -1.0))
    _write(cm / "trial_metadata.txt", lines)
    if track == "LA":
        asv = root / "LA" / "ASV" / "ASVTorch_Kaldi"
        asv.mkdir(parents=True)
        meta, sc = [], []
        for j in range(90):
            key = ["target", "nontarget", "spoof"][j % 3]
            subset = "eval" if j < 70 else "progress"
            meta.append(f"LA_00{j % 4} LA_E_{j:07d} none none - {key} notrim {subset}")
            mean = {"target": 3, "nontarget": -3, "spoof": 0.5}[key]
            sc.append(f"LA_00{j % 4} LA_E_{j:07d} {rng.normal(mean):.4f}")
        _write(root / "LA" / "ASV" / "trial_metadata.txt", meta)
        _write(asv / "score.txt", sc)
    return root, ids, np.asarray(scores)


@pytest.mark.parametrize("track", ["LA", "DF"])
def test_asvspoof2021_keys(tmp_path, rng, track):
    root, ids, scores = _keys_2021(tmp_path / "keys", rng, track)
    sc = _write(tmp_path / "s.txt", [f"{u} {s:.6f}" for u, s in zip(ids, scores, strict=True)])
    out = tmp_path / "m.json"
    argv = [
        "--scores", str(sc), "--protocol", str(root / track), "--format", "asvspoof2021", "--out", str(out),
    ]  # fmt: skip
    rc = E.cli_main(argv)
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["n_bonafide"] + res["n_spoof"] == 48  # eval subset only
    s = np.round(scores[:48], 6)
    b = np.arange(48) % 3 == 0
    assert res["eer"] == M.eer(s[b], s[~b])
    cond = np.array(["c1", "c2"] * 24)
    col = "codec" if track == "LA" else "compr"
    want = {c: M.eer(s[b & (cond == c)], s[~b & (cond == c)]) for c in ("c1", "c2")}
    assert res["per_condition"][col] == want
    if track == "LA":
        assert set(res["per_condition"]) == {"codec", "trans"}
        assert "min_tdcf" in res and "min_tdcf_legacy" in res
    else:
        want_voc = {"traditional_vocoder", "neural_vocoder_autoregressive"}
        assert set(res["per_spoof_condition"]["vocoder"]) == want_voc
        assert "min_tdcf" not in res
    rc = E.cli_main([*argv, "--subset", "hidden"])
    assert rc == 2
    # a score file of the eval subset only is accepted too; one trial short is an error
    sub = _write(tmp_path / "sub.txt", [f"{u} {x:.6f}" for u, x in zip(ids[:48], scores[:48], strict=True)])
    assert E.cli_main([*argv[:1], str(sub), *argv[2:]]) == 0
    assert json.loads(out.read_text())["eer"] == res["eer"]
    short_rows = [f"{u} {x:.6f}" for u, x in zip(ids[:47], scores[:47], strict=True)]
    short = _write(tmp_path / "short.txt", short_rows)
    with pytest.raises(E.EvaluationError, match="13 trials of the protocol have no score"):
        E.join_scores(E.read_protocol(root / track, "asvspoof2021", "eval"), E.read_scores(short))


def test_itw_and_asvspoof5(tmp_path, rng):
    n = 30
    lab = ["bona-fide" if i % 2 else "spoof" for i in range(n)]
    _write(tmp_path / "meta.csv", ["file,speaker,label"] + [f"{i}.wav,Spk{i % 3},{lab[i]}" for i in range(n)])
    scores = rng.normal(size=n)
    sc = _write(tmp_path / "itw.txt", [f"{i} {s:.6f}" for i, s in enumerate(scores)])
    trials = E.join_scores(E.read_protocol(tmp_path / "meta.csv", "itw"), E.read_scores(sc))
    res = E.evaluate_trials(trials)
    b = np.array([x == "bona-fide" for x in lab])
    s = np.round(scores, 6)
    assert res["eer"] == M.eer(s[b], s[~b]) and res["n_bonafide"] == 15
    lines = [
        f"E_{i % 4:04d} E_{i:010d} F {'C01' if i % 2 else '-'} - - {'bonafide' if i % 3 == 0 else 'AC1'} "
        f"{'bonafide' if i % 3 == 0 else 'A11'} {'bonafide' if i % 3 == 0 else 'spoof'} -"
        for i in range(n)
    ]
    p5 = _write(tmp_path / "p5.txt", lines)
    sc5 = _write(tmp_path / "s5.txt", [f"E_{i:010d} {x:.6f}" for i, x in enumerate(scores)])
    trials5 = E.join_scores(E.read_protocol(p5, "asvspoof5"), E.read_scores(sc5))
    res5 = E.evaluate_trials(trials5, condition_columns=("codec",))
    assert set(res5["per_attack"]) == {"A11"} and set(res5["per_condition"]["codec"]) == {"-", "C01"}


def test_cli_errors_are_one_line(small, tmp_path):
    bad = _write(tmp_path / "bad.txt", small["score_file"].read_text().splitlines()[:-3])
    cmd = [
        *SDD, "evaluate", "--scores", str(bad), "--protocol", str(small["protocol"]),
        "--format", "asvspoof2019", "--out", str(tmp_path / "o.json"),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "3 trials of the protocol have no score" in r.stderr
    assert not (tmp_path / "o.json").exists()


def test_cli_dev_calibration(small, tmp_path):
    # dev = the same synthetic set shifted and scaled: calibration must bring Cllr down
    lines = small["score_file"].read_text().splitlines()
    shifted = [f"{u} {10 * float(s) - 4:.6f}" for u, s in (x.split() for x in lines)]
    dev = _write(tmp_path / "dev.txt", shifted)
    ev = _write(tmp_path / "ev.txt", shifted)
    out = tmp_path / "c.json"
    argv = [
        "--scores", str(ev), "--protocol", str(small["protocol"]), "--format", "asvspoof2019",
        "--out", str(out), "--dev-scores", str(dev), "--dev-protocol", str(small["protocol"]),
    ]  # fmt: skip
    assert E.cli_main(argv) == 0
    res = json.loads(out.read_text())
    assert res["cllr_calibrated"] < res["cllr"]
    assert set(res["calibration"]) == {"a", "b"}
    assert E.cli_main(argv[:-2]) == 2  # --dev-scores without --dev-protocol
