"""Shared plumbing of the ``stages/*.py`` scripts: logging set-up, one-line errors, plan documents in
(:func:`read_plan`: one typed reader, each document as its frozen dataclass, see
:mod:`sdd.core.plandocs`; :func:`write_plan`), manifests in (:func:`read_manifest`, :func:`manifest_path`:
the one reader and the one path rule of ``data/manifests/<corpus>/<split>.csv``, whose columns are
:data:`MANIFEST_COLUMNS`) and JSON out (:func:`write_json`).

Only :mod:`sdd.core.atomic` and :mod:`sdd.core.configbase` are imported here, so a stage script's imports (and
its DVC deps) are what it uses, not the whole plan machinery of :mod:`sdd.plan`; the plan document types are
:mod:`sdd.core.plandocs` and the packages' ``params`` modules.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import sys
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdd.core import atomic
from sdd.core.configbase import ConfigError, build

__all__ = [
    "MANIFEST_COLUMNS",
    "MANIFEST_EXTRA_COLUMNS",
    "PlanError",
    "RESTORE_HINT",
    "STAGE_TIMES",
    "is_skipped",
    "manifest_path",
    "peak_rss_mb",
    "read_manifest",
    "read_plan",
    "run_stage",
    "write_json",
    "write_plan",
    "write_skip",
]

# Expected failures print one clear line; anything else is a bug and keeps its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    FileNotFoundError,
    ValueError,
    OSError,
    RuntimeError,
)
#: Wall-clock time of every stage DVC runs (``$DVC_STAGE`` is set), one JSON line each, relative to the
#: stage's working directory (the repo, or a queued experiment's temporary copy). The report stage
#: shows and then clears them: "the stages that ran for this report".
STAGE_TIMES = Path(".sdd/stage_times.jsonl")
RESTORE_HINT = (
    "If this value came from `dvc exp run -S ...`, the workspace params.yaml still holds it: "
    "restore it with `git checkout params.yaml`."
)


def run_stage(name: str, main: Callable[[], Any]) -> None:
    """Run a stage's ``main`` with logging configured; exit 2 with one line on an expected error."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("alembic", "urllib3", "matplotlib", "filelock", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    start = time.time()
    try:
        main()
    except PlanError as exc:  # the message names the plan file and says to re-run the plan stage
        print(f"error: stage {name}: {exc}", file=sys.stderr)
        sys.exit(2)
    except ConfigError as exc:
        print(f"error: params.yaml: {exc}\n{RESTORE_HINT}", file=sys.stderr)
        sys.exit(2)
    except EXPECTED_ERRORS as exc:
        print(f"error: stage {name}: {exc}", file=sys.stderr)
        sys.exit(2)
    _record_time(start)


def _record_time(start: float) -> None:
    stage = os.environ.get("DVC_STAGE")
    if not stage or os.environ.get("RANK", "0") != "0":  # under torchrun, global rank 0 records the stage
        return
    STAGE_TIMES.parent.mkdir(exist_ok=True)
    line = json.dumps({"stage": stage, "started": start, "seconds": round(time.time() - start, 3)})
    with STAGE_TIMES.open("a") as f:  # one short line per write, appended whole
        f.write(line + "\n")


#: Columns of a prepared manifest, in order (the prepare stage writes them, then
#: :data:`MANIFEST_EXTRA_COLUMNS`, then any corpus-specific condition columns, e.g. 2021's codecs).
MANIFEST_COLUMNS = (
    "utt_id", "path", "speaker", "label", "attack", "condition", "split", "duration_s", "sample_rate",
)  # fmt: skip
MANIFEST_EXTRA_COLUMNS = ("channels", "checksum")
#: Columns read as text whatever they hold (a speaker "0012" stays "0012"; "-" and "NA" stay strings).
_TEXT_COLUMNS = ("utt_id", "path", "speaker", "label", "attack", "condition", "split", "checksum",
                 "source_utt_id")  # fmt: skip


def manifest_path(manifests: str | Path, corpus: str, split: str) -> Path:
    """``<manifests>/<corpus>/<split>.csv``: where the prepare stage writes a split's manifest."""
    return Path(manifests) / corpus / f"{split}.csv"


