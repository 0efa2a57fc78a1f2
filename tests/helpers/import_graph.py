"""The import graph between ``sdd`` modules, read from the source with :mod:`ast` (nothing is imported).

Every import statement counts: module level, inside functions (lazy imports), under
``if TYPE_CHECKING:``; ``import x.y``, ``from x import y`` and relative imports. ``from pkg import name``
is an import of ``pkg.name`` when that is a module, else of ``pkg``. Used by ``codebase/test_imports.py``
(no cycles) and ``pipeline/test_dvc_deps.py`` (each stage's DVC deps cover what its script imports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "sdd"


def module_files(root: Path = REPO, package: str = PACKAGE) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` file under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py" if name in files else False


def _known(name: str, files: dict[str, Path]) -> str | None:
    """``name`` if it is an ``sdd`` module, else its longest prefix that is one (or None)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in files:
            return candidate
        parts.pop()
    return None


def imports_of(path: Path, module: str | None, files: dict[str, Path]) -> set[str]:
    """The ``sdd`` modules that the source file ``path`` imports, anywhere in the file.

    Args:
        path: a Python source file.
        module: its dotted name (for relative imports), or None for a script outside the package.
        files: :func:`module_files`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if module is None:
        package_parts: list[str] = []
    elif _is_package(module, files):
        package_parts = module.split(".")
    else:
        package_parts = module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, files)
                if target is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package_parts):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                if full in files:
                    found.add(full)
                else:
                    target = _known(base, files)
                    if target is not None:
                        found.add(target)
    return found


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over every ``sdd`` module (self-imports kept)."""
    files = module_files(root)
    return {name: imports_of(path, name, files) for name, path in files.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted; the list sorted too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(components)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one module, and modules that import themselves."""
    return [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph.get(c[0], ())]


def cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle inside ``component``: ``[a, b, ..., a]`` (for readable failures)."""
    members = set(component)
    start = component[0]
    # breadth-first search from start back to start, inside the component
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ()) & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return component


#: Environment defaults that change scheduling, never arithmetic (``sdd/__init__.py`` sets libgomp's
#: spin count; ``benchmarks/contention.py`` checks that trained weights stay bit-identical).
SCHEDULING_ENV = frozenset({"GOMP_SPINCOUNT"})


def _is_scheduling_default(node: ast.stmt) -> bool:
    """``os.environ.setdefault("<a SCHEDULING_ENV name>", <constant or name>)``."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    call = node.value
    return (
        ast.unparse(call.func) == "os.environ.setdefault"
        and len(call.args) == 2
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value in SCHEDULING_ENV
    )


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def is_inert(path: Path) -> bool:
    """A file holding only a docstring, literal assignments (``__version__ = "0.1.0"``, a tuple of
    names), ``import os`` and scheduling-only environment defaults (:data:`SCHEDULING_ENV`): running it
    cannot change what a stage computes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        assigned = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if assigned is not None and _is_literal(assigned):
            continue
        if isinstance(node, ast.Import) and [a.name for a in node.names] == ["os"]:
            continue
        if _is_scheduling_default(node):
            continue
        return False
    return True


def ancestors(module: str) -> list[str]:
    """``sdd.data.corpora.demo`` -> ``["sdd", "sdd.data", "sdd.data.corpora"]``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(graph: dict[str, set[str]], starts: Iterable[str], files: dict[str, Path]) -> set[str]:
    """Every ``sdd`` module executed when ``starts`` are imported: their imports, transitively, plus
    the packages above each module (Python runs a package's ``__init__`` before its submodules), minus
    inert package ``__init__`` files (see :func:`is_inert`)."""
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        m = todo.pop()
        if m in seen or m not in files:
            continue
        seen.add(m)
        todo.extend(graph.get(m, ()))
        todo.extend(a for a in ancestors(m) if a in files)
    return {m for m in seen if not (_is_package(m, files) and is_inert(files[m]))}


def unit(module: str, package: str = PACKAGE) -> str:
    """The top-level part of ``sdd`` a module belongs to: ``sdd.train.loop`` -> ``train``,
    ``sdd.scoring.score`` -> ``scoring``; ``sdd`` itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == package else ""


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every import from a lower unit (package or top-level module) to a higher one in ``layers``
    (bottom to top): ``[(module, imported module), ...]``, sorted. ``sdd`` itself is outside the order.

    Raises:
        ValueError: a unit of ``sdd`` that ``layers`` does not place (a new package must be placed).
    """
    rank = {name: i for i, name in enumerate(layers)}
    units = {unit(m) for m in graph} - {""}
    missing = sorted(units - set(rank))
    if missing:
        raise ValueError(f"sdd.LAYERS does not place {missing}; add each where its imports allow")
    return sorted(
        (m, t)
        for m, targets in graph.items()
        for t in targets
        if unit(m) and unit(t) and rank[unit(t)] > rank[unit(m)]
    )

