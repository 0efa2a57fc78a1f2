"""Fetch step of the ``demo`` recipe (:mod:`sdd.data.corpora.demo`): run the generator.

Generates the corpus once per config and generator version (:data:`sdd.data.demo.GENERATOR_SOURCES`)
into a temporary folder moved into place when complete; a rerun with the same config and code finds
the marker and does nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import uuid
from pathlib import Path

from sdd.core import faults
from sdd.core.paths import display_path
from sdd.data import demo as demo_generator
from sdd.data import download
from sdd.data.corpora.common import CorpusError
from sdd.data.corpora.demo import DEMO_PROTOCOLS, DemoCorpusConfig
from sdd.data.corpora.la_layout import la_layout_complete, protocol_path

__all__ = ["fetch"]

log = logging.getLogger(__name__)


def fetch(cfg: DemoCorpusConfig, dest: Path) -> dict:
    """Generate the demo corpus into ``dest`` (deterministic); skip when complete with the same config."""
    dest = Path(dest)
    # The resolved generator config and the generator's sources (its package's modules and the degradations
    # it shares with sdd.augment): a code change regenerates the data (the fetch stage re-runs when
    # they change; without this it would find the old data complete).
    sources = hashlib.sha256()
    for path in demo_generator.GENERATOR_SOURCES:
        sources.update(Path(path).read_bytes())
    fingerprint = {
        "type": "demo",
        "config": dataclasses.asdict(cfg.generator_config()),
        "generator_sha256": sources.hexdigest(),
    }
    marker = download.read_marker(dest)
    if marker is not None and marker.get("fingerprint") == fingerprint:
        if la_layout_complete(dest / "LA", DEMO_PROTOCOLS) is not None:
            log.info("%s: demo corpus complete for this config; nothing to do", dest)
            return marker["summary"]
    if dest.exists() and any(dest.iterdir()) and marker is None:
        raise CorpusError(
            f"{dest}: exists, is not empty and holds no {download.MARKER}; refusing to overwrite data "
            "sdd did not write (remove it or choose another destination)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):  # left by a killed run: never complete
        log.info("removing %s left by an interrupted run", stale)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        demo_generator.generate_demo(cfg.generator_config(), tmp, workers=2)
        n_files = la_layout_complete(tmp / "LA", DEMO_PROTOCOLS)
        if n_files is None:
            raise CorpusError(f"{tmp}: the demo generator did not write the complete 2019 LA layout")
        digest = hashlib.sha256()
        for suffix in DEMO_PROTOCOLS.values():
            digest.update(protocol_path(tmp / "LA", suffix).read_bytes())
        summary = {
            "corpus_type": "demo",
            "source": "generated",
            "config": fingerprint["config"],
            "generator_sha256": fingerprint["generator_sha256"],
            "dest": display_path(dest),
            "files": n_files,
            "protocols_sha256": digest.hexdigest(),
            "checksum": "sha256 of the generated protocols (deterministic for a config)",
        }
        download.write_marker(tmp, fingerprint, summary)
        faults.point("fetch:generated")
        download.replace_dir(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("%s: generated demo corpus (%d files)", dest, summary["files"])
    return summary
