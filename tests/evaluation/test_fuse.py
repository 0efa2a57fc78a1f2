"""``sdd fuse``: score folders fused on their dev scores only, applied to every other score file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.cli import main as sdd_main
from sdd.evaluation.common import EvaluationError
from sdd.evaluation.fuse import FUSION_FILE, MANIFEST_FORMAT, fuse_folders, read_dev_labels
from sdd.evaluation.score_files import read_scores
from sdd.metrics.fusion import fit_linear_fusion


def _write_scores(path: Path, ids, scores) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u} {float(s)!r}\n" for u, s in zip(ids, scores, strict=True)))


@pytest.fixture
def folders(tmp_path, rng):
    """Two systems' score folders (dev.txt, a__eval.txt, b__eval.txt) and a dev manifest."""
    n = 120
    dev_ids = [f"D{i:03d}" for i in range(n)]
    dev_y = np.arange(n) % 3 == 0
    manifest = pd.DataFrame(
        {"utt_id": dev_ids, "path": [f"{u}.flac" for u in dev_ids],
         "label": np.where(dev_y, "bonafide", "spoof"), "attack": np.where(dev_y, "-", "A01")}
    )  # fmt: skip
    manifest.to_csv(tmp_path / "dev.csv", index=False)
    ev_ids = {name: [f"{name}{i:03d}" for i in range(80)] for name in ("a__eval", "b__eval")}
    systems = []
    for k, (scale, shift) in enumerate([(2.0, 1.0), (0.5, -3.0)]):
        d = tmp_path / f"sys{k}"
        _write_scores(d / "dev.txt", dev_ids, scale * (dev_y + rng.normal(size=n)) + shift)
        for name, ids in ev_ids.items():
            order = ids if k == 0 else ids[::-1]  # another order: fusion aligns the trials by id
            _write_scores(d / f"{name}.txt", order, rng.normal(size=len(ids)))
        systems.append(d)
    return systems, tmp_path / "dev.csv"


