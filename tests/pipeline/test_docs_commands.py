"""The multi-node command in docs/team.md is the train stage's own command from dvc.yaml (arm
`main`, seed 0, the `demo` corpus), flag for flag: the page tells a lab to run it on every node."""

from __future__ import annotations

import re
import shlex

import yaml

from tests.helpers import REPO


def _stage_args() -> list[str]:
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["train"]
    cmd = stage["cmd"]
    for var, value in (("${item.arm}", "main"), ("${item.seed}", "0"), ("${corpus}", "demo")):
        cmd = cmd.replace(var, value)
    assert "${" not in cmd, cmd
    words = shlex.split(cmd)
    return words[words.index("stages/train.py") + 1 :]


def _documented_args() -> list[str]:
    page = (REPO / "docs" / "team.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```bash\n(.*?)```", page, re.S) if "--nnodes 2" in b]
    command = re.sub(r"\\\n", " ", block)
    (line,) = [ln for ln in command.splitlines() if ln.lstrip().startswith("torchrun")]
    words = shlex.split(line, comments=True)
    return words[words.index("stages/train.py") + 1 :]


def test_the_two_host_command_passes_the_train_stage_its_own_arguments():
    assert _documented_args() == _stage_args()
