"""Strict params (issue 22, item 3): each case is an edit of the repository's params.yaml text and the
one line the plan refuses it with; then the spellings that are accepted, and the plan stage's exit.

The text is edited, not the parsed dict, because what is tested is how the file is read: a key written
twice, ``yes`` for a boolean, ``1e-3`` for a number, the encoding.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdd.core.configbase import ConfigError
from sdd.core.stage import RESTORE_HINT
from sdd.core.textfile import TextEncodingError
from sdd.plan.assemble import load_params, make_plan
from tests.helpers import REPO

BASE = (REPO / "params.yaml").read_text(encoding="utf-8")


def _index(text: str, prefix: str) -> int:
    found = [i for i, line in enumerate(text.split("\n")) if line.startswith(prefix)]
    assert len(found) == 1, f"{prefix!r} starts {len(found)} lines of params.yaml; expected one"
    return found[0]


def line_of(prefix: str, text: str = BASE) -> int:
    """The 1-based line of params.yaml that starts with ``prefix``."""
    return _index(text, prefix) + 1


def setline(text: str, prefix: str, new: str) -> str:
    """``text`` with the line starting with ``prefix`` replaced by ``new`` (its comment dropped)."""
    lines = text.split("\n")
    lines[_index(text, prefix)] = new
    return "\n".join(lines)


def insert_after(text: str, prefix: str, new: str) -> str:
    lines = text.split("\n")
    lines.insert(_index(text, prefix) + 1, new)
    return "\n".join(lines)


END = BASE.count("\n") + 1  # the first line of text appended to params.yaml
TWICE = "YAML keeps one value per key, so the second would silently replace the first"
ALIGN = "expected one of false, true (= pcgrad), none, pcgrad, gradvac, cagrad, gr"
YAML12 = (
    "is a string: params.yaml is read as YAML 1.2, as DVC reads it, whose only booleans are true and false"
)
ARM_MAIN = "  main: {lora: false, lora: true}"
THRESHOLD = (
    "the decision threshold stored with each model is its dev EER threshold on the first dev_samples "
    "samples, while scoring reads the first score.num_samples; set both to the same value"
)
AVERAGE = "the final weights would average fewer epochs than asked, since a run has at most"

REFUSED = {
    "a second train section": (
        BASE + "train:\n  lr: 0.01\n",
        f"train: written twice, on lines {line_of('train:')} and {END}; {TWICE}: merge them into one "
        "`train:` section",
    ),
    "train.lr twice": (
        insert_after(BASE, "  lr: 0.001", "  lr: 0.01"),
        f"train.lr: written twice, on lines {line_of('  lr: 0.001')} and {line_of('  lr: 0.001') + 1}; "
        f"{TWICE}: delete one",
    ),
    "a key twice in an arm's flow mapping": (
        setline(BASE, "  main: {}", ARM_MAIN),
        f"arms.main.lora: written twice, on line {line_of('  main: {}')} "
        f"(columns {ARM_MAIN.index('lora') + 1} and {ARM_MAIN.rindex('lora') + 1}); {TWICE}: delete one",
    ),
    "align: yes": (setline(BASE, "align:", "align: yes"), f"align: got 'yes'; {ALIGN} ('yes' {YAML12})"),
    "align: on": (setline(BASE, "align:", "align: on"), f"align: got 'on'; {ALIGN} ('on' {YAML12})"),
    "align: No": (setline(BASE, "align:", "align: No"), f"align: got 'No'; {ALIGN} ('No' {YAML12})"),
    "an arm's align: off": (
        setline(BASE, "  clean:", "  clean: {regime: clean, align: off, lora: false}"),
        f"arms.clean.align: got 'off'; {ALIGN} ('off' {YAML12})",
    ),
    "lora: yes": (
        setline(BASE, "lora:", "lora: yes"),
        f"lora: got 'yes'; expected true or false ('yes' {YAML12})",
    ),
    "baseline.enabled: on": (
        BASE.replace("baseline:\n  enabled: true\n", "baseline:\n  enabled: on\n"),
        f"baseline.enabled: got 'on'; expected true or false ('on' {YAML12})",
    ),
    "a quoted number": (
        setline(BASE, "  lr: 0.001", "  lr: '1e-3'"),
        "train.lr: got '1e-3'; expected a number ('1e-3' is a string in YAML: quoted, or a spelling YAML 1.2 "
        "does not read as a number; write it unquoted, e.g. 0.001, 1e-3 or 1.0e-3)",
    ),
    "inf spelt as a word": (  # no hint: YAML's infinity is .inf, and lr must be finite anyway
        setline(BASE, "  lr: 0.001", "  lr: inf"),
        "train.lr: got 'inf'; expected a number",
    ),
    "an infinite learning rate": (
        setline(BASE, "  lr: 0.001", "  lr: .inf"),
        "train.lr: got inf; expected a finite number",
    ),
    "a float where an integer goes": (
        setline(BASE, "  epochs: 6", "  epochs: 6e0"),
        "train.epochs: got 6.0; expected an integer (a number with a '.' or an exponent is a float in YAML: "
        "write 6)",
    ),
    "train.dev_samples != score.num_samples": (
        setline(BASE, "  dev_samples:", "  dev_samples: 64600"),
        f"train.dev_samples (64600) differs from score.num_samples (32000): {THRESHOLD}",
    ),
    "score.num_samples != train.dev_samples": (
        setline(BASE, "  num_samples: 32000         #", "  num_samples: 16000"),
        f"train.dev_samples (32000) differs from score.num_samples (16000): {THRESHOLD}",
    ),
    "score.input whole_utterance with a num_samples": (
        setline(BASE, "  input: first_n_samples", "  input: whole_utterance"),
        "score.num_samples: got 32000 with score.input whole_utterance; expected null (whole utterances are "
        "scored uncut: set score.num_samples: null)",
    ),
    "score.input misspelt": (
        setline(BASE, "  input: first_n_samples", "  input: whole"),
        "score.input: got 'whole'; expected one of 'first_n_samples', 'whole_utterance'",
    ),
    "an arm's own dev_samples": (
        setline(BASE, "  clean:", "  clean: {regime: clean, lora: false, train: {dev_samples: 16000}}"),
        f"arms.clean.train.dev_samples (16000) differs from score.num_samples (32000): {THRESHOLD}",
    ),
    "average_best > epochs": (
        setline(BASE, "  average_best:", "  average_best: 10"),
        f"train.average_best: got 10, more than train.epochs (6): {AVERAGE} 6; set average_best <= epochs",
    ),
    "epochs below average_best": (
        setline(BASE, "  epochs: 6", "  epochs: 2"),
        f"train.average_best: got 3, more than train.epochs (2): {AVERAGE} 2; set average_best <= epochs",
    ),
    "an arm's average_best > epochs": (
        setline(BASE, "    train: {optimizer: adamw", "    train: {optimizer: adamw, average_best: 7}"),
        f"arms.attm.train.average_best: got 7, more than train.epochs (6): {AVERAGE} 6; set average_best <= "
        "epochs",
    ),
    "min_epochs > epochs": (
        setline(BASE, "  min_epochs:", "  min_epochs: 8"),
        "train.min_epochs: got 8, more than train.epochs (6), the most a run trains; set min_epochs <= "
        "epochs (patience: null turns early stopping off)",
    ),
    "warm-up longer than the run": (
        setline(
            setline(BASE, "  schedule:", "  schedule: warmup_exp"), "  warmup_epochs:", "  warmup_epochs: 7"
        ),
        "train.warmup_epochs: got 7, more than train.epochs (6): with schedule warmup_exp the run would end "
        "still warming up, never at its full learning rate; set warmup_epochs <= epochs",
    ),
    "partial-model arms shorter than average_best": (
        setline(
            setline(BASE, "  partial_layers:", "  partial_layers: [1, 2]"),
            "  partial_epochs:",
            "  partial_epochs: 2",
        ),
        "probe.partial_layers (k=1): train.average_best: got 3, more than probe.partial_epochs (2): "
        f"{AVERAGE} 2; set average_best <= epochs",
    ),
}


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "params.yaml"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_edit_is_refused_with_its_one_line(tmp_path, case):
    text, message = REFUSED[case]
    with pytest.raises(ConfigError) as info:
        load_params(_write(tmp_path, text))
    assert str(info.value) == message
    assert "\n" not in message


def test_the_unedited_params_are_accepted(tmp_path):
    load_params(_write(tmp_path, BASE))  # the cases above fail for their edit, nothing else


def _main_train(text: str, tmp_path: Path) -> dict:
    return make_plan(load_params(_write(tmp_path, text)))["arms/main/s0.json"]["arm"]["train"]


@pytest.mark.parametrize("spelling", ["0.001", "1e-3", "1E-3", "1.0e-3", "1.e-3", "10e-4", "+1e-3"])
def test_numbers_in_exponent_form_are_accepted(tmp_path, spelling):
    train = _main_train(setline(BASE, "  lr: 0.001", f"  lr: {spelling}"), tmp_path)
    assert train["lr"] == pytest.approx(0.001)


def test_integers_with_underscores_are_accepted(tmp_path):
    text = setline(setline(BASE, "  dev_samples:", "  dev_samples: 32_000"), "  num_samples: 32000         #",
                   "  num_samples: 32_000")  # fmt: skip
    assert _main_train(text, tmp_path)["dev_samples"] == 32000


@pytest.mark.parametrize(
    "spelling,aligner", [("true", "pcgrad"), ("True", "pcgrad"), ("TRUE", "pcgrad"), ("false", "none"),
                         ("False", "none"), ("gradvac", "gradvac")]
)  # fmt: skip
def test_align_takes_true_and_false_in_any_capitalisation(tmp_path, spelling, aligner):
    plan = make_plan(load_params(_write(tmp_path, setline(BASE, "align:", f"align: {spelling}"))))
    assert plan["arms/main/s0.json"]["arm"]["align"] == aligner


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # BOM + native order, as PowerShell's `>` writes
        lambda t: t.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8-bom", "utf16-bom", "crlf"],
)
def test_params_in_every_accepted_encoding_give_the_same_plan(tmp_path, encode):
    utf8 = make_plan(load_params(_write(tmp_path, BASE)))
    path = tmp_path / "params.yaml"
    path.write_bytes(encode(BASE))
    assert make_plan(load_params(path)) == utf8


def _plan_stage(tmp_path: Path, params: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "stages/plan.py"),
            "--params",
            str(params),
            "--out",
            str(tmp_path / "plan"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "case",
    [
        "a second train section",
        "align: yes",
        "train.dev_samples != score.num_samples",
        "average_best > epochs",
    ],
)
def test_the_plan_stage_exits_2_with_the_one_line_and_writes_nothing(tmp_path, case):
    text, message = REFUSED[case]
    proc = _plan_stage(tmp_path, _write(tmp_path, text))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: params.yaml: {message}", RESTORE_HINT]
    assert not (tmp_path / "plan").exists()


def test_the_plan_stage_refuses_utf16_without_a_mark_in_one_line(tmp_path):
    params = _write(tmp_path, BASE, "utf-16-le")
    proc = _plan_stage(tmp_path, params)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"error: stage plan: {params}: NUL characters") and "UTF-16" in line
    assert not (tmp_path / "plan").exists()
    with pytest.raises(TextEncodingError):
        load_params(params)


def test_the_plan_stage_reads_utf16_with_a_mark(tmp_path):
    proc = _plan_stage(tmp_path, _write(tmp_path, "\ufeff" + BASE, "utf-16-le"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "plan" / "arms" / "main" / "s0.json").is_file()


def _dvc_project(root: Path) -> tuple[Path, dict[str, str]]:
    """A git repository holding the checkout's tracked files, where `dvc repro plan` runs."""
    dest = root / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in files.split():
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes((REPO / rel).read_bytes())
    git = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in
           (("NAME", "t"), ("EMAIL", "t@t"))}  # fmt: skip
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, **git, "PATH": path, "PYTHONPATH": str(dest), "DVC_NO_ANALYTICS": "1"}
    env.pop("DVC_ROOT", None)
    init = "git init -q && git add -A && git commit -qm init"
    subprocess.run(init, shell=True, cwd=dest, env=env, check=True)
    return dest, env


