"""Faults and bad input, measured: the bad-input catalogue and the kills survived (issue 14).

1. **The catalogue** (:data:`CASES`): one row per bad input = an id, what is built, the command or
   function it goes through, and the expected error text (regexes that must all match) or behaviour.
   An error must be ONE clear message naming the file / key / line, the value and what was expected;
   command-line rows also check the exit code, that stderr holds no traceback, and that no output file
   was written. Behaviour rows (resampling, downmix, CRLF, ...) return a description of what happened,
   checked the same way, after asserting the numbers.
2. **Kills survived** (:func:`test_kill_survived`): a micro project (demo corpus of 48 files, one arm,
   one epoch, a tiny backbone pretrained for a few steps) runs every stage once uninterrupted; then each
   of fetch, prepare, augment, pretrain, train, score, extract, probe and report is run again in a
   subprocess that gets SIGKILL (the whole process group) at a named point (``SDD_FAULT``,
   :mod:`sdd.core.faults`), then re-run: the outputs must equal the uninterrupted run's byte for byte
   (JSON/CSV timing keys excepted) and no half-written file may be taken as complete. The train re-run
   must resume from the killed run's checkpoint; :func:`test_resume_never_mixes_backbones` kills train,
   pretrains the backbone again with another seed, and checks that the re-run starts fresh instead.

The last test prints ``RESULT bad_inputs_clear=<passed>/<total>`` and ``RESULT
kills_survived=<passed>/<total>`` (``benchmarks/faults_summary.py`` runs this module and shows them).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import os
import re
import resource
import runpy
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from sdd.audio.io import AudioError, check_audio, read_audio, resample
from sdd.core import atomic
from sdd.core.configbase import ConfigError
from sdd.data.corpora import CorpusError, parse_corpus, read_protocol
from sdd.data.corpora.common import read_columns
from sdd.data.download import (
    Archive,
    ChecksumError,
    DiskSpaceError,
    DownloadError,
    FetchError,
    download,
    safe_extract,
    verify_archive,
)
from sdd.data.leakage import LeakageError, check_leakage
from sdd.data.prepare import BadAudioError, prepare_corpus
from sdd.plan.assemble import validate_params
from tests.helpers import REPO, SHARED

SR = 16000
# Tallies for the RESULT lines: id -> passed (a row that is skipped is left out of the total).
RESULTS: dict[str, dict[str, bool]] = {"bad_inputs_clear": {}, "kills_survived": {}}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Decode-check cache and repo root inside the test's temp folder."""
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))
    monkeypatch.delenv("SDD_FAULT", raising=False)


# -------------------------------------------------------------------------------------------------
# Helpers: expected errors, CLI runs, tiny inputs
# -------------------------------------------------------------------------------------------------


def error_of(exc_type: type[BaseException], fn: Callable, *args, **kwargs) -> str:
    """The message of the ``exc_type`` that ``fn(*args, **kwargs)`` must raise."""
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return str(exc)
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not raise {exc_type.__name__}")


def run_cli(argv: list[str], expect_rc: int, out: Path | None = None) -> str:
    """``sdd <argv>`` in this process: check the exit code, no traceback, and (on an error) that ``out``
    was not written; return stderr (+ stdout after a blank line)."""
    from sdd.cli import main

    err, std = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            rc = main(argv)
    finally:
        root.removeHandler(handler)
    text = err.getvalue()
    assert rc == expect_rc, f"exit code {rc}, expected {expect_rc}; stderr: {text}"
    assert "Traceback" not in text, text
    if out is not None and expect_rc == 2:
        assert not out.exists(), f"{out} written despite the error"
        leftovers = [p.name for p in out.parent.iterdir() if ".tmp" in p.name]
        assert not leftovers, f"temp files left: {leftovers}"
    return text + "\n" + std.getvalue()


def one_error_line(text: str, prefix: str) -> str:
    """The single line of ``text`` starting with ``prefix`` (exactly one must)."""
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, f"expected one {prefix!r} line, got {lines}"
    return lines[0]


def tone(seconds: float = 0.5, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.02 * rng.standard_normal((t.size, channels))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def params_raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


# -------------------------------------------------------------------------------------------------
# Params
# -------------------------------------------------------------------------------------------------


def _params_error(**changes) -> Callable[[Path], str]:
    """A row body: the repo's params.yaml with ``changes`` (dotted keys as ``a__b``) -> its ConfigError."""

    def body(tmp: Path) -> str:
        raw = copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text()))
        for dotted, value in changes.items():
            node, *parents = raw, *dotted.split("__")[:-1]
            for p in parents:
                node = node[p]
            node[dotted.split("__")[-1]] = value
        return error_of(ConfigError, validate_params, raw)

    return body


def _plan_stage_cli(tmp: Path) -> str:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["batch_size"] = 0
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "stages/plan.py"),
            "--params",
            str(tmp / "params.yaml"),
            "--out",
            str(tmp / "plan"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp / "plan").exists() and not (tmp / "plan.tmp").exists(), "nothing is written"
    return one_error_line(proc.stderr, "error:") + " | " + proc.stderr.splitlines()[-1]


# -------------------------------------------------------------------------------------------------
# Audio
# -------------------------------------------------------------------------------------------------


def _damaged_flac(tmp: Path) -> str:
    bad = SHARED / "data" / "bad_audio" / "truncated_lost_sync.flac"
    if not bad.is_file():
        pytest.skip(f"needs the real damaged FLAC {bad} (../shared, absent in a user's clone)")
    return error_of(AudioError, check_audio, bad)


def _zero_length(tmp: Path) -> str:
    (tmp / "empty.flac").write_bytes(b"")
    return error_of(AudioError, check_audio, tmp / "empty.flac")


def _text_as_flac(tmp: Path) -> str:
    (tmp / "notes.flac").write_text("these are meeting notes, not audio\n" * 20)
    return error_of(AudioError, read_audio, tmp / "notes.flac", SR)


def _nonfinite(value: float, reader: Callable) -> Callable[[Path], str]:
    def body(tmp: Path) -> str:
        x = tone(0.3)
        x[1234, 0] = value
        sf.write(tmp / "float.wav", x, SR, subtype="FLOAT")
        return error_of(AudioError, reader, tmp / "float.wav")

    return body


