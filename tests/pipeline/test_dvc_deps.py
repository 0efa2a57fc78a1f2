"""dvc.yaml stays honest: each stage's ``sdd/`` deps are exactly the modules its script imports.

DVC does not trace imports, so a module missing from a stage's deps can change without the stage
re-running, and a module listed without being used re-runs it for nothing. For every stage, the
transitive closure of ``sdd`` modules imported by its script (the graph of
:mod:`tests.helpers.import_graph`, lazy imports included, plus the package ``__init__`` files Python runs
on the way, except those holding only a docstring) must equal the modules covered by its ``sdd/`` deps:
a file dep, or a directory dep whose every module is imported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import import_graph as ig

DVC_YAML = ig.REPO / "dvc.yaml"


def _stages() -> dict[str, dict]:
    """``{stage name: stage definition}``; a ``foreach`` stage's ``do`` block stands for all its items."""
    stages = yaml.safe_load(DVC_YAML.read_text(encoding="utf-8"))["stages"]
    return {name: st.get("do", st) for name, st in stages.items()}


def _script(stage: dict) -> str:
    found = re.findall(r"\bpython\s+(stages/\S+\.py)", stage["cmd"])
    assert len(found) == 1, f"expected one `python stages/<x>.py` in cmd, got {found}"
    return found[0]


def _covered(dep: str, files: dict[str, Path]) -> set[str]:
    """The modules a dep path covers: the module of a file dep, every module under a directory dep."""
    path = ig.REPO / dep
    if path.is_dir():
        return {m for m, f in files.items() if path in f.parents}
    return {m for m, f in files.items() if f == path}


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_deps_are_exactly_the_sdd_modules_its_script_imports(name: str):
    stage = _stages()[name]
    files = ig.module_files()
    graph = ig.import_graph()
    script = _script(stage)
    deps = [d for d in stage.get("deps", []) if isinstance(d, str)]
    assert script in deps, f"{name}: its script {script} is not among its deps"
    imported = ig.closure(graph, ig.imports_of(ig.REPO / script, None, files), files)

    sdd_deps = [d for d in deps if d.rstrip("/") == "sdd" or d.startswith("sdd/")]
    problems = []
    covered: set[str] = set()
    for dep in sdd_deps:
        mods = _covered(dep, files)
        inert = {m for m in mods if files[m].name == "__init__.py" and ig.is_inert(files[m])}
        if not mods:
            problems.append(f"dep {dep} is no sdd module or package (moved or deleted?)")
        elif not (mods - inert) <= imported:
            unused = sorted(files[m].relative_to(ig.REPO).as_posix() for m in mods - inert - imported)
            problems.append(f"dep {dep} covers modules {script} never imports: {unused}")
        covered |= mods
    missing = sorted(files[m].relative_to(ig.REPO).as_posix() for m in imported - covered)
    if missing:
        problems.append(f"{script} imports these, but no dep covers them: {missing}")
    assert not problems, f"stage {name} in dvc.yaml:\n  " + "\n  ".join(problems)


def test_the_closure_follows_lazy_imports_and_package_inits(tmp_path: Path):
    pkg = tmp_path / "sdd"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""inert."""\n__version__ = "1"\n')
    (pkg / "sub" / "__init__.py").write_text("from sdd.sub.b import B\n")  # runs when sub.a is imported
    (pkg / "sub" / "a.py").write_text("def f():\n    from sdd import c\n")
    (pkg / "sub" / "b.py").write_text("B = 1\n")
    (pkg / "c.py").write_text("")
    (pkg / "d.py").write_text("")
    files = ig.module_files(tmp_path)
    graph = ig.import_graph(tmp_path)
    assert ig.closure(graph, {"sdd.sub.a"}, files) == {"sdd.sub.a", "sdd.sub", "sdd.sub.b", "sdd.c"}