def test_fused_files_are_the_dev_fitted_llrs(folders, tmp_path):
    systems, manifest = folders
    out = tmp_path / "fused"
    fusion, doc = fuse_folders(systems, read_dev_labels(manifest, MANIFEST_FORMAT), out)
    assert doc["files"] == ["a__eval.txt", "b__eval.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["a__eval.txt", "b__eval.txt", "dev.txt", FUSION_FILE]
    # the fit, independently: dev scores and labels only
    labels = pd.read_csv(manifest).set_index("utt_id")["label"]
    dev = [read_scores(d / "dev.txt").set_index("utt_id")["score"] for d in systems]
    x = np.c_[dev[0].to_numpy(), dev[1].reindex(dev[0].index).to_numpy()]
    ref = fit_linear_fusion(x, (labels.reindex(dev[0].index) == "bonafide").to_numpy())
    assert fusion.weights == ref.weights and fusion.offset == ref.offset
    for name in doc["files"]:
        cols = [read_scores(d / name).set_index("utt_id")["score"] for d in systems]
        got = read_scores(out / name).set_index("utt_id")["score"]
        want = ref.apply(np.c_[cols[0].reindex(got.index), cols[1].reindex(got.index)])
        np.testing.assert_array_equal(got.to_numpy(), want)  # written as round-trip reprs: exact
    saved = json.loads((out / FUSION_FILE).read_text())
    assert saved["weights"] == list(ref.weights) and saved["prior"] == 0.5
    assert saved["dev"]["n_bonafide"] == 40 and saved["dev"]["n_spoof"] == 80


def test_eval_scores_never_reach_the_fit(folders, tmp_path, rng):
    """Rewriting every eval file leaves the fusion as it was; changing a dev file changes it."""
    systems, manifest = folders
    labels = read_dev_labels(manifest, MANIFEST_FORMAT)
    before, _ = fuse_folders(systems, labels, tmp_path / "f1")
    for d in systems:
        for name in ("a__eval.txt", "b__eval.txt"):
            t = read_scores(d / name)
            _write_scores(d / name, t["utt_id"], 100 * rng.normal(size=len(t)) + 50)
    after, _ = fuse_folders(systems, labels, tmp_path / "f2")
    assert after == before
    t = read_scores(systems[1] / "dev.txt")
    _write_scores(systems[1] / "dev.txt", t["utt_id"], t["score"].to_numpy() + rng.normal(size=len(t)))
    changed, _ = fuse_folders(systems, labels, tmp_path / "f3")
    assert changed.weights != before.weights


def test_folders_must_score_the_same_trials(folders, tmp_path):
    systems, manifest = folders
    labels = read_dev_labels(manifest, MANIFEST_FORMAT)
    t = read_scores(systems[1] / "a__eval.txt")
    _write_scores(systems[1] / "a__eval.txt", t["utt_id"][:-1], t["score"][:-1])
    with pytest.raises(EvaluationError, match=r"sys1/a__eval.txt vs score file .*sys0/a__eval.txt: 1 trials"):
        fuse_folders(systems, labels, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written before every input is read"
    (systems[1] / "a__eval.txt").unlink()
    with pytest.raises(EvaluationError, match="no a__eval.txt"):
        fuse_folders(systems, labels, tmp_path / "out")
    with pytest.raises(EvaluationError, match="one of the fused folders"):
        fuse_folders(systems, labels, systems[0])


def test_dev_scores_must_cover_the_dev_labels(folders, tmp_path):
    systems, manifest = folders
    t = read_scores(systems[0] / "dev.txt")
    _write_scores(systems[0] / "dev.txt", t["utt_id"][1:], t["score"][1:])
    with pytest.raises(EvaluationError, match="no score"):
        fuse_folders(systems, read_dev_labels(manifest, MANIFEST_FORMAT), tmp_path / "out")


def test_cli_writes_the_folder_and_says_what_it_fused(folders, tmp_path, capsys):
    systems, manifest = folders
    out = tmp_path / "cli"
    argv = [
        "fuse",
        *map(str, systems),
        "--dev-protocol",
        str(manifest),
        "--format",
        "manifest",
        "--out",
        str(out),
    ]
    assert sdd_main(argv) == 0
    assert "fused 2 systems" in capsys.readouterr().out
    assert (out / "a__eval.txt").is_file() and (out / FUSION_FILE).is_file()
    # `sdd evaluate` reads a fused file like any other
    assert len(read_scores(out / "a__eval.txt")) == 80


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--files", "nope.txt"], "no nope.txt"),
        (["--prior", "1.5"], "prior 1.5"),
        (["--dev-name", "x.txt"], "no x.txt"),
    ],
)
def test_cli_errors_are_one_line(folders, tmp_path, capsys, extra, match):
    systems, manifest = folders
    argv = ["fuse", *map(str, systems), "--dev-protocol", str(manifest), "--format", "manifest",
            "--out", str(tmp_path / "o"), *extra]  # fmt: skip
    assert sdd_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sdd fuse: error:") and match in err and "\n" not in err


def test_asvspoof2019_protocol_labels(tmp_path, rng):
    """Dev labels from an official protocol: ASVspoof 2019 LA's 5 columns."""
    ids = [f"LA_D_{i:07d}" for i in range(60)]
    y = np.arange(60) % 2 == 0
    (tmp_path / "dev.trl.txt").write_text(
        "".join(
            f"LA_0070 {u} - {'-' if b else 'A01'} {'bonafide' if b else 'spoof'}\n"
            for u, b in zip(ids, y, strict=True)
        )
    )
    systems = []
    for k in range(2):
        d = tmp_path / f"s{k}"
        _write_scores(d / "dev.txt", ids, y + rng.normal(size=60))
        _write_scores(d / "eval.txt", ["E1", "E2"], [0.0, 1.0])
        systems.append(d)
    fusion, doc = fuse_folders(
        systems, read_dev_labels(tmp_path / "dev.trl.txt", "asvspoof2019"), tmp_path / "o"
    )
    assert fusion.n_bonafide == 30 and doc["files"] == ["eval.txt"] and all(w > 0 for w in fusion.weights)