def _nonfinite_in_prepare(tmp: Path) -> str:
    root = tmp / "corpus"
    root.mkdir()
    for i in range(4):
        x = tone(0.2, seed=i)
        if i == 2:
            x[10, 0] = np.nan
        sf.write(root / f"u{i}.wav", x, SR, subtype="FLOAT")
    rows = ["utt_id\tpath\tlabel\tsplit"] + [
        f"u{i}\tu{i}.wav\t{'bonafide' if i % 2 else 'spoof'}\teval" for i in range(4)
    ]
    (root / "protocol.tsv").write_text("\n".join(rows) + "\n")
    cfg = parse_corpus("mine", {"type": "folder", "path": str(root)})
    msg = error_of(BadAudioError, prepare_corpus, cfg, root, tmp / "manifests", workers=1)
    assert not (tmp / "manifests").exists(), "no manifest is written when a file is bad"
    return msg


def _silent(tmp: Path, scorer: dict) -> str:
    sf.write(tmp / "silence.flac", np.zeros((SR, 1), np.float32), SR)
    check_audio(tmp / "silence.flac")  # accepted by prepare's decode check
    text = run_cli(["score", "--model", str(scorer["dir"]), str(tmp / "silence.flac")], 0)
    score = float(text.strip().splitlines()[-1].split("\t")[1])
    assert math.isfinite(score)
    return f"silent file scored: {score:.4f} (finite)"


def _pcm_depth(subtype: str, fmt: str, tol: float) -> Callable[[Path], str]:
    def body(tmp: Path) -> str:
        x = tone(0.3)[:, 0]
        path = tmp / f"x.{fmt}"
        sf.write(path, x, SR, subtype=subtype)
        y, sr = read_audio(path, SR)
        err = float(np.abs(y - x).max())
        assert sr == SR and y.shape == x.shape and err <= tol, (err, tol)
        return f"{subtype} read as float32, max error {err:.2e} <= {tol:.0e}"

    return body


def _rate(sr: int) -> Callable[[Path], str]:
    def body(tmp: Path) -> str:
        x = tone(0.4, sr=sr)[:, 0]
        path = tmp / f"x_{sr}.flac" if sr <= 48000 else tmp / "x.wav"
        sf.write(path, x, sr, subtype="PCM_24")
        y, out_sr = read_audio(path, SR)
        raw, _ = sf.read(path, dtype="float32")
        want = resample(raw, sr, SR)
        assert out_sr == SR and np.array_equal(y, want)
        assert abs(y.size - round(x.size * SR / sr)) <= 1
        return f"{sr} Hz resampled to {out_sr} Hz ({x.size} -> {y.size} samples), not refused"

    return body


def _stereo(tmp: Path) -> str:
    x = np.concatenate([tone(0.3, seed=1), 0.5 * tone(0.3, seed=2)], axis=1)
    sf.write(tmp / "stereo.wav", x, SR, subtype="FLOAT")
    y, _ = read_audio(tmp / "stereo.wav", SR)
    assert y.shape == (x.shape[0],) and np.allclose(y, x.mean(axis=1), atol=1e-7)
    assert check_audio(tmp / "stereo.wav").channels == 2
    return "stereo downmixed to the mean of its 2 channels"


