"""The rest of the metric suite of ``sdd evaluate``: SASV a-DCF, the speaker-blocked CI, and the 2021 LA
t-DCF per attack and codec.

Oracles are the official packages' procedures written out here: the ASVspoof 5 package's a_dcf.py
(``calculate_a_dcf`` on the score file, via ``tests.helpers.oracles.a_dcf_package``), and the ASVspoof 2021
eval package's ``compute_tDCF_C012`` + ``compute_decomposed_mintdcf_eer`` (main.py) with its
``eval_metrics`` / ``eval_wrapper`` functions and pandas queries, on synthetic keys folders laid out
as the real ones (no real 2021 keys exist here).
"""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd import evaluation as E
from sdd import metrics as M
from sdd.evaluation.tdcf2021 import read_c012_pickle
from tests.helpers.oracles import a_dcf_package, decimation_trap

SDD = [sys.executable, "-m", "sdd.cli"]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def la19_small(tmp_path, rng):
    """A 2019-format protocol of 120 trials over 6 speakers, and its scores."""
    n = 120
    ids = [f"LA_E_{i:07d}" for i in range(n)]
    bona = np.arange(n) % 3 == 0
    spk = [f"LA_00{i % 6}" for i in range(n)]
    attack = np.where(bona, "-", np.where(np.arange(n) % 2 == 0, "A07", "A08"))
    label = np.where(bona, "bonafide", "spoof")
    score = np.round(np.where(bona, rng.normal(1, 1, n), rng.normal(-1, 1, n)), 6)
    rows = zip(spk, ids, attack, label, strict=True)
    prot = _write(tmp_path / "prot.txt", [f"{s} {u} - {a} {k}" for s, u, a, k in rows])
    sc = _write(tmp_path / "scores.txt", [f"{u} {x:.6f}" for u, x in zip(ids, score, strict=True)])
    return {"protocol": prot, "scores": sc, "bona": bona, "score": score, "spk": np.array(spk)}


# ---- SASV a-DCF ----


def _sasv(rng, n=90):
    keys = np.array(["target", "nontarget", "spoof"])[np.arange(n) % 3]
    mean = {"target": 4.0, "nontarget": -3.0, "spoof": 1.0}
    score = np.round([rng.normal(mean[k], 2.0) for k in keys], 3)  # rounded: cross-class ties happen
    spk = [f"E_{i % 7:04d}" for i in range(n)]
    utt = [f"E_{i:010d}" for i in range(n)]
    return spk, utt, score, keys


def test_sasv_four_column_file_gives_the_package_a_dcf(la19_small, tmp_path, rng):
    spk, utt, score, keys = _sasv(rng)
    rows = zip(spk, utt, score, keys, strict=True)
    f = _write(tmp_path / "sasv.txt", [f"{a} {b} {s} {k}" for a, b, s, k in rows])
    # the package: np.genfromtxt(..., delimiter=" "), column 2 = score, column 3 = key
    data = np.genfromtxt(f, dtype=str, delimiter=" ")
    sc, ky = data[:, 2].astype(np.float64), data[:, 3]
    want = a_dcf_package(sc[ky == "target"], sc[ky == "nontarget"], sc[ky == "spoof"])
    out = tmp_path / "m.json"
    argv = ["--scores", str(la19_small["scores"]), "--protocol", str(la19_small["protocol"]),
            "--format", "asvspoof2019", "--out", str(out), "--sasv-scores", str(f)]  # fmt: skip
    assert E.cli_main(argv) == 0
    res = json.loads(out.read_text())
    assert res["a_dcf"] == pytest.approx(want, abs=1e-12)
    assert res["sasv_trials"] == {"target": 30, "nontarget": 30, "spoof": 30}
    assert 0 < res["a_dcf"] < 1


