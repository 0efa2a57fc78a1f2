"""Writing the demo corpus: every split's utterances planned, rendered and laid out on disk.

:func:`split_jobs` plans one split (trial ids, speakers, attacks, durations, seeds, transmission
conditions) and its protocol lines; :func:`generate_demo` renders every utterance in worker processes
and writes the FLAC files and protocols in the ASVspoof 2019 LA layout into a temporary folder that
replaces the destination only when complete; :func:`config_summary` describes a corpus.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np

from sdd.audio.io import write_audio
from sdd.data.corpora.demo_config import DemoConfig
from sdd.data.corpora.demo_layout import PROTOCOL_DIR, SPLITS, DemoSplit
from sdd.data.demo.attacks import ATTACKS
from sdd.data.demo.render import Job, render
from sdd.data.demo.synthesis import make_voice
from sdd.data.demo.transmission import TRANSMISSIONS

__all__ = ["config_summary", "generate_demo", "split_jobs"]

log = logging.getLogger(__name__)


def _run_job(args: tuple[Job, DemoConfig]) -> None:
    """Render one utterance and write it as FLAC (the task of a worker process)."""
    job, cfg = args
    write_audio(job.path, render(job, cfg), cfg.sample_rate)


def split_jobs(
    cfg: DemoConfig, split_index: int, split: DemoSplit, root: Path
) -> tuple[list[Job], list[str]]:
    """Jobs and protocol lines of one split (both in protocol order)."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, split_index, 0]))
    speakers = [
        f"LA_{split_index * cfg.n_speakers_per_split + i + 1:04d}" for i in range(cfg.n_speakers_per_split)
    ]
    voices = [
        make_voice(np.random.default_rng(np.random.SeedSequence([cfg.seed, split_index, 1, i])))
        for i in range(cfg.n_speakers_per_split)
    ]
    n_attacks = len(split.attacks)
    systems = ["-"] * cfg.n_per_split + [split.attacks[i % n_attacks] for i in range(cfg.n_per_split)]
    # eval_degraded: transmission conditions in turn within bona fide and within each attack, so no
    # condition is more frequent in one class or attack than in another (no condition-class confound)
    names = sorted(TRANSMISSIONS)
    conditions = [names[i % len(names)] for i in range(cfg.n_per_split)] + [
        names[(i // n_attacks) % len(names)] for i in range(cfg.n_per_split)
    ]
    n_total = len(systems)
    order = rng.permutation(n_total)
    ids = rng.choice(9_000_000, size=n_total, replace=False) + 1_000_000
    spk_index = rng.integers(cfg.n_speakers_per_split, size=n_total)
    first = min(cfg.n_speakers_per_split, n_total)
    spk_index[:first] = np.arange(first)  # every speaker appears at least once
    durations = rng.uniform(cfg.min_duration_s, cfg.max_duration_s, size=n_total)
    flac_dir = root / "LA" / split.audio_dir / "flac"
    jobs, lines = [], []
    for k in range(n_total):
        i = int(order[k])
        file_id = f"{split.file_prefix}{ids[i]:07d}"
        system = systems[i]
        jobs.append(
            Job(
                path=os.fspath(flac_dir / f"{file_id}.flac"),
                voice=voices[spk_index[k]],
                attack=system,
                n_samples=int(round(durations[k] * cfg.sample_rate)),
                seed=(cfg.seed, split_index, 2, i),
                transmission=conditions[i] if split.degraded else "-",
            )
        )
        key = "bonafide" if system == "-" else "spoof"
        # column 3 (unused, "-", in 2019 LA; the environment in 2019 PA) names the transmission
        lines.append(f"{speakers[spk_index[k]]} {file_id} {jobs[-1].transmission} {system} {key}")
    return jobs, lines


def generate_demo(cfg: DemoConfig, out_dir: Path, workers: int = 2) -> None:
    """Generate the demo corpus into ``out_dir`` in the ASVspoof 2019 LA layout.

    Writes ``out_dir/LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl,
    eval_degraded.trl}.txt`` (5 columns ``SPEAKER FILE - SYSTEM KEY``; in eval_degraded the third
    column names the utterance's transmission condition instead of ``-``) and
    ``out_dir/LA/ASVspoof2019_LA_<split>/flac/<FILE>.flac`` (mono 16-bit FLAC at
    ``cfg.sample_rate``). Everything is written to a temporary sibling folder that replaces
    ``out_dir`` only when complete; an existing ``out_dir`` is replaced.

    Args:
        cfg: corpus parameters.
        out_dir: destination folder (created; its parent must be writable).
        workers: worker processes (>= 1); the output bytes do not depend on it.

    Raises:
        ValueError: ``workers`` < 1.
    """
    if workers < 1:
        raise ValueError(f"generate_demo: workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        jobs: list[Job] = []
        protocols: dict[str, list[str]] = {}
        for split_index, split in enumerate(SPLITS.values()):
            planned, lines = split_jobs(cfg, split_index, split, tmp)
            (tmp / "LA" / split.audio_dir / "flac").mkdir(parents=True, exist_ok=True)
            jobs.extend(planned)
            protocols[split.name] = lines
        log.info("demo: synthesising %d utterances with %d worker(s) into %s", len(jobs), workers, out_dir)
        tasks = [(job, cfg) for job in jobs]
        if workers == 1:
            for task in tasks:
                _run_job(task)
        else:
            ctx = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                done = sum(1 for _ in pool.map(_run_job, tasks, chunksize=16))  # re-raises worker errors
            log.info("demo: %d utterances written", done)
        proto_dir = tmp / "LA" / PROTOCOL_DIR
        proto_dir.mkdir(parents=True, exist_ok=True)
        for name, lines in protocols.items():
            (proto_dir / SPLITS[name].protocol).write_text("\n".join(lines) + "\n")
        if out_dir.exists():
            trash = out_dir.with_name(f".{out_dir.name}.old{os.getpid()}")
            os.replace(out_dir, trash)
            os.replace(tmp, out_dir)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("demo: wrote %s", out_dir)


def config_summary(cfg: DemoConfig) -> dict[str, object]:
    """A JSON-ready description of the corpus: config, splits and attack systems."""
    return {
        "config": dataclasses.asdict(cfg),
        "splits": {
            name: {"prefix": s.file_prefix, "attacks": list(s.attacks), "degraded": s.degraded}
            for name, s in SPLITS.items()
        },
        "attacks": {name: {"family": a.family, "description": a.description} for name, a in ATTACKS.items()},
        "transmissions": {n: t.description for n, t in TRANSMISSIONS.items()},
    }