def _ten_minutes(tmp: Path) -> str:
    n = SR * 600
    block = tone(1.0)[:, 0]
    with sf.SoundFile(tmp / "long.flac", "w", SR, 1, subtype="PCM_16") as f:
        for _ in range(n // SR):
            f.write(block)
    tracemalloc.start()
    try:
        y, _ = read_audio(tmp / "long.flac", SR, max_samples=64600)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    whole = n * 4  # float32 of the whole file
    assert y.size == 64600 and peak < whole / 20, (peak, whole)
    return (
        f"10-minute file: read the first 64600 samples with peak {peak / 1e6:.2f} MB "
        f"(whole file {whole / 1e6:.0f} MB)"
    )


def _unreadable_score(tmp: Path, scorer: dict) -> str:
    sf.write(tmp / "good.wav", tone(0.3)[:, 0], SR)
    (tmp / "gone.flac").symlink_to(tmp / "deleted-target.flac")  # listed, but cannot be opened
    (tmp / "notes.flac").write_text("not audio\n")
    text = run_cli(
        [
            "score",
            "--model",
            str(scorer["dir"]),
            str(tmp / "good.wav"),
            str(tmp / "gone.flac"),
            str(tmp / "notes.flac"),
        ],
        1,
    )
    scored = [ln for ln in text.splitlines() if ln.startswith(str(tmp / "good.wav") + "\t")]
    assert len(scored) == 1, text
    return text


# -------------------------------------------------------------------------------------------------
# Protocols and manifests
# -------------------------------------------------------------------------------------------------


def _folder(
    tmp: Path, lines: list[str], name: str = "protocol.tsv", newline: str = "\n", files: bool = True
) -> Path:
    root = tmp / "corpus"
    root.mkdir(exist_ok=True)
    (root / name).write_bytes(newline.join(lines).encode() + (newline.encode() if lines else b""))
    if files:
        for i in range(4):
            sf.write(root / f"u{i}.wav", tone(0.2, seed=i)[:, 0], SR)
    return root


GOOD = [
    "utt_id\tpath\tspeaker\tlabel\tsplit",
    "u0\tu0.wav\tS1\tbonafide\ttrain",
    "u1\tu1.wav\tS1\tspoof\ttrain",
    "u2\tu2.wav\tS2\tbonafide\teval",
    "u3\tu3.wav\tS2\tspoof\teval",
]


def _protocol_error(lines: list[str], exc=CorpusError) -> Callable[[Path], str]:
    def body(tmp: Path) -> str:
        root = _folder(tmp, lines)
        return error_of(exc, read_protocol, parse_corpus("mine", {"type": "folder", "path": str(root)}), root)

    return body


def _extra_column(tmp: Path) -> str:
    root = _folder(tmp, [GOOD[0] + "\tnotes"] + [ln + "\tfree text" for ln in GOOD[1:]])
    df = read_protocol(parse_corpus("mine", {"type": "folder", "path": str(root)}), root)
    assert len(df) == 4 and "notes" not in df.columns
    return "folder protocol: extra column 'notes' ignored, 4 trials read"


def _extra_column_whitespace(tmp: Path) -> str:
    p = tmp / "ASVspoof2019.LA.cm.dev.trl.txt"
    p.write_text(
        "LA_0001 LA_D_1 - - bonafide\nLA_0001 LA_D_2 - A01 spoof\nLA_0002 LA_D_3 - A02 spoof extra\n"
    )
    return error_of(CorpusError, read_columns, p, 5, "SPEAKER FILE - SYSTEM KEY")


def _crlf(tmp: Path) -> str:
    root = _folder(tmp, GOOD, newline="\r\n")
    cfg = parse_corpus("mine", {"type": "folder", "path": str(root)})
    crlf = read_protocol(cfg, root)
    (root / "protocol.tsv").write_text("\n".join(GOOD) + "\n")
    assert crlf.equals(read_protocol(cfg, root)), "CRLF and LF protocols read differently"
    assert not any("\r" in v for v in crlf.astype(str).to_numpy().ravel())
    return "CRLF protocol read identically to LF (no stray \\r in any value)"


def _crlf_whitespace(tmp: Path) -> str:
    lines = ["LA_0001 LA_D_1 - - bonafide", "LA_0001 LA_D_2 - A01 spoof"]
    (tmp / "a.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (tmp / "b.txt").write_text("\n".join(lines) + "\n")
    assert read_columns(tmp / "a.txt", 5, "x") == read_columns(tmp / "b.txt", 5, "x")
    return "CRLF whitespace protocol read identically to LF"


def _listed_missing(tmp: Path) -> str:
    root = _folder(tmp, GOOD)
    (root / "u3.wav").unlink()
    cfg = parse_corpus("mine", {"type": "folder", "path": str(root)})
    msg = error_of(BadAudioError, prepare_corpus, cfg, root, tmp / "manifests", workers=1)
    assert not (tmp / "manifests").exists()
    return msg


def _same_speaker(tmp: Path) -> str:
    train = pd.DataFrame({"utt_id": ["a", "b"], "speaker": ["S1", "S2"], "path": ["a.wav", "b.wav"]})
    ev = pd.DataFrame({"utt_id": ["c", "d"], "speaker": ["S2", "S3"], "path": ["c.wav", "d.wav"]})
    return error_of(LeakageError, check_leakage, {"train": train}, {"mine:eval": ev})


def _augment_manifest_missing_column(tmp: Path) -> str:
    from sdd.augment.params import AugmentParams
    from sdd.augment.precompute import precompute

    manifest = pd.DataFrame({"utt_id": ["a"], "path": ["a.wav"], "speaker": ["S1"]})
    msg = error_of(ValueError, precompute, manifest, tmp / "aug", AugmentParams(), workers=1)
    assert not (tmp / "aug" / "manifest.csv").exists()
    return msg


# -------------------------------------------------------------------------------------------------
# Score files (`sdd evaluate`)
# -------------------------------------------------------------------------------------------------


def _evaluate(
    mutate: Callable[[list[str]], list[str]],
    expect_rc: int = 2,
    only_spoof: bool = False,
    invert: bool = False,
) -> Callable[[Path], str]:
    def body(tmp: Path) -> str:
        rng = np.random.default_rng(0)
        n_b, n_s = 10, 20
        ids = [f"LA_E_{i:07d}" for i in range(n_b + n_s)]
        labels = ["bonafide"] * n_b + ["spoof"] * n_s
        if only_spoof:
            labels = ["spoof"] * (n_b + n_s)
        attacks = ["-" if k == "bonafide" else "A07" for k in labels]
        scores = np.concatenate([rng.normal(2, 1, n_b), rng.normal(-2, 1, n_s)]) * (-1 if invert else 1)
        (tmp / "prot.txt").write_text(
            "".join(
                f"LA_{i % 3:04d} {u} - {a} {k}\n"
                for i, (u, a, k) in enumerate(zip(ids, attacks, labels, strict=True))
            )
        )
        lines = mutate([f"{u} {s:.6f}" for u, s in zip(ids, scores, strict=True)])
        (tmp / "scores.txt").write_text("\n".join(lines) + "\n")
        out = tmp / "out" / "m.json"
        out.parent.mkdir()
        text = run_cli(
            [
                "evaluate",
                "--scores",
                str(tmp / "scores.txt"),
                "--protocol",
                str(tmp / "prot.txt"),
                "--format",
                "asvspoof2019",
                "--out",
                str(out),
            ],
            expect_rc,
            out,
        )
        if expect_rc == 2:
            return one_error_line(text, "sdd evaluate: error:")
        assert json.loads(out.read_text())["eer"] > 0.5
        return text

    return body


def _set_score(i: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda L: L[:i] + [f"{L[i].split()[0]} {value}"] + L[i + 1 :]


# -------------------------------------------------------------------------------------------------
# Downloads: a local HTTP server that can fail in the ways real ones do
# -------------------------------------------------------------------------------------------------


class Server:
    """``/<name>``: Range-aware; ``drop`` = bytes sent before the connection drops (once);
    ``ignore_range`` = always 200 with the whole body; ``status`` = an HTTP error for the name."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop: dict[str, int] = {}
        self.ignore_range: set[str] = set()
        self.status: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_GET(self):  # noqa: N802 (stdlib name)
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                srv.requests.append((name, rng))
                if name in srv.status:
                    self.send_error(srv.status[name])
                    return
                if name not in srv.files:
                    self.send_error(404, "Not Found")
                    return
                body = srv.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng and name not in srv.ignore_range else 0
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = srv.drop.pop(name, None)
                self.wfile.write(body[start:cut] if cut is not None else body[start:])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _payload(n: int = 300_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _http_error(code: int) -> Callable[[Path, Server], str]:
    def body(tmp: Path, srv: Server) -> str:
        name = f"err{code}.zip"
        srv.status[name] = code
        msg = error_of(
            DownloadError, download, srv.url(name), tmp / name, retries=1, backoff_s=0.0, progress=False
        )
        assert not (tmp / name).exists(), "an error never leaves a file under the final name"
        return msg

    return body


def _dropped_then_resumed(tmp: Path, srv: Server) -> str:
    data = _payload(seed=1)
    srv.files["drop.bin"], srv.drop["drop.bin"] = data, 100_000
    got = download(srv.url("drop.bin"), tmp / "drop.bin", backoff_s=0.0, chunk_bytes=16384, progress=False)
    assert got.read_bytes() == data, "resumed file differs"
    ranges = [r for n, r in srv.requests if n == "drop.bin"]
    assert ranges == [None, "bytes=100000-"], ranges
    assert not (tmp / "drop.bin.part").exists()
    return f"dropped at 100000 of {len(data)} bytes, resumed with Range {ranges[1]!r}: identical bytes"


def _range_ignored(tmp: Path, srv: Server) -> str:
    data = _payload(seed=2)
    srv.files["norange.bin"], srv.drop["norange.bin"] = data, 120_000
    srv.ignore_range.add("norange.bin")
    got = download(
        srv.url("norange.bin"), tmp / "norange.bin", backoff_s=0.0, chunk_bytes=16384, progress=False
    )
    assert got.read_bytes() == data
    ranges = [r for n, r in srv.requests if n == "norange.bin"]
    assert ranges == [None, "bytes=120000-"], ranges
    return "server ignored Range (200 + whole body): restarted from byte 0, identical bytes"


def _truncated(kind: str) -> Callable[[Path, Server], str]:
    def body(tmp: Path, srv: Server) -> str:
        members = {f"LA/u{i}.flac": _payload(50_000, seed=i) for i in range(4)}
        buf = io.BytesIO()
        if kind == "tar.gz":
            with tarfile.open(fileobj=buf, mode="w:gz") as tf:
                for name, data in members.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        else:
            with zipfile.ZipFile(buf, "w") as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        blob = buf.getvalue()
        (tmp / f"a.{kind}").write_bytes(blob[: len(blob) // 2])
        return error_of(FetchError, safe_extract, tmp / f"a.{kind}", tmp / "staging")

    return body


def _checksum(tmp: Path, srv: Server) -> str:
    (tmp / "LA.zip").write_bytes(_payload(1000))
    return error_of(
        ChecksumError,
        verify_archive,
        tmp / "LA.zip",
        Archive(url="http://x/LA.zip", filename="LA.zip", md5="0" * 32, checksum_source="official"),
    )


def _disk_full(tmp: Path, srv: Server) -> str:
    """A real failing write: the file-size limit (RLIMIT_FSIZE, EFBIG) stops the transfer at 64 KiB."""
    data = _payload(seed=3)
    srv.files["full.bin"] = data
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, hard))
    try:
        msg = error_of(
            DiskSpaceError,
            download,
            srv.url("full.bin"),
            tmp / "full.bin",
            backoff_s=0.0,
            chunk_bytes=16384,
            progress=False,
        )
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    part = tmp / "full.bin.part"
    assert not (tmp / "full.bin").exists(), "never mistaken for complete"
    assert part.is_file() and 0 < part.stat().st_size <= 65536 and data.startswith(part.read_bytes())
    got = download(srv.url("full.bin"), tmp / "full.bin", backoff_s=0.0, progress=False)  # space is back
    assert got.read_bytes() == data and not part.exists()
    return msg + " || after space was freed the partial file was resumed to identical bytes"


def _atomic_write_fails(tmp: Path, srv: Server) -> str:
    target = tmp / "metrics.json"
    target.write_text('{"old": 1}\n')

    def write() -> None:
        with atomic.atomic_path(target) as t:
            t.write_text('{"new": ')  # half of the new content, then the write fails
            raise OSError(28, "No space left on device")

    msg = error_of(OSError, write)
    assert target.read_text() == '{"old": 1}\n', "the old file is intact"
    assert [p.name for p in tmp.iterdir()] == ["metrics.json"], "the temp file is removed"
    return f"{msg} -> old {target.name} intact, no temp file left"


def _mlflow_unavailable(tmp: Path, srv: Server) -> str:
    from sdd.report import tracking

    (tmp / "mlflow.db").write_text("not a database: a file damaged by a full disk\n" * 10)
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger("sdd.report.tracking").addHandler(handler)
    try:
        with tracking.arm_run("evaluate", {"name": "main", "seed": 0, "a": 1}) as run:
            run.log_metrics({"demo:eval": {"eer": 0.1}})
            atomic.write_json(tmp / "eval.json", {"eer": 0.1})  # the stage's DVC output
    finally:
        logging.getLogger("sdd.report.tracking").removeHandler(handler)
        os.environ.pop("MLFLOW_TRACKING_URI") if old is None else os.environ.update(MLFLOW_TRACKING_URI=old)
    assert json.loads((tmp / "eval.json").read_text()) == {"eer": 0.1}
    return log.getvalue()


# -------------------------------------------------------------------------------------------------
# The catalogue
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: ``id``, the ``area``, what is built and run (``body``), and regexes the returned error
    text or behaviour description must all match (``expect``). ``needs``: fixtures the body takes."""

    id: str
    area: str
    body: Callable[..., str]
    expect: tuple[str, ...]
    needs: tuple[str, ...] = ()


ERR = "sdd evaluate: error: score file .*scores.txt"
CASES = [
    # ---- params (validate_params = what the plan stage runs before any work) ----
    Case(
        "params-wrong-type-number",
        "params",
        _params_error(train__lr="abc"),
        (r"train\.lr: got 'abc'; expected a number",),
    ),
    Case(
        "params-wrong-type-bool", "params", _params_error(lora="yes"), (r"lora: got 'yes'", "true or false")
    ),
    Case(
        "params-wrong-type-list",
        "params",
        _params_error(eval_sets="demo:eval"),
        (r"eval_sets: got 'demo:eval'; expected a list",),
    ),
    Case(
        "params-unknown-key",
        "params",
        _params_error(unknwon=1),
        (r"unknown key\(s\) \['unknwon'\]", "expected keys among"),
    ),
    Case(
        "params-unknown-nested-key",
        "params",
        _params_error(train__epoch=3),
        (r"train: unknown key\(s\) \['epoch'\]", "'epochs'"),
    ),
    Case(
        "params-epochs-0",
        "params",
        _params_error(train__epochs=0),
        (r"train\.epochs: got 0; expected a positive integer",),
    ),
    Case(
        "params-batch-0",
        "params",
        _params_error(train__batch_size=0),
        (r"train\.batch_size: got 0; expected a positive integer",),
    ),
    Case(
        "params-lr-0", "params", _params_error(train__lr=0.0), (r"train\.lr: got 0\.0; expected a positive",)
    ),
    Case(
        "params-lr-negative",
        "params",
        _params_error(train__lr=-0.001),
        (r"train\.lr: got -0\.001; expected a positive",),
    ),
    Case(
        "params-eval-set-unknown-corpus",
        "params",
        _params_error(eval_sets=["la2019:eval"]),
        (r"eval_sets\[0\]: corpus 'la2019' is not defined; expected one of \[",),
    ),
    Case(
        "params-eval-set-unknown-split",
        "params",
        _params_error(eval_sets=["demo:test"]),
        (r"eval_sets\[0\]: corpus 'demo' has no split 'test'; expected one of \[.*'eval_degraded'",),
    ),
    Case(
        "params-arm-unknown-field",
        "params",
        _params_error(arms={"main": {"optimiser": "sgd"}}),
        (r"arms\.main: unknown key\(s\) \['optimiser'\]",),
    ),
    Case(
        "params-arm-unknown-nested-field",
        "params",
        _params_error(arms={"main": {"train": {"lrate": 1}}}),
        (r"arms\.main\.train: unknown key\(s\) \['lrate'\]",),
    ),
    Case(
        "params-arm-name-traversal",
        "params",
        _params_error(arms={"../evil": {}}),
        (r"arms: name '\.\./evil' is not a safe path component", "letters, digits"),
    ),
    Case(
        "params-arm-name-slash",
        "params",
        _params_error(arms={"main": {}, "a/b": {}}),
        (r"arms: name 'a/b' is not a safe path component",),
    ),
    Case(
        "params-plan-stage-cli",
        "params",
        _plan_stage_cli,
        (
            r"^error: params.yaml: train\.batch_size: got 0; expected a positive integer",
            r"git checkout params.yaml",
        ),
    ),
    # ---- audio ----
    Case(
        "audio-real-damaged-flac",
        "audio",
        _damaged_flac,
        (r"truncated_lost_sync\.flac: cannot decode audio \(.*lost sync",),
    ),
    Case("audio-zero-length", "audio", _zero_length, (r"empty\.flac: cannot decode audio",)),
    Case("audio-text-named-flac", "audio", _text_as_flac, (r"notes\.flac: cannot decode audio",)),
    Case(
        "audio-nan-samples",
        "audio",
        _nonfinite(np.nan, check_audio),
        (r"float\.wav: 1 non-finite samples \(NaN/inf\), the first at frame 1234; expected finite",),
    ),
    Case(
        "audio-inf-samples-read",
        "audio",
        _nonfinite(np.inf, lambda p: read_audio(p, SR)),
        (r"float\.wav: 1 non-finite samples \(NaN/inf\), the first at frame 1234",),
    ),
    Case(
        "audio-nan-in-prepare",
        "audio",
        _nonfinite_in_prepare,
        (
            r"1 of 4 audio files failed the decode check",
            r"u2\.wav: .*non-finite samples",
            "on_bad_audio: skip",
        ),
    ),
    Case(
        "audio-all-silent-scored",
        "audio",
        _silent,
        (r"silent file scored: -?\d+\.\d+ \(finite\)",),
        ("scorer",),
    ),
    Case("audio-pcm-8bit", "audio", _pcm_depth("PCM_U8", "wav", 1 / 64), (r"PCM_U8 read as float32",)),
    Case("audio-pcm-24bit", "audio", _pcm_depth("PCM_24", "flac", 2.0**-22), (r"PCM_24 read as float32",)),
    Case("audio-8khz", "audio", _rate(8000), (r"8000 Hz resampled to 16000 Hz",)),
    Case("audio-22khz", "audio", _rate(22050), (r"22050 Hz resampled to 16000 Hz",)),
    Case("audio-44khz", "audio", _rate(44100), (r"44100 Hz resampled to 16000 Hz",)),
    Case("audio-48khz", "audio", _rate(48000), (r"48000 Hz resampled to 16000 Hz",)),
    Case("audio-stereo-downmixed", "audio", _stereo, (r"stereo downmixed",)),
    Case(
        "audio-10-minutes-bounded-memory", "audio", _ten_minutes, (r"10-minute file: read the first 64600",)
    ),
    Case(
        "audio-unreadable-and-text-in-sdd-score",
        "audio",
        _unreadable_score,
        (
            r"sdd score: .*gone\.flac: no such file or directory",
            r"sdd score: .*notes\.flac: cannot decode audio",
            r"sdd score: 2 of 3 inputs could not be scored",
        ),
        ("scorer",),
    ),
    # ---- protocols and manifests ----
    Case(
        "protocol-missing-column",
        "protocol",
        _protocol_error([ln.rsplit("\t", 2)[0] + "\t" + ln.rsplit("\t", 1)[1] for ln in GOOD]),
        (r"protocol\.tsv: label_column 'label' is not a column; expected one of \[",),
    ),
    Case(
        "protocol-extra-column-folder-ignored", "protocol", _extra_column, (r"extra column 'notes' ignored",)
    ),
    Case(
        "protocol-extra-column-whitespace",
        "protocol",
        _extra_column_whitespace,
        (
            r"ASVspoof2019\.LA\.cm\.dev\.trl\.txt:3: got 6 columns \('LA_0002 LA_D_3 - A02 spoof extra'\); "
            r"expected 5",
        ),
    ),
    Case(
        "protocol-duplicate-utt-id",
        "protocol",
        _protocol_error(GOOD + ["u1\tu3.wav\tS2\tspoof\teval"]),
        (r"protocol\.tsv: duplicate utterance id 'u1' on lines \[3, 6\]",),
    ),
    Case(
        "protocol-unknown-label",
        "protocol",
        _protocol_error(GOOD[:2] + ["u1\tu1.wav\tS1\tmaybe\ttrain"] + GOOD[3:]),
        (r"protocol\.tsv:3: label 'maybe' is neither bona fide nor spoof; expected one of",),
    ),
    Case(
        "protocol-listed-file-missing",
        "protocol",
        _listed_missing,
        (r"1 of 4 audio files failed", r"u3\.wav: file not found or unreadable"),
    ),
    Case("protocol-crlf-folder", "protocol", _crlf, (r"CRLF protocol read identically",)),
    Case(
        "protocol-crlf-whitespace",
        "protocol",
        _crlf_whitespace,
        (r"CRLF whitespace protocol read identically",),
    ),
    Case(
        "protocol-empty",
        "protocol",
        _protocol_error([]),
        (r"protocol\.tsv: protocol file is empty; expected a header",),
    ),
    Case(
        "protocol-header-only",
        "protocol",
        _protocol_error(GOOD[:1]),
        (r"protocol\.tsv: protocol has a header but no rows",),
    ),
    Case(
        "protocol-path-escapes-root",
        "protocol",
        _protocol_error(GOOD[:2] + ["u9\t../../etc/passwd\tS1\tspoof\ttrain"] + GOOD[3:]),
        (r"protocol\.tsv:3: path '\.\./\.\./etc/passwd' escapes the corpus folder",),
    ),
    Case(
        "protocol-same-speaker-train-eval",
        "protocol",
        _same_speaker,
        (r"mine:eval: 1 speakers also in train \(e\.g\. \['S2'\]\)",),
    ),
    Case(
        "manifest-missing-column-augment",
        "protocol",
        _augment_manifest_missing_column,
        (r"augment input manifest lacks column\(s\) \['label', 'attack'\]",),
    ),
    # ---- score files: sdd evaluate ----
    Case(
        "scores-nan",
        "scores",
        _evaluate(_set_score(3, "nan")),
        (ERR + r": 1 non-finite scores \(NaN/inf\), e\.g\. LA_E_0000003",),
    ),
    Case("scores-inf", "scores", _evaluate(_set_score(4, "-inf")), (r"1 non-finite scores.*LA_E_0000004",)),
    Case(
        "scores-non-numeric",
        "scores",
        _evaluate(_set_score(5, "0,25")),
        (ERR + r": 1 lines have a non-numeric score \(line 6 \(LA_E_0000005\): '0,25'\)",),
    ),
    Case(
        "scores-trial-missing",
        "scores",
        _evaluate(lambda L: L[:-2]),
        (ERR + r" vs protocol .*prot\.txt: 2 trials of the protocol have no score \(e\.g\. LA_E_0000028",),
    ),
    Case(
        "scores-trial-not-in-protocol",
        "scores",
        _evaluate(lambda L: L + ["LA_E_9999999 0.5"]),
        (r"1 scored trials are not in the protocol \(e\.g\. LA_E_9999999\)",),
    ),
    Case(
        "scores-duplicate-id",
        "scores",
        _evaluate(lambda L: L + [L[7]]),
        (ERR + r": 1 trial ids scored more than once, e\.g\. LA_E_0000007",),
    ),
    Case(
        "scores-one-class-absent",
        "scores",
        _evaluate(lambda L: L, only_spoof=True),
        (r"need both classes, got 0 bona fide and 30 spoof",),
    ),
    Case(
        "scores-inverted-warning",
        "scores",
        _evaluate(lambda L: L, expect_rc=0, invert=True),
        (r"EER is \d+\.\d% \(> 50%\): the scores look INVERTED",),
    ),
    # ---- downloads, archives, writes ----
    Case("download-http-404", "download", _http_error(404), (r"/err404\.zip: HTTP 404",), ("server",)),
    Case(
        "download-http-500",
        "download",
        _http_error(500),
        (r"/err500\.zip: giving up after 1 retries without progress \(last error: HTTP Error 500",),
        ("server",),
    ),
    Case(
        "download-dropped-resumed-range",
        "download",
        _dropped_then_resumed,
        (r"resumed with Range 'bytes=100000-': identical bytes",),
        ("server",),
    ),
    Case(
        "download-range-ignored-restart",
        "download",
        _range_ignored,
        (r"restarted from byte 0, identical",),
        ("server",),
    ),
    Case(
        "archive-truncated-targz",
        "download",
        _truncated("tar.gz"),
        (r"a\.tar\.gz: the archive is truncated or corrupt \(.*\); delete it and fetch again",),
        ("server",),
    ),
    Case(
        "archive-truncated-zip",
        "download",
        _truncated("zip"),
        (r"a\.zip: neither a zip nor a tar archive \(or one truncated before its index\)",),
        ("server",),
    ),
    Case(
        "download-checksum-mismatch",
        "download",
        _checksum,
        (r"LA\.zip: MD5 is [0-9a-f]{32}, expected 0{32} \(official checksum\)", "delete .* and fetch again"),
        ("server",),
    ),
    Case(
        "download-disk-full",
        "download",
        _disk_full,
        (
            r"full\.bin\.part: writing the download of .*full\.bin failed \(File too large\); "
            r"the partial file is kept and the next run resumes it",
            "resumed to identical bytes",
        ),
        ("server",),
    ),
    Case(
        "atomic-write-fails-old-intact",
        "download",
        _atomic_write_fails,
        (r"No space left on device.* -> old metrics\.json intact, no temp file left",),
        ("server",),
    ),
    Case(
        "mlflow-store-unavailable",
        "download",
        _mlflow_unavailable,
        (
            r"MLflow store sqlite:///.*mlflow\.db unavailable \(.*file is not a database\): the run, "
            r"its params, metrics and artifacts of workspace/main-s0/evaluate were NOT logged to MLflow; "
            r"the stage's DVC outputs are written as usual",
        ),
        ("server",),
    ),
]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory) -> dict:
    """A random-init tiny detector saved as a model folder (for the `sdd score` rows)."""
    import torch

    from sdd.models.params import ModelParams, TinyBackboneParams
    from sdd.train.arm_model import build_detector, save_arm
    from sdd.train.params import ArmConfig, TrainParams

    tiny = TinyBackboneParams(
        conv_channels=8, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=16
    )
    arm = ArmConfig(
        name="t",
        corpus="synthetic",
        backbone="tiny-wavlm",
        regime="clean",
        align="none",
        seed=3,
        model=ModelParams(tiny=tiny),
        train=TrainParams(epochs=1, batch_size=4, dev_samples=4000, threads=1),
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("scorer") / "model"
    save_arm(build_detector(arm).eval(), arm, folder)
    return {"dir": folder}


def test_catalogue_has_at_least_40_distinct_rows():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 40
    assert {c.area for c in CASES} == {"params", "audio", "protocol", "scores", "download"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, request):
    tally = RESULTS["bad_inputs_clear"]
    tally[case.id] = False
    args = [request.getfixturevalue(name) for name in case.needs]
    try:
        text = case.body(tmp_path, *args)
    except pytest.skip.Exception:
        del tally[case.id]
        raise
    for pattern in case.expect:
        assert re.search(pattern, text, flags=re.MULTILINE), f"{pattern!r} not found in:\n{text}"
    tally[case.id] = True


# -------------------------------------------------------------------------------------------------
# Kills survived: a micro project, every stage once uninterrupted, then killed at a named point and re-run
# -------------------------------------------------------------------------------------------------

#: JSON keys / CSV columns that measure time or memory, not results (declared, never compared).
TIMING_KEYS = frozenset(
    {"seconds", "cpu_seconds", "kmeans_cpu_seconds", "peak_rss_mb", "extract_seconds", "probe_seconds"}
)
#: the report's "created" timestamp (run metadata), the one timing field of its Markdown/HTML pages
CREATED = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
#: stage -> (the fault point where the subprocess gets SIGKILL, the outputs compared after the re-run).
#: ``<stage>@<item>``: one item of a ``foreach`` stage (extract and probe run once per probed model).
TRAIN_OUTS = ["models/main", "reports/train", "reports/telemetry", "reports/epochs"]
KILLS = {
    "fetch": ("fetch:generated", ["data/fetch.json", "data/raw"]),
    "prepare": ("prepare:split_written", ["data/manifests"]),
    "augment": ("augment:sidecar_written@3", ["data/augmented"]),
    "pretrain": (
        "pretrain:step@2",
        ["models/backbone", "models/random", "reports/pretrain.json", "reports/pretrain/log.csv"],
    ),
    "train": ("train:step@2", TRAIN_OUTS),
    "score": ("score:file_written", ["data/scores/main"]),
    "extract@backbone": ("extract:features_written", ["data/probe/backbone"]),
    "probe@backbone": ("probe:layer_done", ["reports/probe/backbone.json"]),
    "report": (
        "report:figures_written",
        ["reports/README.md", "reports/index.html", "reports/figures", "reports/metrics.json"],
    ),
}
PROBED = ["random", "backbone", "main"]  # probe.models of the micro project
ORDER = ["fetch", "prepare", "augment", "baseline", "pretrain", "train", "score", "evaluate", "audit",
         *(f"extract@{m}" for m in PROBED), *(f"probe@{m}" for m in PROBED), "report"]


def _stage_argv(name: str) -> list[str]:
    """The stage's command from dvc.yaml (arm main, seed 0, ``${corpus}`` = demo, ``<stage>@<item>``:
    that item of a ``foreach`` stage), as argv."""
    import shlex

    name, _, item = name.partition("@")
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    cmd = (stage.get("do") or stage)["cmd"].replace("${key}", "main").replace("${corpus}", "demo")
    cmd = cmd.replace("${item.arm}", "main").replace("${item.seed}", "0").replace("${item}", item)
    assert "${" not in cmd, f"unresolved variable in the {name} command: {cmd}"
    argv = shlex.split(cmd)
    assert argv[0] == "python" and argv[1].startswith("stages/")
    return [str(REPO / argv[1]), *argv[2:]]


def _snapshot(root: Path, rels: list[str]) -> dict[str, object]:
    """Every file under ``rels``: JSON and CSV parsed with timing keys dropped, anything else as bytes."""

    def scrub(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: scrub(v) for k, v in obj.items() if k not in TIMING_KEYS}
        if isinstance(obj, list):
            return [scrub(v) for v in obj]
        return obj

    out: dict[str, object] = {}
    for rel in rels:
        base = root / rel
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in files:
            key = p.relative_to(root).as_posix()
            if p.suffix == ".json":
                out[key] = scrub(json.loads(p.read_text()))
            elif p.suffix == ".csv":
                df = pd.read_csv(p, keep_default_na=False)
                out[key] = df.drop(columns=[c for c in df.columns if c in TIMING_KEYS]).to_csv(index=False)
            elif p.suffix in (".md", ".html"):  # the report's declared timing field: when it was created
                out[key] = CREATED.sub(b"<created>", p.read_bytes())
            else:
                out[key] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """The micro project after one uninterrupted run of every stage (in this process), with the
    snapshot of each stage's outputs. MLflow points at an unreadable store: the stages warn and log
    nothing (the DVC outputs must not depend on it), and no store is created for the test."""
    from sdd.core.stage import write_plan
    from sdd.plan.assemble import make_plan

    root = tmp_path_factory.mktemp("micro") / "project"
    root.mkdir()
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["corpora"] = {
        "demo": {"type": "demo", "seed": 0, "n_per_split": 6, "min_duration_s": 0.5, "max_duration_s": 1.0}
    }
    raw["eval_sets"] = ["demo:eval"]
    raw["arms"] = {"main": {}}
    raw["backbone"] = "pretrained"  # the arm starts from the pretrain stage's models/backbone
    raw["pretrain"].update(batch_size=2, crop_samples=4000, threads=1)
    raw["pretrain"]["wav2vec2"].update(
        steps=4,
        warmup_steps=1,
        num_negatives=4,
        codevectors_per_group=8,
        codevector_dim=16,
        proj_codevector_dim=16,
    )
    raw["probe"].update(models=PROBED, num_samples=8000, threads=1, n_resamples=20, l2_grid=[0.1, 10.0])
    raw["prepare"]["workers"] = 1
    raw["augment"]["copies"] = 1
    raw["model"]["tiny"] = {
        "conv_channels": 8,
        "hidden_size": 16,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 16,
    }
    raw["model"]["partial"]["layers"] = 1
    raw["train"].update(
        epochs=1,
        batch_size=4,
        crop_samples=4000,
        dev_samples=8000,
        threads=1,
        workers=0,
        checkpoint_every=1,
        average_best=1,
        patience=None,
    )
    raw["score"].update(num_samples=8000, threads=1)
    raw["evaluate"]["n_resamples"] = 20
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    write_plan(make_plan(validate_params(raw)), root / "data" / "plan")
    (root / "bad-mlflow.db").write_text("not a database\n" * 10)
    env = {
        "SDD_ROOT": str(root),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'bad-mlflow.db'}",
        "SDD_AUDIO_CACHE": str(root / "audio_check.sqlite"),
    }
    snapshots: dict[str, dict] = {}
    project = {"root": root, "env": env, "snapshots": snapshots, "params": raw}
    for name in ORDER:
        _run_in_process(project, name)
        if name in KILLS:
            snapshots[name] = _snapshot(root, KILLS[name][1])
            for rel in KILLS[name][1]:  # a byte copy, restored after the kill test (see _restore)
                src, dst = root / rel, root.parent / "backup" / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
    return project


def _run_in_process(project: dict, name: str) -> None:
    argv = _stage_argv(name)
    mp = pytest.MonkeyPatch()
    try:
        for k, v in project["env"].items():
            mp.setenv(k, v)
        mp.delenv("SDD_FAULT", raising=False)
        mp.chdir(project["root"])
        mp.setattr(sys, "argv", argv)
        runpy.run_path(argv[0], run_name="__main__")
    finally:
        mp.undo()


def _restore(root: Path, name: str) -> None:
    """Put back the uninterrupted run's exact bytes: a re-run differs in timing keys (train seconds),
    which later stages copy into their outputs (the report's tables)."""
    _reset(root, name)
    for rel in KILLS[name][1]:
        src, dst = root.parent / "backup" / rel, root / rel
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)


def _reset(root: Path, name: str) -> None:
    """Remove what the stage made, so the killed run starts it from scratch (fetch: the raw data too)."""
    for rel in KILLS[name][1]:
        p = root / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)