def test_sasv_scores_with_a_key_file_in_any_order(tmp_path, rng):
    spk, utt, score, keys = _sasv(rng)
    want = a_dcf_package(score[keys == "target"], score[keys == "nontarget"], score[keys == "spoof"])
    rev = list(range(len(utt)))[::-1]
    fwd = list(range(len(utt)))
    cm_key = ["spoof" if k == "spoof" else "bonafide" for k in keys]
    variants = {
        "utt score + utt key": (
            [f"{utt[i]} {score[i]}" for i in rev], [f"{u} {k}" for u, k in zip(utt, keys, strict=True)]
        ),
        "spk utt score + spk utt key": (
            [f"{spk[i]} {utt[i]} {score[i]}" for i in rev], [f"{spk[i]} {utt[i]} {keys[i]}" for i in fwd]
        ),
        "ASVspoof 5 headed tables": (
            ["spk\tfilename\tcm-score\tasv-score\tsasv-score"]
            + [f"{spk[i]}\t{utt[i]}\t0.5\t1.5\t{score[i]}" for i in rev],
            ["tar_spk_anon\ttrial_anon\tcm-label\tasv-label"]
            + [f"{spk[i]}\t{utt[i]}\t{cm_key[i]}\t{keys[i]}" for i in fwd],
        ),
    }  # fmt: skip
    for name, (s_lines, k_lines) in variants.items():
        s = E.read_sasv_scores(_write(tmp_path / "s.txt", s_lines), _write(tmp_path / "k.txt", k_lines))
        g = {k: s["score"].to_numpy()[s["asv_key"].to_numpy() == k] for k in E.ASV_KEYS}
        assert M.a_dcf(g["target"], g["nontarget"], g["spoof"]) == pytest.approx(want, abs=1e-12), name


@pytest.mark.parametrize(
    ("scores", "keys", "pattern"),
    [
        (["a 1.0 target"], None, "without --sasv-keys, expected 4 columns .* the first line has 3"),
        (["s a 1.0 target", "s b 2.0 nontarget"], None, r"no \['spoof'\] trials"),
        (["s a 1.0 target", "s b 2.0 bogus", "s c 0 spoof"], None, "asv_key outside.*bogus"),
        (["s a 1.0 target", "s b nan nontarget", "s c 0 spoof"], None, "non-finite.*s b"),
        (["s a 1.0 target", "s a 2.0 nontarget", "s c 0 spoof"], None, "duplicated trial ids.*s a"),
        (["a 1.0", "b 2.0"], None, "give --sasv-keys for a score file without keys"),
        (["a 1.0", "b 2.0"], ["a target", "b nontarget", "c spoof"], "1 trials .*have no score.*c"),
        (["s a 1 target", "s b 2 nontarget", "s c 0 spoof"], ["a target"], "carries its keys"),
        (["spk filename sasv-score", "s a x"], ["a target"], "sasv-score is not a number"),
        (["a 1.0", "b 2.0"], ["spk filename cm-label", "s a x"], r"header has none of \['asv-label'"),
    ],
)
def test_bad_sasv_input_is_one_clear_error(tmp_path, scores, keys, pattern):
    s = _write(tmp_path / "sasv.txt", scores)
    k = _write(tmp_path / "keys.txt", keys) if keys is not None else None
    with pytest.raises(E.EvaluationError, match=pattern):
        E.read_sasv_scores(s, k)


