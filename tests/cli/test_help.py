"""Every `sdd` help text carries examples, and the examples use only options the command has."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sdd import cli

SDD = [sys.executable, "-m", "sdd.cli"]
HELPS = [[], *[[name] for name in cli.COMMANDS], ["fetch", "aasist"]]


def _examples(text: str) -> list[list[str]]:
    """The example commands after 'examples:', continuation lines joined, comments and redirections cut."""
    block = text.split("examples:", 1)[1]
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].split(">", 1)[0].strip()
        if line.startswith("sdd "):
            out.append(line.split())
    return out


def _help(argv: list[str]) -> str:
    r = subprocess.run([*SDD, *argv, "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return {" ".join(argv): _help(argv) for argv in HELPS}


@pytest.mark.parametrize("argv", HELPS, ids=lambda a: " ".join(["sdd", *a, "--help"]))
def test_help_has_examples_of_its_command(helps, argv):
    text = helps[" ".join(argv)]
    assert "examples:" in text, text
    examples = _examples(text)
    assert examples, f"no example command line in:\n{text}"
    if argv:  # a subcommand's help shows that subcommand
        assert any(ex[1 : 1 + len(argv)] == argv for ex in examples), examples


def test_examples_use_only_existing_options(helps):
    for ex in (ex for text in helps.values() for ex in _examples(text)):
        sub = ["fetch", "aasist"] if ex[1:3] == ["fetch", "aasist"] else [ex[1]]
        own = helps[" ".join(sub)].split("examples:", 1)[0]
        for opt in (t.split("=", 1)[0] for t in ex if t.startswith("--")):
            found = re.search(rf"(^|[\s,\[]){re.escape(opt)}\b", own)
            assert found, f"{' '.join(ex)}: {opt} is not an option of sdd {' '.join(sub)}"
