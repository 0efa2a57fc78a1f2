"""No import cycles between ``sdd`` modules (issue 9), and every import points down the declared
layers, :data:`sdd.LAYERS` (issue 21).

Lazy (function-level) imports and ``TYPE_CHECKING`` imports count: a lazy import that closes a
cycle is still a cycle. On failure, every strongly connected component is listed with one concrete
cycle through it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sdd
from tests.helpers import import_graph as ig


def test_graph_sees_every_kind_of_import(tmp_path: Path):
    pkg = tmp_path / "sdd"
    (pkg / "sub").mkdir(parents=True)
    for rel in ("__init__.py", "a.py", "b.py", "c.py", "d.py", "sub/__init__.py", "sub/e.py", "sub/f.py"):
        (pkg / rel).write_text("")
    (pkg / "a.py").write_text(
        "import sdd.b\n"
        "from sdd import c\n"
        "from sdd.sub import NAME\n"
        "def lazy():\n"
        "    from .d import x\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sdd.sub.e import E\n"
    )
    (pkg / "sub" / "f.py").write_text("from . import e\nfrom .. import a\nfrom ..b import y\nimport numpy\n")
    graph = ig.import_graph(tmp_path)
    assert graph["sdd.a"] == {"sdd.b", "sdd.c", "sdd.sub", "sdd.d", "sdd.sub.e"}
    assert graph["sdd.sub.f"] == {"sdd.sub.e", "sdd.a", "sdd.b"}
    assert ig.cycles(graph) == []
    (pkg / "d.py").write_text("def f():\n    import sdd.sub.f\n")  # closes a -> d -> sub.f -> a
    graph = ig.import_graph(tmp_path)
    assert ig.cycles(graph) == [["sdd.a", "sdd.d", "sdd.sub.f"]]
    (pkg / "c.py").write_text("from sdd.c import thing\n")
    assert ["sdd.c"] in ig.cycles(ig.import_graph(tmp_path))  # a self-import is a cycle too


def test_no_import_cycles():
    graph = ig.import_graph()
    found = ig.cycles(graph)
    report = "\n".join(
        f"  {len(c)} modules {c}\n    e.g. {' -> '.join(ig.cycle_path(graph, c))}" for c in found
    )
    assert not found, f"import cycles between sdd modules (lazy imports count):\n{report}"


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_audio_and_augment_never_import_data():
    """The demo generator (sdd.data) uses sdd.augment's degradations, so the tie runs one way only:
    sdd.augment and sdd.audio import nothing from sdd.data (issue 20)."""
    graph = ig.import_graph()
    upward = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        if _package(m) in ("sdd.augment", "sdd.audio")
        for t in targets
        if _package(t) == "sdd.data"
    )
    assert not upward, f"imports from sdd.augment/sdd.audio into sdd.data: {upward}"
    data_imports = {_package(t) for m, ts in graph.items() if _package(m) == "sdd.data" for t in ts}
    assert "sdd.augment" in data_imports  # the test watches a real tie


def test_layer_check_sees_upward_and_lazy_imports(tmp_path: Path):
    pkg = tmp_path / "sdd"
    (pkg / "low").mkdir(parents=True)
    for rel in ("__init__.py", "top.py", "low/__init__.py", "low/a.py", "low/b.py"):
        (pkg / rel).write_text("")
    (pkg / "top.py").write_text("from sdd.low import a\n")
    layers = ("low", "top")
    graph = ig.import_graph(tmp_path)
    assert ig.upward_imports(graph, layers) == []
    (pkg / "low" / "b.py").write_text("def lazy():\n    import sdd.top\n")
    assert ig.upward_imports(ig.import_graph(tmp_path), layers) == [("sdd.low.b", "sdd.top")]
    (pkg / "new.py").write_text("")
    with pytest.raises(ValueError, match="new"):
        ig.upward_imports(ig.import_graph(tmp_path), layers)


def test_imports_point_down_the_layers():
    graph = ig.import_graph()
    upward = ig.upward_imports(graph, sdd.LAYERS)
    report = "\n".join(f"  {m} -> {t}" for m, t in upward)
    assert not upward, f"imports from a lower layer to a higher one (sdd.LAYERS, bottom to top):\n{report}"
    assert len(set(sdd.LAYERS)) == len(sdd.LAYERS)
    assert set(sdd.LAYERS) == {ig.unit(m) for m in graph} - {""}, "LAYERS names a part that does not exist"


#: The only files that import MLflow: the tracking module (runs, metrics, artifacts), the train stage's
#: model logging (:mod:`sdd.report.tracking_model`) and the pyfunc class it logs
#: (:mod:`sdd.report.tracking_pyfunc`). Stages and other modules go through them.
MLFLOW_MODULES = {"sdd/report/tracking.py", "sdd/report/tracking_model.py", "sdd/report/tracking_pyfunc.py"}


def _imports_mlflow(path: Path) -> bool:
    """Whether ``path`` imports ``mlflow`` anywhere (module level, in a function, under TYPE_CHECKING)."""
    import ast

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        if any(n == "mlflow" or n.startswith("mlflow.") for n in names):
            return True
    return False


def test_mlflow_is_imported_by_the_tracking_modules_only(tmp_path: Path):
    (tmp_path / "lazy.py").write_text("def f():\n    from mlflow.pyfunc import PythonModel\n")
    (tmp_path / "other.py").write_text("import mlflowish\nfrom .mlflow import x\n")
    assert _imports_mlflow(tmp_path / "lazy.py") and not _imports_mlflow(tmp_path / "other.py")
    files = [*(ig.REPO / "sdd").rglob("*.py"), *(ig.REPO / "stages").rglob("*.py")]
    found = {p.relative_to(ig.REPO).as_posix() for p in files if _imports_mlflow(p)}
    assert found == MLFLOW_MODULES, (
        f"MLflow imported outside {sorted(MLFLOW_MODULES)}: {sorted(found - MLFLOW_MODULES)}"
    )
