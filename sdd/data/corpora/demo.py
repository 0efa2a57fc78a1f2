"""Recipe ``demo``: the built-in synthetic corpus, generated in the ASVspoof 2019 LA layout.

``corpora: {demo: {type: demo, seed: 0, n_per_split: 300}}``. The generator itself is
:mod:`sdd.data.demo` (signals, attacks, channel); this recipe holds its params entry
(:class:`DemoCorpusConfig`), the fetch step (generate once per config and generator version, into a
temporary folder moved into place when complete) and the protocol reader (the 2019 LA one of
:mod:`sdd.data.corpora.la_layout`, plus the ``eval_degraded`` split).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sdd.core import faults
from sdd.core.configbase import ConfigError
from sdd.core.paths import display_path
from sdd.data import download
from sdd.data.corpora.common import CorpusError
from sdd.data.corpora.la_layout import LA19_PROTOCOLS, la_layout_complete, protocol_path, read_la_layout

__all__ = ["DEMO_PROTOCOLS", "DemoCorpusConfig", "fetch", "read_protocol", "splits"]

log = logging.getLogger(__name__)

#: split -> protocol file suffix: the 2019 LA splits plus eval_degraded.
DEMO_PROTOCOLS = {**LA19_PROTOCOLS, "eval_degraded": "eval_degraded.trl"}


@dataclass(frozen=True)
class DemoCorpusConfig:
    """The built-in synthetic corpus (:mod:`sdd.data.demo`), in the ASVspoof 2019 LA layout.

    Attributes:
        seed: data-generation seed (independent of the training seed).
        n_per_split: bona fide utterances per split (and as many spoofs).
        sample_rate, min_duration_s, max_duration_s, n_speakers_per_split: optional overrides of the
            generator's :class:`sdd.data.demo.DemoConfig` (``null``: the generator's default).
    """

    type: Literal["demo"] = "demo"
    seed: int = 0
    n_per_split: int = 300
    sample_rate: int | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    n_speakers_per_split: int | None = None

    def __post_init__(self) -> None:
        if self.n_per_split < 1:
            raise ConfigError(f"n_per_split: got {self.n_per_split}; expected a positive integer")
        self.generator_config()  # the generator's own range checks, at parse time

    def generator_config(self) -> Any:
        """The :class:`sdd.data.demo.DemoConfig` these settings describe."""
        from sdd.data.demo import DemoConfig  # lazy: the generator module pulls in its DSP code

        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "type"}
        return DemoConfig(**{k: v for k, v in fields.items() if v is not None})


def splits(cfg: DemoCorpusConfig) -> tuple[str, ...]:
    """``train, dev, eval, eval_degraded``."""
    return tuple(DEMO_PROTOCOLS)


def fetch(cfg: DemoCorpusConfig, dest: Path) -> dict:
    """Generate the demo corpus into ``dest`` (deterministic); skip when complete with the same config."""
    from sdd.data import demo as demo_generator  # lazy: the generator module pulls in its DSP code

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


def read_protocol(cfg: DemoCorpusConfig, raw_dir: Path) -> pd.DataFrame:
    """Every trial of the four splits, with absolute FLAC paths; ``eval_degraded``'s condition is its
    transmission (:data:`sdd.data.demo.TRANSMISSIONS`), the other splits' ``-``."""
    return read_la_layout(Path(raw_dir) / "LA", DEMO_PROTOCOLS, condition_splits=frozenset({"eval_degraded"}))