@pytest.mark.slow
def test_dvc_repro_stops_in_the_plan_stage_or_in_dvc_itself(tmp_path):
    """Through `dvc repro`: the plan stage's one line for a value; DVC's own refusal, before any stage,
    for a key written twice and for UTF-16 (docs/experiments.md, "How params.yaml is read")."""
    dest, env = _dvc_project(tmp_path)

    def repro(text: str, encoding: str = "utf-8") -> subprocess.CompletedProcess:
        (dest / "params.yaml").write_bytes(text.encode(encoding))
        return subprocess.run(["dvc", "repro", "plan"], cwd=dest, env=env, capture_output=True, text=True)

    for case in ("align: yes", "train.dev_samples != score.num_samples"):
        text, message = REFUSED[case]
        proc = repro(text)
        assert proc.returncode != 0 and f"error: params.yaml: {message}\n" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert not (dest / "data" / "plan").exists()
    proc = repro(REFUSED["a second train section"][0])
    assert proc.returncode != 0 and 'found duplicate key "train"' in proc.stderr, proc.stderr
    assert "Running stage 'plan'" not in proc.stdout
    proc = repro(BASE, "utf-16")
    assert proc.returncode != 0 and "is not valid utf-8" in proc.stderr, proc.stderr
    proc = repro(setline(BASE, "  lr: 0.001", "  lr: 1e-3"))  # accepted, read as the number
    assert proc.returncode == 0, proc.stderr
    assert (dest / "data/plan/arms/main/s0.json").read_text().count('"lr": 0.001') == 1
