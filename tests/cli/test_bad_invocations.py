"""Every `sdd` subcommand over a table of bad invocations: each is refused by a specific check with its
exit code and one line on stderr, and nothing anywhere prints a traceback (issue 22).

The table runs in this process through :func:`sdd.cli.main` (the fast lane) and, marked slow, through
the `sdd` command in fresh processes. A last test checks the top-level handler for what no check
catches: a bug is one ``internal error`` line with exit code 70 and its traceback in a log file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sdd import cli
from sdd.models.detector import decision_threshold_record
from sdd.train.arm_model import build_detector, save_arm
from tests.helpers.train import make_arm

SDD = [sys.executable, "-m", "sdd.cli"]
N_IN = 4000

# (id, argv with {placeholders} from the `files` fixture, exit code, what the one stderr line says)
TABLE: list[tuple[str, str, int, str]] = [
    # the top level
    ("unknown-command", "frobnicate", 2, r"^sdd: unknown command 'frobnicate'; expected one of"),
    # sdd score: arguments, bounds, the model, the inputs; all before any weights are loaded
    ("score-no-model", "score {wav}", 2, r"^sdd score: error: the following arguments are required: --model"),
    ("score-backbone", "score --model {backbone} {wav}", 2,
     r"--model .*backbone: not a trained arm: its config\.json is a backbone's config \(no 'arm' record\)"),
    ("score-missing-model", "score --model {tmp}/nowhere {wav}", 2, r"nowhere: no such file or directory"),
    ("score-unknown-kind", "score --model hub:thing {wav}", 2, r"unknown model kind 'hub'"),
    ("score-aasist-no-path", "score --model aasist: {wav}", 2, r"no path after aasist:"),
    ("score-not-json", "score --model {broken} {wav}", 2, r"config\.json is not readable JSON"),
    ("score-no-weights", "score --model {no_weights} {wav}", 2, r"no model\.safetensors beside config\.json"),
    ("score-two-seeds", "score --model {two_seeds} {wav}", 2, r"holds the models of seeds s0, s1; name one"),
    ("score-scoring-only-arm", "score --model {published_arm} {wav}", 2, r"a scoring-only arm"),
    ("score-huge-num-samples", "score --model {ckpt} --num-samples 100000000 {wav}", 2,
     r"argument --num-samples: got 100,000,000; expected an integer from 1 to 960,000"),
    ("score-zero-num-samples", "score --model {ckpt} --num-samples 0 {wav}", 2, r"--num-samples: got 0;"),
    ("score-text-num-samples", "score --model {ckpt} --num-samples lots {wav}", 2,
     r"got 'lots'; expected an int"),
    ("score-batch-size", "score --model {ckpt} --batch-size 100000 {wav}", 2, r"--batch-size: got 100,000;"),
    ("score-threshold-inf", "score --model {ckpt} --decisions --threshold inf {wav}", 2,
     r"--threshold: got 'inf'; expected a finite number"),
    ("score-threshold-alone", "score --model {ckpt} --threshold 1 {wav}", 2,
     r"--threshold goes with --decisions"),
    ("score-threshold-other-length", "score --model {ckpt} --decisions --num-samples 8000 {wav}", 2,
     r"the stored threshold was set on the first 4000 samples"),
    ("score-whole-num-samples", "score --model {ckpt} --input whole_utterance --num-samples 8000 {wav}", 2,
     r"--num-samples 8000 with --input whole_utterance: whole utterances are neither cut nor padded"),
    ("score-whole-decisions", "score --model {ckpt} --input whole_utterance --decisions {wav}", 2,
     r"--decisions with --input whole_utterance: the stored threshold was set on the first 4000 samples"),
    ("score-input-unknown", "score --model {ckpt} --input whole {wav}", 2,
     r"argument --input: invalid choice: 'whole' \(choose from '?first_n_samples'?, '?whole_utterance'?\)"),
    ("score-ids-clash", "score --model {ckpt} --ids {wav} {wav_twin}", 2, r"have the same trial id 'a'"),
    ("score-no-audio", "score --model {ckpt} {empty_dir}", 2, r"no audio files to score"),
    ("score-missing-input", "score --model {ckpt} {tmp}/absent.wav", 2, r"absent\.wav: no such file"),
    # sdd evaluate: output paths, bounds, encodings, shapes
    ("evaluate-out-is-scores", "evaluate --scores {scores} --protocol {protocol} --format asvspoof2019 "
     "--out {scores}", 2,
     r"--out .*scores\.txt is the --scores file: writing the metrics there would overwrite"),
    ("evaluate-out-is-protocol", "evaluate --scores {scores} --protocol {protocol} --format asvspoof2019 "
     "--out {protocol}", 2, r"is the --protocol file"),
    ("evaluate-out-is-folder", "evaluate --scores {scores} --protocol {protocol} --format asvspoof2019 "
     "--out {tmp}", 2, r"is a folder; expected a JSON file"),
    ("evaluate-latin1-scores", "evaluate --scores {latin1} --protocol {protocol} --format asvspoof2019 "
     "--out {tmp}/m.json", 2, r"score file .*latin1\.txt: not valid UTF-8 \(no byte-order mark; byte 0xe9"),
    ("evaluate-utf16-no-bom", "evaluate --scores {utf16_nobom} --protocol {protocol} --format asvspoof2019 "
     "--out {tmp}/m.json", 2, r"utf16_nobom\.txt: NUL characters .* UTF-16 without a byte-order mark"),
    ("evaluate-latin1-protocol", "evaluate --scores {scores} --protocol {latin1} --format asvspoof2019 "
     "--out {tmp}/m.json", 2, r"ASVspoof 2019 protocol .*latin1\.txt: not valid UTF-8"),
    ("evaluate-decisions-output", "evaluate --scores {decisions} --protocol {protocol} --format asvspoof2019 "
     "--out {tmp}/m.json", 2, r"the output of `sdd score --decisions`\?"),
    ("evaluate-huge-resamples", "evaluate --scores {scores} --protocol {protocol} --format asvspoof2019 "
     "--out {tmp}/m.json --ci --n-resamples 1000000000", 2, r"--n-resamples: got 1,000,000,000; expected an"),
    ("evaluate-bad-format", "evaluate --scores {scores} --protocol {protocol} --format asv99 "
     "--out {tmp}/m.json", 2, r"argument --format: invalid choice: 'asv99'"),
    ("evaluate-missing-scores", "evaluate --scores {tmp}/none.txt --protocol {protocol} "
     "--format asvspoof2019 --out {tmp}/m.json", 2, r"score file .*none\.txt: no such file"),
    # sdd fuse: folders, output, bounds; before any score is read
    ("fuse-no-out", "fuse {empty_dir} --dev-protocol {protocol} --format asvspoof2019", 2,
     r"^sdd fuse: error: the following arguments are required: --out"),
    ("fuse-missing-folder", "fuse {tmp}/nowhere --dev-protocol {protocol} --format asvspoof2019 "
     "--out {tmp}/f", 2, r"score folder .*nowhere: no such folder"),
    ("fuse-out-is-file", "fuse {empty_dir} --dev-protocol {protocol} --format asvspoof2019 --out {scores}", 2,
     r"--out .*scores\.txt is a file"),
    ("fuse-no-dev-file", "fuse {empty_dir} --dev-protocol {protocol} --format asvspoof2019 --out {tmp}/f", 2,
     r"score folder .*empty: no dev\.txt"),
    ("fuse-prior-inf", "fuse {empty_dir} --dev-protocol {protocol} --format asvspoof2019 --out {tmp}/f "
     "--prior inf", 2, r"--prior: got 'inf'; expected a finite number"),
    # sdd fetch
    ("fetch-no-corpus", "fetch", 2, r"^sdd fetch: error: the following arguments are required: corpus"),
    ("fetch-unknown", "fetch nothing_like_it --params {params_ok}", 1, r"corpus 'nothing_like_it': neither"),
    ("fetch-params-not-yaml", "fetch demo --params {params_bad_yaml}", 1,
     r"params_bad\.yaml: not readable YAML"),
    ("fetch-params-not-mapping", "fetch demo --params {params_list}", 1,
     r"expected a mapping with a `corpora`"),
    ("fetch-params-latin1", "fetch demo --params {params_latin1}", 1,
     r"params_latin1\.yaml: not valid UTF-8"),
    ("fetch-aasist-variant", "fetch aasist --variant AASIST-XL", 2, r"argument --variant: invalid choice"),
    # sdd compare
    ("compare-no-out", "compare", 2, r"^sdd compare: error: the following arguments are required: --out"),
    ("compare-out-is-file", "compare --out {scores}", 2, r"--out .*scores\.txt is a file"),
    ("compare-unknown-run", "compare --out {tmp}/cmp --runs 0123abcd", 2,
     r"--runs 0123abcd: no such MLflow run"),
    ("compare-unknown-experiment", "compare --out {tmp}/cmp --experiment nope", 2,
     r"no MLflow experiment 'nope'"),
    # sdd export: arguments, the model and --out, all before any weights are loaded
    ("export-no-format", "export --model {ckpt} --out {tmp}/m.onnx", 2,
     r"^sdd export: error: the following arguments are required: --format"),
    ("export-bad-format", "export --format tflite --model {ckpt} --out {tmp}/m.onnx", 2,
     r"argument --format: invalid choice: 'tflite'"),
    ("export-out-not-onnx", "export --format onnx --model {ckpt} --out {tmp}/m.pt", 2,
     r"--out .*m\.pt: expected a file name ending in \.onnx"),
    ("export-out-is-folder", "export --format onnx --model {ckpt} --out {onnx_dir}", 2,
     r"--out .*folder\.onnx: is a folder"),
    ("export-missing-model", "export --format onnx --model {tmp}/nowhere --out {tmp}/m.onnx", 2,
     r"nowhere: no such file or directory"),
    ("export-two-seeds", "export --format onnx --model {two_seeds} --out {tmp}/m.onnx", 2,
     r"holds the models of seeds s0, s1; name one"),
    ("export-backbone", "export --format onnx --model {backbone} --out {tmp}/m.onnx", 2,
     r"not a trained arm: its config\.json is a backbone's config"),
    ("export-scoring-only-arm", "export --format onnx --model {published_arm} --out {tmp}/m.onnx", 2,
     r"a scoring-only arm .*sdd export exports trained arms only"),
    ("export-aasist", "export --format onnx --model aasist:{tmp} --out {tmp}/m.onnx", 2,
     r"exports trained arms only .* not aasist: weights"),
]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Everything the table names: a tiny trained-arm checkpoint, folders that are not one, clips, score
    files and protocols in good and bad encodings, params files."""
    tmp = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    arm = make_arm(regime="clean", dev_samples=N_IN)
    model = build_detector(arm).eval()
    save_arm(model, arm, tmp / "ckpt", extra={"decision_threshold": decision_threshold_record(0.0, 0.2)})
    for seed in ("s0", "s1"):
        save_arm(model, arm, tmp / "two" / seed)
    backbone = tmp / "backbone"
    backbone.mkdir()
    (backbone / "config.json").write_text('{"architectures": ["WavLMModel"], "hidden_size": 16}')
    (backbone / "model.safetensors").write_bytes(b"")
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    no_weights = tmp / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((tmp / "ckpt" / "config.json").read_text())
    published = tmp / "published_arm"
    published.mkdir()
    (published / "published.json").write_text('{"spec": "aasist:data/published/aasist"}')
    t = np.arange(8000) / 16000
    sf.write(tmp / "a.wav", (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    (tmp / "twin").mkdir()
    sf.write(tmp / "twin" / "a.flac", (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    (tmp / "empty").mkdir()
    (tmp / "folder.onnx").mkdir()
    (tmp / "protocol.txt").write_text("LA_0001 a - - bonafide\nLA_0001 b - A07 spoof\n")
    (tmp / "scores.txt").write_text("a 1.0\nb -1.0\n")
    (tmp / "decisions.txt").write_text("a 1.0 bonafide\nb -1.0 spoof\n")
    (tmp / "latin1.txt").write_bytes("a 1.0\nb\u00e9 -1.0\n".encode("latin-1"))
    (tmp / "utf16_nobom.txt").write_bytes("a 1.0\nb -1.0\n".encode("utf-16-le"))
    (tmp / "params_ok.yaml").write_text("corpora:\n  demo: {type: demo}\n")
    (tmp / "params_bad.yaml").write_text("corpora: [unclosed\n")
    (tmp / "params_list.yaml").write_text("- corpora\n- demo\n")
    (tmp / "params_latin1.yaml").write_bytes("corpora: {caf\u00e9: 1}\n".encode("latin-1"))
    names = {
        "ckpt": tmp / "ckpt", "two_seeds": tmp / "two", "backbone": backbone, "broken": broken,
        "no_weights": no_weights, "published_arm": published, "wav": tmp / "a.wav",
        "wav_twin": tmp / "twin" / "a.flac", "empty_dir": tmp / "empty", "protocol": tmp / "protocol.txt",
        "scores": tmp / "scores.txt", "decisions": tmp / "decisions.txt", "latin1": tmp / "latin1.txt",
        "utf16_nobom": tmp / "utf16_nobom.txt", "params_ok": tmp / "params_ok.yaml",
        "params_bad_yaml": tmp / "params_bad.yaml", "params_list": tmp / "params_list.yaml",
        "params_latin1": tmp / "params_latin1.yaml", "tmp": tmp, "onnx_dir": tmp / "folder.onnx",
    }  # fmt: skip
    return {k: str(v) for k, v in names.items()}


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory) -> str:
    """An empty MLflow database (its tables created once, here, not by the invocations)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.fixture
def isolated(tmp_path, monkeypatch, mlflow_db):
    """MLflow and the repo root in a temp folder: `sdd compare` must not touch the checkout's mlflow.db."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_compare_without_a_database_creates_none(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert cli.main(["compare", "--out", str(tmp_path / "cmp")]) == 2
    _check(2, *capfd.readouterr(), 2, rf"^sdd compare: no MLflow database at {tmp_path / 'mlflow.db'} ")
    assert not (tmp_path / "mlflow.db").exists()


def _argv(template: str, files: dict[str, str]) -> list[str]:
    return template.format(**files).split()


def _check(rc: int, out: str, err: str, want_rc: int, pattern: str) -> None:
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert re.search(pattern, lines[0]), lines[0]
    assert rc == want_rc, lines[0]
    assert "internal error" not in lines[0]  # each case meets a specific check, not the last resort


@pytest.mark.parametrize(("case", "template", "rc", "pattern"), TABLE, ids=[t[0] for t in TABLE])
def test_bad_invocation_in_process(files, isolated, capfd, case, template, rc, pattern):
    del case
    try:
        got = cli.main(_argv(template, files))
    except SystemExit as exit_:  # argparse: refused while parsing
        got = exit_.code
    captured = capfd.readouterr()
    _check(got, captured.out, captured.err, rc, pattern)


@pytest.mark.slow  # ~40 fresh processes
def test_bad_invocations_through_the_sdd_command(files, isolated):
    env = {**os.environ, "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}
    for case, template, rc, pattern in TABLE:
        r = subprocess.run([*SDD, *_argv(template, files)], capture_output=True, text=True, timeout=300,
                           env=env, cwd=isolated)  # fmt: skip
        try:
            _check(r.returncode, r.stdout, r.stderr, rc, pattern)
        except AssertionError as e:
            raise AssertionError(f"{case}: {e}") from None


def test_a_bug_is_one_internal_error_line_with_its_traceback_in_a_log(monkeypatch, capfd):
    def boom(argv: list[str]) -> int:
        raise KeyError("arm")  # what `sdd score --model models/backbone` used to end in

    monkeypatch.setattr(sys.modules[__name__], "boom", boom, raising=False)
    monkeypatch.setitem(cli.COMMANDS, "boom", (f"{__name__}:boom", "a command with a bug"))
    assert cli.main(["boom"]) == cli.INTERNAL_ERROR == 70
    err = capfd.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    m = re.fullmatch(
        r"sdd boom: internal error \(a bug in sdd, please report it\): KeyError: 'arm'; traceback in (\S+) "
        r"\(or re-run with `sdd --debug boom \.\.\.`\)",
        err,
    )
    assert m, err
    log = Path(m.group(1))
    assert "Traceback" in log.read_text() and "KeyError: 'arm'" in log.read_text()
    log.unlink()
    with pytest.raises(KeyError):  # --debug lets it through
        cli.main(["--debug", "boom"])


@pytest.mark.slow  # a fresh process whose reader goes away
def test_a_closed_stdout_ends_quietly():
    code = (
        "import sys, sdd.cli as c\n"
        "def spew(argv):\n"
        "    while True:\n"
        "        print('x' * 100)\n"
        "c.COMMANDS['spew'] = ('__main__:spew', '')\n"
        "sys.exit(c.main(['spew']))\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stdout.readline().startswith(b"xxx")
    p.stdout.close()
    assert p.wait(timeout=60) == 141
    assert p.stderr is not None and p.stderr.read() == b""