def test_sasv_cli_errors_are_one_line(la19_small, tmp_path):
    bad = _write(tmp_path / "sasv.txt", ["s a 1.0 target", "s b 2.0 nontarget"])
    cmd = [*SDD, "evaluate", "--scores", str(la19_small["scores"]), "--protocol",
           str(la19_small["protocol"]), "--format", "asvspoof2019", "--out", str(tmp_path / "o.json"),
           "--sasv-scores", str(bad)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "no ['spoof'] trials" in r.stderr and str(bad) in r.stderr
    assert not (tmp_path / "o.json").exists()


# ---- t-EER (ASV scores with the CM protocol, or the SASV table's cm-score and asv-score) ----


def _asv_file(path: Path, rng, n: int = 60) -> tuple[Path, dict[str, np.ndarray]]:
    """An ASVspoof 2019 ASV score file ``CM_KEY ASV_KEY SCORE``, and its scores by ASV key."""
    groups = {
        "target": np.round(rng.normal(3, 1, n), 4),
        "nontarget": np.round(rng.normal(-3, 1, n), 4),
        "spoof": np.round(rng.normal(0.5, 2, n), 4),
    }
    lines = [f"{'spoof' if k == 'spoof' else 'bonafide'} {k} {x}" for k, v in groups.items() for x in v]
    return _write(path, lines), groups


def test_evaluate_reports_the_teer_with_asv_scores(la19_small, tmp_path, rng):
    asv, g = _asv_file(tmp_path / "asv.txt", rng)
    out = tmp_path / "m.json"
    argv = ["--scores", str(la19_small["scores"]), "--protocol", str(la19_small["protocol"]),
            "--format", "asvspoof2019", "--out", str(out), "--asv-scores", str(asv)]  # fmt: skip
    assert E.cli_main(argv) == 0
    res = json.loads(out.read_text())
    b, s = la19_small["bona"], la19_small["score"]
    assert res["t_eer"] == M.t_eer(s[b], s[~b], g["target"], g["nontarget"], g["spoof"])
    assert res["t_eer_exhaustive"] == res["t_eer"]  # under 3,000 thresholds both searches are one
    assert 0 < res["t_eer"] < 1 and {"min_tdcf", "cllr", "act_dcf"} <= set(res)
    # without ASV scores there is no t-EER (and no placeholder for it)
    assert E.cli_main(argv[:-2]) == 0
    assert "t_eer" not in json.loads(out.read_text())


def _sasv_table(tmp_path: Path, cm_col, asv_col, sasv_col, keys) -> tuple[Path, Path]:
    """The ASVspoof 5 package's headed SASV score and key tables."""
    n = len(keys)
    spk, utt = [f"E_{i % 7:04d}" for i in range(n)], [f"E_{i:010d}" for i in range(n)]
    rows = zip(spk, utt, cm_col, asv_col, sasv_col, strict=True)
    scores = ["spk\tfilename\tcm-score\tasv-score\tsasv-score"] + ["\t".join(map(str, r)) for r in rows]
    cm_key = ["spoof" if k == "spoof" else "bonafide" for k in keys]
    key_rows = zip(spk, utt, cm_key, keys, strict=True)
    key_lines = ["spk\tfilename\tcm-label\tasv-label"] + ["\t".join(r) for r in key_rows]
    return _write(tmp_path / "sasv.tsv", scores), _write(tmp_path / "sasv_keys.tsv", key_lines)


def test_evaluate_reports_the_package_teer_of_the_organisers_sasv_scores(
    la19_small, tmp_path, asvspoof5_package, asvspoof5_dev_scores
):
    """The organisers' sample ASV + CM scores written as the package's Track 2 tables: sdd evaluate's
    sasv_t_eer is the package's calculate_aDCF_tdcf_tEER t-EER (percent) / 100."""
    d = asvspoof5_dev_scores
    keys = np.concatenate([np.full(d[k][0].size, k) for k in E.ASV_KEYS])
    asv = np.concatenate([d[k][0] for k in E.ASV_KEYS])
    cm = np.concatenate([d[k][1] for k in E.ASV_KEYS])
    sasv = cm + asv  # any SASV score: the t-EER reads the CM and ASV columns
    exact = lambda x: [repr(float(v)) for v in x]  # noqa: E731  (shortest round-trip text)
    f, k = _sasv_table(tmp_path, exact(cm), exact(asv), exact(sasv), keys)
    cm_keys = np.where(keys == "spoof", "spoof", "bonafide")
    with np.errstate(divide="ignore", invalid="ignore"):
        _, _, teer_pct = asvspoof5_package.metrics.calculate_aDCF_tdcf_tEER(
            cm, asv, sasv, cm_keys, keys, output_file=None, printout=False
        )
    out = tmp_path / "m.json"
    argv = ["--scores", str(la19_small["scores"]), "--protocol", str(la19_small["protocol"]),
            "--format", "asvspoof2019", "--out", str(out), "--sasv-scores", str(f),
            "--sasv-keys", str(k)]  # fmt: skip
    assert E.cli_main(argv) == 0
    res = json.loads(out.read_text())
    assert res["sasv_t_eer"] == pytest.approx(teer_pct / 100, abs=1e-6)
    assert res["sasv_t_eer_exhaustive"] == res["sasv_t_eer"]  # the package's search finds it here
    assert "t_eer" not in res  # no --asv-scores: the CM protocol's trials have no ASV scores


def test_sasv_table_without_system_scores_has_no_teer(la19_small, tmp_path, rng):
    spk, utt, score, keys = _sasv(rng)
    dash = ["-"] * len(keys)
    f, k = _sasv_table(tmp_path, dash, dash, list(score), list(keys))
    sv = E.read_sasv_scores(f, k)
    assert "cm_score" not in sv and "asv_score" not in sv
    out = tmp_path / "m.json"
    argv = ["--scores", str(la19_small["scores"]), "--protocol", str(la19_small["protocol"]),
            "--format", "asvspoof2019", "--out", str(out), "--sasv-scores", str(f),
            "--sasv-keys", str(k)]  # fmt: skip
    assert E.cli_main(argv) == 0
    res = json.loads(out.read_text())
    assert "a_dcf" in res and "sasv_t_eer" not in res


def test_sasv_table_mixing_numbers_and_dashes_is_one_clear_error(tmp_path, rng):
    spk, utt, score, keys = _sasv(rng)
    cm = [str(x) for x in score]
    cm[4] = "-"
    f, k = _sasv_table(tmp_path, cm, list(score), list(score), list(keys))
    pattern = r"sasv.tsv: 1 cm-score values are not numbers \(\['-'\] at trials E_0000000004\); give a number"
    with pytest.raises(E.EvaluationError, match=pattern):
        E.read_sasv_scores(f, k)


def test_teer_by_both_searches_with_a_warning_where_they_differ(caplog):
    cm_b, cm_s, tar, non, spf = decimation_trap()
    trials = pd.DataFrame(
        {
            "utt_id": [f"u{i}" for i in range(cm_b.size + cm_s.size)],
            "score": np.concatenate([cm_b, cm_s]),
            "label": ["bonafide"] * cm_b.size + ["spoof"] * cm_s.size,
            "attack": ["-"] * cm_b.size + ["A01"] * cm_s.size,
        }
    )
    keys = ["target"] * tar.size + ["nontarget"] * non.size + ["spoof"] * spf.size
    asv = pd.DataFrame({"asv_key": keys, "score": np.concatenate([tar, non, spf])})
    with caplog.at_level(logging.WARNING):
        res = E.evaluate_trials(trials, asv_scores=asv)
    assert res["t_eer"] == M.t_eer(cm_b, cm_s, tar, non, spf)
    assert res["t_eer_exhaustive"] == M.t_eer(cm_b, cm_s, tar, non, spf, search="exhaustive")
    assert res["t_eer_exhaustive"] < res["t_eer"] - 0.05
    assert "differs from" in caplog.text and "t_eer_exhaustive" in caplog.text


def test_undefined_teer_is_a_warning_not_a_number(caplog):
    """Degenerate tiny scores where the package's search finds no point (its result is unbound):
    evaluate_trials warns and leaves t_eer out, the other metrics stay."""
    trials = pd.DataFrame(
        {"utt_id": ["b", "s1", "s2", "s3"], "score": [1.0, 2.0, 2.0, 0.0],
         "label": ["bonafide", "spoof", "spoof", "spoof"], "attack": ["-", "A01", "A01", "A01"]}
    )  # fmt: skip
    asv = pd.DataFrame(
        {"asv_key": ["target", "nontarget", "nontarget", "spoof", "spoof", "spoof"],
         "score": [0.0, 0.0, 2.0, 2.0, 2.0, 0.0]}
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        res = E.evaluate_trials(trials, asv_scores=asv)
    assert "t_eer" not in res and "t_eer_exhaustive" not in res and "min_tdcf" in res
    assert "no t_eer" in caplog.text and "rejects every bona fide trial" in caplog.text


# ---- speaker-blocked CI ----


def test_block_speaker_ci_is_the_blocked_bootstrap(la19_small, tmp_path):
    out = tmp_path / "m.json"
    base = ["--scores", str(la19_small["scores"]), "--protocol", str(la19_small["protocol"]),
            "--format", "asvspoof2019", "--out", str(out), "--n-resamples", "300", "--seed", "4"]  # fmt: skip
    assert E.cli_main([*base, "--ci", "--block", "speaker"]) == 0
    res = json.loads(out.read_text())
    b, s, spk = la19_small["bona"], la19_small["score"], la19_small["spk"]
    want = M.eer_confidence_interval(
        s[b], s[~b], n_resamples=300, seed=4, bonafide_groups=spk[b], spoof_groups=spk[~b]
    )
    assert res["eer_ci95"] == list(want) and res["eer_ci95_blocked_by"] == "speaker"
    assert E.cli_main([*base, "--ci"]) == 0
    plain = json.loads(out.read_text())
    assert plain["eer_ci95"] == list(M.eer_confidence_interval(s[b], s[~b], n_resamples=300, seed=4))
    assert plain["eer_ci95"] != res["eer_ci95"] and "eer_ci95_blocked_by" not in plain
    assert E.cli_main([*base, "--block", "speaker"]) == 2  # --block without --ci


# ---- ASVspoof 2021 LA: the t-DCF per attack and codec, as the 2021 eval package ----

ATTACKS = ["A07", "A08", "A09"]
CODECS = ["alaw", "none", "opus"]
COST = {"Pspoof": 0.05, "Ptar": 0.95 * 0.99, "Pnon": 0.95 * 0.01, "Cmiss": 1, "Cfa": 10, "Cfa_spoof": 10}


def _pkg_compute_eer(target, nontarget):  # eval_metrics.compute_eer
    n = target.size + nontarget.size
    scores = np.concatenate((target, nontarget))
    labels = np.concatenate((np.ones(target.size), np.zeros(nontarget.size)))
    idx = np.argsort(scores, kind="mergesort")
    labels = labels[idx]
    tar = np.cumsum(labels)
    non = nontarget.size - (np.arange(1, n + 1) - tar)
    frr = np.concatenate((np.atleast_1d(0), tar / target.size))
    far = np.concatenate((np.atleast_1d(1), non / nontarget.size))
    thr = np.concatenate((np.atleast_1d(scores[idx[0]] - 0.001), scores[idx]))
    i = np.argmin(np.abs(frr - far))
    return np.mean((frr[i], far[i])), thr[i], frr, far


def _pkg_c012(tar, non, spf):  # eval_wrapper.get_tDCF_C012_from_asv_scores
    if not (len(tar) and len(non) and len(spf)):
        return np.nan, np.nan, np.nan
    _, thr, _, _ = _pkg_compute_eer(tar, non)
    pfa = sum(non >= thr) / non.size
    pmiss = sum(tar < thr) / tar.size
    pfa_spoof = np.sum(spf >= thr) / spf.size
    c0 = COST["Ptar"] * COST["Cmiss"] * pmiss + COST["Pnon"] * COST["Cfa"] * pfa
    c1 = COST["Ptar"] * COST["Cmiss"] - (
        COST["Ptar"] * COST["Cmiss"] * pmiss + COST["Pnon"] * COST["Cfa"] * pfa
    )
    c2 = COST["Pspoof"] * COST["Cfa_spoof"] * pfa_spoof
    return c0, c1, c2


def _pkg_tables(cm: pd.DataFrame, asv: pd.DataFrame, c012: dict | None = None):
    """main.py: compute_tDCF_C012 (unless given) and compute_decomposed_mintdcf_eer with the LA config
    (factor 1 'attack', type spoof; factor 2 'codec', type both; 'Pooled' in both lists)."""
    rows, cols = [*ATTACKS, "Pooled"], [*CODECS, "Pooled"]

    def q(r, c, tags):
        qa = "" if r == "Pooled" else f' and attack == "{r}"'
        qc = "" if c == "Pooled" else f' and codec == "{c}"'
        return {t: (qa if spoofish else "") + qc for t, spoofish in tags.items()}

    if c012 is None:
        c012 = {}
        for r in rows:
            for c in cols:
                f = q(r, c, {"target": False, "nontarget": False, "spoof": True})
                data = [asv.query(f'label == "{t}"' + f[t])["score"].to_numpy() for t in f]
                c0, c1, c2 = _pkg_c012(*data)
                c012.setdefault(r, {})[c] = {"C0": c0, "C1": c1, "C2": c2}
    tdcf, eer = np.zeros((len(rows), len(cols))), np.zeros((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            f = q(r, c, {"bonafide": False, "spoof": True})
            bona = cm.query('label == "bonafide"' + f["bonafide"])["score"].to_numpy()
            spoof = cm.query('label == "spoof"' + f["spoof"])["score"].to_numpy()
            try:
                cell = c012[r][c]
                c0, c1, c2 = cell["C0"], cell["C1"], cell["C2"]
            except KeyError:
                c0 = c1 = c2 = np.nan
            if len(bona) and len(spoof):  # eval_wrapper.get_mintDCF_eer
                e, _, frr, far = _pkg_compute_eer(bona, spoof)
                norm = (c0 + c1 * frr + c2 * far) / (c0 + min(c1, c2))
                t = np.nan if np.isnan([c0, c1, c2]).any() else np.min(norm)
            else:
                e = t = np.nan
            tdcf[i, j], eer[i, j] = t, e
    return c012, tdcf, eer


def _keys_la(root: Path, rng, *, asv=True, npy=None, drop_cell=None):
    """A 2021 LA keys folder (CM + ASV trial_metadata, ASV scores, optionally LA-C012-eval.npy)."""
    cm_rows, asv_rows = [], []
    for i in range(420):
        bona = i % 4 == 0
        codec, attack = CODECS[i % 3], ATTACKS[(i // 4) % 3]
        if drop_cell and not bona and (attack, codec) == drop_cell:
            codec = CODECS[(CODECS.index(codec) + 1) % 3]
        subset = "eval" if i < 360 else "progress"
        cm_rows.append({
            "spk": f"LA_{i % 9:04d}", "trial": f"LA_E_{i:07d}", "codec": codec, "trans": "tx",
            "attack": "bonafide" if bona else attack, "label": "bonafide" if bona else "spoof",
            "trim": "notrim", "subset": subset, "score": round(rng.normal(1.0 if bona else -1.0, 1.2), 3),
        })  # fmt: skip
    for i in range(900):
        key = ["target", "nontarget", "spoof"][i % 3]
        codec, attack = CODECS[(i // 3) % 3], ATTACKS[(i // 9) % 3]
        mean = {"target": 3.0, "nontarget": -3.0, "spoof": 0.5}[key]
        mean += {"alaw": -0.5, "none": 0, "opus": 0.7}[codec]
        asv_rows.append({
            "spk": f"LA_{i % 9:04d}", "trial": f"LA_E_{i:07d}", "codec": codec, "trans": "tx",
            "attack": attack if key == "spoof" else "bonafide", "label": key, "trim": "notrim",
            "subset": "eval" if i < 750 else "progress", "score": round(rng.normal(mean, 1.5), 3),
        })  # fmt: skip
    cm, asv_df = pd.DataFrame(cm_rows), pd.DataFrame(asv_rows)
    cols8 = ["spk", "trial", "codec", "trans", "attack", "label", "trim", "subset"]
    _write(root / "LA" / "CM" / "trial_metadata.txt", [" ".join(r) for r in cm[cols8].to_numpy()])
    if asv:
        _write(root / "LA" / "ASV" / "trial_metadata.txt", [" ".join(r) for r in asv_df[cols8].to_numpy()])
        _write(
            root / "LA" / "ASV" / "ASVTorch_Kaldi" / "score.txt",
            [f"{a} {b} {s}" for a, b, s in asv_df[["spk", "trial", "score"]].to_numpy()],
        )
    if npy is not None:
        with open(root / "LA" / "LA-C012-eval.npy", "wb") as f:
            np.array(npy).dump(f)  # eval_wrapper.dump_C012_dict
    return root / "LA", cm, asv_df


def _run_la(tmp_path, keys_dir: Path, cm: pd.DataFrame) -> dict:
    sc = _write(tmp_path / "s.txt", [f"{u} {s}" for u, s in cm[["trial", "score"]].to_numpy()])
    out = tmp_path / "m.json"
    argv = ["--scores", str(sc), "--protocol", str(keys_dir), "--format", "asvspoof2021", "--out", str(out)]
    assert E.cli_main(argv) == 0
    return json.loads(out.read_text())


def _assert_tables(res: dict, tdcf: np.ndarray, eer: np.ndarray) -> None:
    rows, cols = [*ATTACKS, "Pooled"], [*CODECS, "Pooled"]
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if r == "Pooled" and c == "Pooled":
                got_t, got_e = res.get("min_tdcf"), res["eer"]
            elif r == "Pooled":
                got_t, got_e = res["per_condition_min_tdcf"]["codec"].get(c), res["per_condition"]["codec"][c]
            elif c == "Pooled":
                got_t, got_e = res["per_attack_min_tdcf"].get(r), res["per_attack"][r]
            else:
                got_t = res["per_attack_condition_min_tdcf"]["codec"].get(r, {}).get(c)
                got_e = res["per_attack_condition"]["codec"].get(r, {}).get(c)
            if np.isnan(tdcf[i, j]):
                assert got_t is None, (r, c)
            else:
                assert got_t == pytest.approx(tdcf[i, j], abs=1e-12), (r, c)
            if np.isnan(eer[i, j]):
                assert got_e is None, (r, c)
            else:
                assert got_e == pytest.approx(eer[i, j], abs=1e-12), (r, c)


def test_la21_tdcf_per_attack_and_codec_recomputed_from_the_asv_keys(tmp_path, rng):
    keys, cm, asv = _keys_la(tmp_path / "keys", rng)
    res = _run_la(tmp_path, keys, cm)
    _, tdcf, eer = _pkg_tables(cm[cm["subset"] == "eval"], asv[asv["subset"] == "eval"])
    assert not np.isnan(tdcf).any()
    _assert_tables(res, tdcf, eer)
    assert res["tdcf_c012"].startswith("recomputed from ASV/trial_metadata.txt")
    assert set(res["per_condition_min_tdcf"]["codec"]) == set(CODECS)
    assert "min_tdcf_legacy" in res and "asv_operating_point" in res  # from the pooled ASV keys


def test_la21_tdcf_from_the_packages_c012_file(tmp_path, rng):
    # the file alone (no ASV keys): its coefficients are used as they are, NaN cells left out
    _, cm0, asv0 = _keys_la(tmp_path / "ref", rng)
    c012, _, _ = _pkg_tables(cm0[cm0["subset"] == "eval"], asv0[asv0["subset"] == "eval"])
    c012["A08"]["opus"] = {"C0": np.nan, "C1": np.nan, "C2": np.nan}
    c012["A09"]["alaw"]["C2"] = c012["A09"]["alaw"]["C2"] * 0.5  # not what the ASV keys would give
    keys, cm, _ = _keys_la(tmp_path / "keys", np.random.default_rng(7), asv=False, npy=c012)
    res = _run_la(tmp_path, keys, cm)
    _, tdcf, eer = _pkg_tables(cm[cm["subset"] == "eval"], None, c012=c012)
    assert np.isnan(tdcf[ATTACKS.index("A08"), CODECS.index("opus")])
    _assert_tables(res, tdcf, eer)
    assert res["tdcf_c012"] == "LA-C012-eval.npy"
    assert "min_tdcf_legacy" not in res  # needs the ASV scores, which this folder lacks


def test_la21_c012_file_wins_over_the_asv_keys_and_a_mismatch_is_logged(tmp_path, rng, caplog):
    _, cm0, asv0 = _keys_la(tmp_path / "ref", rng)
    c012, _, _ = _pkg_tables(cm0[cm0["subset"] == "eval"], asv0[asv0["subset"] == "eval"])
    keys, cm, asv = _keys_la(tmp_path / "keys", np.random.default_rng(0), npy=c012)
    with caplog.at_level(logging.WARNING, logger="sdd.evaluation"):
        res = _run_la(tmp_path, keys, cm)
    _, tdcf, eer = _pkg_tables(cm[cm["subset"] == "eval"], None, c012=c012)
    _assert_tables(res, tdcf, eer)
    assert "cells differ from the C012 recomputed from the ASV keys" in caplog.text
    # the same coefficients as the ASV keys give: no warning
    c012_same, _, _ = _pkg_tables(cm[cm["subset"] == "eval"], asv[asv["subset"] == "eval"])
    keys2, cm2, _ = _keys_la(tmp_path / "keys2", np.random.default_rng(0), npy=c012_same)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdd.evaluation"):
        _run_la(tmp_path, keys2, cm2)
    assert "cells differ" not in caplog.text


def test_la21_cells_without_trials_are_left_out(tmp_path, rng, caplog):
    keys, cm, asv = _keys_la(tmp_path / "keys", rng, drop_cell=("A08", "alaw"))
    with caplog.at_level(logging.WARNING, logger="sdd.evaluation"):
        res = _run_la(tmp_path, keys, cm)
    _, tdcf, eer = _pkg_tables(cm[cm["subset"] == "eval"], asv[asv["subset"] == "eval"])
    assert np.isnan(eer[ATTACKS.index("A08"), CODECS.index("alaw")])
    _assert_tables(res, tdcf, eer)
    assert "[A08][alaw] (no trials)" in caplog.text
    json.dumps(res, allow_nan=False)


def test_c012_pickle_reader_refuses_code_and_reads_numpy_1_files(tmp_path):
    table = {"Pooled": {"Pooled": {"C0": np.float64(0.1), "C1": np.float64(0.8), "C2": np.float64(0.3)}}}
    f = tmp_path / "LA-C012-eval.npy"
    with open(f, "wb") as fh:
        np.array(table).dump(fh)
    assert read_c012_pickle(f).get("Pooled", "Pooled") == (0.1, 0.8, 0.3)
    # the official files were written by numpy 1.x, whose module is numpy.core.multiarray
    old = f.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (tmp_path / "old.npy").write_bytes(old)
    assert read_c012_pickle(tmp_path / "old.npy").get("Pooled", "Pooled") == (0.1, 0.8, 0.3)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.npy").write_bytes(pickle.dumps({"Pooled": {"Pooled": Evil()}}, protocol=2))
    with pytest.raises(E.EvaluationError, match="refusing to load .*print"):
        read_c012_pickle(tmp_path / "evil.npy")
    (tmp_path / "flat.npy").write_bytes(pickle.dumps({"Pooled": 3.0}, protocol=2))
    with pytest.raises(E.EvaluationError, match=r"\[Pooled\] is a float"):
        read_c012_pickle(tmp_path / "flat.npy")