def read_manifest(path: str | Path, required: tuple[str, ...] = ("utt_id", "path", "label")):
    """A manifest CSV as a ``pandas.DataFrame``: nothing parsed as missing, identifier and label
    columns as text.

    Args:
        path: a prepared manifest (:func:`manifest_path`) or the augment stage's ``manifest.csv``.
        required: columns that must be present.

    Raises:
        FileNotFoundError: no file at ``path`` (the message names the stage that writes it).
        ValueError: a required column is missing (the message names the file, the missing and the
            present columns).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; the prepare (or augment) stage writes it: dvc repro")
    header = pd.read_csv(path, nrows=0).columns
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(
            f"{path}: manifest lacks column(s) {missing}; has {list(header)}, needs {list(required)}"
        )
    dtype = {c: str for c in _TEXT_COLUMNS if c in header}
    return pd.read_csv(path, keep_default_na=False, dtype=dtype)


class PlanError(ConfigError):
    """A plan document that cannot be read or does not fit its type: a stale or hand-edited
    ``data/plan``, not a bad ``params.yaml`` (:func:`run_stage` says which)."""


def read_plan(path: str | Path, doc_type: Any) -> Any:
    """Read one plan document written by the plan stage, as its frozen, validated type.

    Args:
        path: the document (``data/plan/<stage>.json``).
        doc_type: its dataclass (the plan document types of :mod:`sdd.core.plandocs` and the
            packages' ``params`` modules), or a union of them (``ArmSeedPlan | SkippedPair``): the
            one whose fields fit the document's keys (every required key there, no other key) is
            built.

    Raises:
        PlanError: the file cannot be read, or it does not fit the type (an unknown, missing or
            ill-typed key); the message names the file and the key, and says to re-run the plan.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PlanError(
            f"{path}: cannot read plan file ({exc}); run the `plan` stage (dvc repro plan)"
        ) from exc
    cls = _fitting_type(doc_type, data, path)
    try:
        return build(cls, data, "")
    except ConfigError as exc:
        raise PlanError(
            f"{path}: does not fit {cls.__name__} ({exc}); the plan was written by other code: re-run "
            "the `plan` stage (dvc repro plan)"
        ) from exc


def _fitting_type(doc_type: Any, data: Any, path: Path) -> Any:
    """``doc_type``, or the member of a union of document types whose fields fit ``data``'s keys."""
    options = typing.get_args(doc_type) or (doc_type,)
    if len(options) == 1 or not isinstance(data, dict):
        return options[0]
    for cls in options:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = {n for n, f in fields.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        if required <= set(data) <= set(fields):
            return cls
    names = " or ".join(cls.__name__ for cls in options)
    raise PlanError(
        f"{path}: keys {sorted(data)} fit no plan document type ({names}); re-run the `plan` stage "
        "(dvc repro plan)"
    )


def write_plan(docs: dict[str, Any], out_dir: Path) -> None:
    """Write the plan documents under ``out_dir`` (sorted keys, so equal plans hash equally)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, doc in docs.items():
        atomic.write_json(out_dir / rel, doc)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    atomic.write_json(path, data, default=float)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` survives ``fork`` +
    ``exec``, so a stage launched by a larger process (``dvc repro``) would report its launcher's peak
    whenever that was higher. Elsewhere ``ru_maxrss`` (KiB; bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024  # macOS reports bytes


def write_skip(record: Any, *paths: Path) -> None:
    """Write the skip record of an arm/seed pair the arm does not train (its plan says ``skipped``:
    a :class:`~sdd.core.plandocs.SkippedPair`, or the record an upstream stage wrote, a mapping) to
    each of ``paths``, which are the outputs DVC expects from the stage."""
    if not isinstance(record, dict):
        record = {"skipped": record.skipped, "arm": record.arm, "seed": record.seed}
    doc = {"skipped": record["skipped"], "arm": record.get("arm"), "seed": record.get("seed")}
    for path in paths:
        write_json(path, doc)
    logging.getLogger(__name__).info("skipped: %s", doc["skipped"])


def is_skipped(folder: Path) -> dict[str, Any] | None:
    """The skip record in an upstream output folder (``skipped.json``), or None."""
    path = Path(folder) / "skipped.json"
    return json.loads(path.read_text()) if path.is_file() else None
