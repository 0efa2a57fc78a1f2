"""The test lanes (docs/tests.md): `make test` runs everything but the team lane, `make test-fast` also
skips `slow`, `make test-team` runs the team lane only, and `.ci/run` runs the team lane after the
default one. The marker expressions are read from the Makefile and evaluated as pytest evaluates them."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest
from _pytest.mark.expression import Expression

from tests.helpers import REPO


def _recipe_marks(target: str) -> str | None:
    """The ``-m`` expression of the pytest command in the Makefile recipe of ``target`` (None: no -m)."""
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"Makefile: no recipe for {target!r}"
    (line,) = [ln for ln in match.group(1).splitlines() if ln.strip().startswith("pytest")]
    words = shlex.split(line)
    return words[words.index("-m") + 1] if "-m" in words else None


def _selects(target: str, marks: set[str]) -> bool:
    expr = _recipe_marks(target)
    return expr is None or Expression.compile(expr).evaluate(lambda name: name in marks)


@pytest.mark.parametrize(("marks", "lanes"), [
    (set(), {"test", "test-fast"}),
    ({"slow"}, {"test"}),
    ({"team"}, {"test-team"}),
    ({"team", "slow"}, {"test-team"}),
])  # fmt: skip
def test_each_lane_selects_its_tests(marks, lanes):
    assert {t for t in ("test", "test-fast", "test-team") if _selects(t, marks)} == lanes


def test_the_markers_are_registered_and_strict():
    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert {m.split(":")[0] for m in ini["markers"]} >= {"slow", "team"}
    # a misspelt `team` then fails the run instead of joining `make test`
    assert "--strict-markers" in ini["addopts"].split()


def test_ci_runs_the_team_lane_after_the_default_lane():
    lines = [ln.strip() for ln in (REPO / ".ci/run").read_text().splitlines()]
    assert "make test" in lines and "make test-team" in lines
    assert lines.index("make test") < lines.index("make test-team")