def _kill(project: dict, stage: str, point: str) -> None:
    """Run the stage in a subprocess of its own session with ``SDD_FAULT=point``; it must die of SIGKILL."""
    env = {
        **os.environ,
        **project["env"],
        "SDD_FAULT": point,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, *_stage_argv(stage)],
        cwd=project["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert proc.returncode == -signal.SIGKILL, (
        f"not killed at {point} (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    )


def _diff(got: dict, want: dict) -> list[str]:
    """Files present in one snapshot only, then files whose (scrubbed) content differs."""
    return sorted(set(got) ^ set(want)) + [k for k in sorted(set(got) & set(want)) if got[k] != want[k]]


def _resumed(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "resuming at epoch" in r.getMessage()]


@pytest.mark.slow  # the micro project runs every stage once, then each kill re-runs one
@pytest.mark.parametrize("stage", list(KILLS))
def test_kill_survived(micro, stage, caplog):
    """SIGKILL of the stage's whole process group at a named point, then a re-run: the same outputs."""
    tally = RESULTS["kills_survived"]
    tally[stage] = False
    root, (point, outputs) = micro["root"], KILLS[stage]
    _reset(root, stage)
    _kill(micro, stage, point)
    caplog.set_level(logging.INFO, logger="sdd.train.loop")
    _run_in_process(micro, stage)  # the re-run (what `dvc repro` runs again: the stage was not committed)
    if stage == "train":  # the same backbone: the re-run resumes after optimizer step 2
        assert _resumed(caplog) == ["arm main: resuming at epoch 0, batch 2 (optimizer step 2; checkpoint "
                                    "of 1 process(es), now 1)"], caplog.text[-3000:]
    got = _snapshot(root, outputs)
    differ = _diff(got, micro["snapshots"][stage])
    assert not differ, f"outputs differ from the uninterrupted run: {differ}"
    leftovers = [p.name for rel in ["data", "reports", "models"] for p in (root / rel).rglob(".*tmp*")]
    assert not leftovers, f"temp files left: {leftovers}"
    _restore(root, stage)
    tally[stage] = True


@pytest.mark.slow  # kills train, pretrains again, trains twice
def test_resume_never_mixes_backbones(micro, tmp_path, caplog):
    """Train is killed mid-epoch on backbone A; the backbone is pretrained again with another seed (B) at
    the same path, and the arm's plan is unchanged; the train re-run must start fresh on B, not resume
    A's checkpoint: its outputs equal an uninterrupted run on B, and differ from A's."""
    root = tmp_path / "project"
    shutil.copytree(micro["root"], root, symlinks=True)
    env = {**micro["env"], "SDD_ROOT": str(root), "SDD_AUDIO_CACHE": str(root / "audio_check.sqlite"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'bad-mlflow.db'}"}
    project = {"root": root, "env": env}
    checkpoints = root / ".sdd" / "checkpoints"
    backbone_a = (root / "models/backbone/model.safetensors").read_bytes()
    for rel in TRAIN_OUTS:
        shutil.rmtree(root / rel, ignore_errors=True)
    _kill(project, "train", "train:step@2")
    [folder_a] = checkpoints.iterdir()
    assert json.loads((folder_a / "progress.json").read_text())["step"] == 2

    from sdd.core.stage import write_plan
    from sdd.plan.assemble import make_plan

    raw = copy.deepcopy(micro["params"])
    raw["pretrain"]["seed"] += 1
    arm_plan = root / "data/plan/arms/main/s0.json"
    before = arm_plan.read_bytes()
    write_plan(make_plan(validate_params(raw)), root / "data" / "plan")
    assert arm_plan.read_bytes() == before, "the arm's plan must not change: only the backbone's bytes do"
    _run_in_process(project, "pretrain")
    assert (root / "models/backbone/model.safetensors").read_bytes() != backbone_a, "B must differ from A"

    caplog.set_level(logging.INFO, logger="sdd.train.loop")
    _run_in_process(project, "train")  # the re-run after the kill, now on B
    assert not _resumed(caplog), f"resumed from backbone A's checkpoint: {_resumed(caplog)}"
    got = _snapshot(root, TRAIN_OUTS)
    assert [p.name for p in checkpoints.iterdir()] == [folder_a.name], "B's run removes its own checkpoint"

    shutil.rmtree(checkpoints)
    for rel in TRAIN_OUTS:
        shutil.rmtree(root / rel, ignore_errors=True)
    _run_in_process(project, "train")  # uninterrupted on B
    want = _snapshot(root, TRAIN_OUTS)
    assert not _diff(got, want), f"differs from an uninterrupted run on B: {_diff(got, want)}"
    assert _diff(got, micro["snapshots"]["train"]), "B's outputs equal A's: the test cannot tell them apart"


def test_zz_summary(capsys):
    """Print the RESULT lines (last in the module: pytest runs tests in file order)."""
    lines = []
    for name, tally in RESULTS.items():
        if tally:
            lines.append(f"RESULT {name}={sum(tally.values())}/{len(tally)}")
    failed = [k for tally in RESULTS.values() for k, ok in tally.items() if not ok]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not failed, f"failed: {failed}"
