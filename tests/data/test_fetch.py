"""Fetch against a local HTTP server serving small archives in the real layouts (offline).

Covers: resume after a dropped connection, checksum enforcement before extraction (official,
third-party, user), zip-slip / tar traversal / outside links, multi-part archives, idempotent reruns,
the free-space check, the `sdd fetch` acceptance command followed by prepare, and `sdd fetch aasist`
(the published weights, pinned SHA-256s).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdd.audio.io import write_audio
from sdd.cli import fetch_main as cli_main  # the `sdd fetch` command: corpora and published weights
from sdd.data import download as dl
from sdd.data.corpora import parse_corpus
from sdd.data.download import ChecksumError, DiskSpaceError, DownloadError, UnsafeArchiveError
from sdd.data.fetchers import fetch_corpus
from sdd.data.prepare import prepare_corpus
from sdd.models.published_spec import AASIST_FILES


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SDD_AUDIO_CACHE", str(tmp_path / "audio_check.sqlite"))
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)  # no real backoff waits in tests


# -------------------------------------------------------------------------------------------------
# A tiny HTTP server with Range support and a switch to drop a transfer half-way
# -------------------------------------------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop_once: dict[str, int] = {}  # name -> bytes sent before the connection is dropped
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                return None

            def do_GET(self):  # noqa: N802 (stdlib name)
                name = self.path.lstrip("/").split("?")[0]
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                body = server.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = server.drop_once.pop(name, None)
                self.wfile.write(body[start:cut] if cut is not None else body[start:])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


# -------------------------------------------------------------------------------------------------
# Small archives in the real layouts
# -------------------------------------------------------------------------------------------------


def _flac_bytes(seed: int, tmp: Path) -> bytes:
    p = tmp / f"_{seed}.flac"
    write_audio(p, (0.1 * np.random.default_rng(seed).standard_normal(1600)).astype(np.float32), 16000)
    data = p.read_bytes()
    p.unlink()
    return data


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _targz(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    return buf.getvalue()


LA19_SPLITS = {"train": ("train.trn", "T", ["A01", "A02"]), "dev": ("dev.trl", "D", ["A01", "A02"]),
               "eval": ("eval.trl", "E", ["A07", "A08"])}  # fmt: skip


def la19_zip(tmp: Path) -> bytes:
    """LA.zip: protocols, README, 2 bona fide + 2 spoof FLACs per split (+ directory entries)."""
    members = {"LA/README.LA.txt": b"tiny fixture\n", "LA/ASVspoof2019_LA_cm_protocols/": b""}
    seed = 0
    for split, (suffix, letter, attacks) in LA19_SPLITS.items():
        lines = []
        for i in range(4):
            utt = f"LA_{letter}_{1000000 + i}"
            system, key = ("-", "bonafide") if i < 2 else (attacks[i - 2], "spoof")
            lines.append(f"LA_00{i % 2}{letter} {utt} - {system} {key}")
            members[f"LA/ASVspoof2019_LA_{split}/flac/{utt}.flac"] = _flac_bytes(seed, tmp)
            seed += 1
        members[f"LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{suffix}.txt"] = (
            "\n".join(lines) + "\n"
        ).encode()
    return _zip(members)


LA21_KEYS = [
    "LA_0009 LA_E_1000000 alaw ita_tx A07 spoof notrim eval",
    "LA_0009 LA_E_1000001 none - bonafide bonafide notrim eval",
    "LA_0010 LA_E_1000002 pstn sin_tx A08 spoof notrim eval",
    "LA_0010 LA_E_1000003 g722 loc_tx - bonafide notrim eval",
    "LA_0011 LA_E_1000004 gsm mad_tx A09 spoof notrim progress",
    "LA_0011 LA_E_1000005 opus ita_tx - bonafide trim hidden",
]


def la21_archives(tmp: Path) -> tuple[bytes, bytes]:
    ids = [line.split()[1] for line in LA21_KEYS]
    audio = {f"ASVspoof2021_LA_eval/flac/{u}.flac": _flac_bytes(i, tmp) for i, u in enumerate(ids)}
    audio["ASVspoof2021_LA_eval/ASVspoof2021.LA.cm.eval.trl.txt"] = ("\n".join(ids) + "\n").encode()
    keys = {
        "keys/LA/CM/trial_metadata.txt": ("\n".join(LA21_KEYS) + "\n").encode(),
        "keys/LA/ASV/trial_metadata.txt": b"LA_0009 LA_E_1 alaw ita_tx bonafide target notrim eval\n",
    }
    return _targz(audio), _targz(keys)


def df21_archives(tmp: Path) -> tuple[list[bytes], bytes, list[str]]:
    rows, parts = [], []
    for p in range(4):
        members = {}
        for j in range(2):
            utt = f"DF_E_{2000000 + 2 * p + j}"
            bona = j == 0
            rows.append(
                f"LA_00{p} {utt} {'nocodec' if bona else 'low_mp3'} vcc2020 {'-' if bona else 'A10'} "
                f"{'bonafide' if bona else 'spoof'} notrim {'eval' if p < 3 else 'progress'} "
                f"{'bonafide' if bona else 'neural_vocoder_autoregressive'} - - - -"
            )
            members[f"ASVspoof2021_DF_eval/flac/{utt}.flac"] = _flac_bytes(100 + 2 * p + j, tmp)
        parts.append(_targz(members))
    keys = _targz({"keys/DF/CM/trial_metadata.txt": ("\n".join(rows) + "\n").encode()})
    return parts, keys, rows


def itw_zip(tmp: Path) -> bytes:
    members = {"release_in_the_wild/meta.csv": b"file,speaker,label\n0.wav,Alec Guinness,spoof\n"
               b"1.wav,Alec Guinness,bona-fide\n2.wav,Ayn Rand,bona-fide\n"}  # fmt: skip
    for i in range(3):
        p = tmp / f"_{i}.wav"
        write_audio(p, (0.1 * np.random.default_rng(i).standard_normal(1600)).astype(np.float32), 16000)
        members[f"release_in_the_wild/{i}.wav"] = p.read_bytes()
        p.unlink()
    return _zip(members)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# -------------------------------------------------------------------------------------------------
# download
# -------------------------------------------------------------------------------------------------


def test_dropped_connection_resumes_to_identical_file(server, tmp_path):
    body = np.random.default_rng(0).bytes(300_000)
    server.files["big.bin"] = body
    server.drop_once["big.bin"] = 120_000
    out = dl.download(server.url("big.bin"), tmp_path / "big.bin", chunk_bytes=16_384, progress=False)
    assert out.read_bytes() == body
    assert server.requests == [("big.bin", None), ("big.bin", "bytes=120000-")]
    assert not (tmp_path / "big.bin.part").exists()


def test_http_error_is_clear_and_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match=r"missing.zip: HTTP 404"):
        dl.download(server.url("missing.zip"), tmp_path / "m.zip", progress=False)
    assert len(server.requests) == 1


def test_unreachable_server_gives_up_after_retries(tmp_path):
    with pytest.raises(DownloadError, match="giving up after 2 retries"):
        dl.download("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", retries=2, timeout_s=2, progress=False)


def test_free_space_checked_before_transfer(server, tmp_path, monkeypatch):
    server.files["LA.zip"] = b"x" * 10_000
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: type("U", (), {"free": 5_000})())
    with pytest.raises(DiskSpaceError, match="needs about"):
        dl.download(server.url("LA.zip"), tmp_path / "LA.zip", progress=False)
    part = tmp_path / "LA.zip.part"
    assert not part.exists() or part.stat().st_size == 0


# -------------------------------------------------------------------------------------------------
# checksums
# -------------------------------------------------------------------------------------------------


def test_wrong_user_checksum_stops_before_extraction(server, tmp_path):
    server.files["LA.zip"] = la19_zip(tmp_path)
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "url": server.url("LA.zip"), "md5": "0" * 32})
    with pytest.raises(ChecksumError, match="corrupt or not the expected one") as err:
        fetch_corpus(cfg, tmp_path / "raw")
    assert md5(server.files["LA.zip"]) in str(err.value)
    assert not (tmp_path / "raw" / "LA").exists() and not (tmp_path / "raw" / ".staging").exists()


def test_third_party_checksum_mismatch_says_unofficial_and_how_to_override(server, tmp_path):
    server.files["LA.zip"] = la19_zip(tmp_path)
    cfg = parse_corpus(
        "la19", {"type": "asvspoof2019_la", "url": server.url("LA.zip")}
    )  # default third-party MD5
    with pytest.raises(ChecksumError) as err:
        fetch_corpus(cfg, tmp_path / "raw")
    msg = str(err.value)
    assert "third-party" in msg and "--md5" in msg and md5(server.files["LA.zip"]) in msg
    assert not (tmp_path / "raw" / "LA").exists()
    # overriding with the computed MD5 verifies the already-downloaded file without a new transfer
    n = len(server.requests)
    fixed = parse_corpus(
        "la19", {"type": "asvspoof2019_la", "url": server.url("LA.zip"), "md5": md5(server.files["LA.zip"])}
    )
    summary = fetch_corpus(fixed, tmp_path / "raw")
    assert len(server.requests) == n and summary["archives"][0]["checksum_source"] == "user"


# -------------------------------------------------------------------------------------------------
# safe extraction
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/sdd_evil_abs.txt", "ok/../../evil.txt", "C:/evil.txt"])
def test_zip_slip_rejected_and_nothing_written(tmp_path, name):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"good/first.txt": b"1", name: b"pwned"}))
    target = tmp_path / "box" / "target"
    with pytest.raises(UnsafeArchiveError, match="refusing to extract"):
        dl.safe_extract(archive, target)
    assert not list(target.rglob("*"))  # zip: checked before anything is written
    assert not (tmp_path / "box" / "evil.txt").exists() and not Path("/tmp/sdd_evil_abs.txt").exists()


@pytest.mark.parametrize(
    "links",
    [
        {"ASV/../../evil.txt": (tarfile.REGTYPE, "")},
        {"link": (tarfile.SYMTYPE, "/etc")},
        {"link": (tarfile.SYMTYPE, "../../outside")},
        {"hard": (tarfile.LNKTYPE, "../outside.txt")},
    ],
)
def test_tar_traversal_and_outside_links_rejected(tmp_path, server, links):
    bad = _targz(
        {"ASVspoof2021_LA_eval/flac/a.flac": b"x"},
        links={k: v for k, v in links.items() if v[0] != tarfile.REGTYPE},
    )
    if any(v[0] == tarfile.REGTYPE for v in links.values()):
        bad = _targz({"ASVspoof2021_LA_eval/flac/a.flac": b"x", **{k: b"pwned" for k in links}})
    server.files["LA-keys-full.tar.gz"] = bad
    la21_audio, _ = la21_archives(tmp_path)
    server.files["ASVspoof2021_LA_eval.tar.gz"] = la21_audio
    cfg = parse_corpus("la21", {"type": "asvspoof2021_la", "url": server.url("ASVspoof2021_LA_eval.tar.gz"),
                                "keys_url": server.url("LA-keys-full.tar.gz"),
                                "keys_md5": md5(bad)})  # fmt: skip
    dest = tmp_path / "box" / "raw"
    with pytest.raises(UnsafeArchiveError, match="refusing to extract"):
        fetch_corpus(cfg, dest)
    # nothing outside dest, nothing moved into place inside it
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == ["raw"]
    assert not (dest / "ASVspoof2021_LA_eval").exists() and not (dest / ".staging").exists()


# -------------------------------------------------------------------------------------------------
# corpora end to end over HTTP
# -------------------------------------------------------------------------------------------------


def test_cli_fetch_2019_la_then_prepare_and_rerun_is_noop(server, tmp_path, capsys):
    """Acceptance: `sdd fetch asvspoof2019_la --dest DIR --url .../LA.zip --md5 MD5`, then prepare."""
    data = la19_zip(tmp_path)
    server.files["LA.zip"] = data
    server.drop_once["LA.zip"] = len(data) // 2
    dest = tmp_path / "raw" / "la19"
    argv = ["asvspoof2019_la", "--dest", str(dest), "--url", server.url("LA.zip"), "--md5", md5(data),
            "--params", str(tmp_path / "no_params.yaml")]  # fmt: skip
    assert cli_main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == 12 and summary["archives"][0]["md5"] == md5(data)
    assert (
        summary["archives"][0]["verified"] == ["md5"] and summary["archives"][0]["checksum_source"] == "user"
    )
    assert (dest / "LA" / "README.LA.txt").is_file() and not (dest / ".downloads").exists()  # archive removed
    assert [r[1] for r in server.requests] == [None, f"bytes={len(data) // 2}-"]  # resumed once

    marker = (dest / dl.MARKER).read_bytes()
    assert cli_main(argv) == 0 and len(server.requests) == 2  # rerun: no request at all
    assert json.loads(capsys.readouterr().out) == summary and (dest / dl.MARKER).read_bytes() == marker

    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "url": server.url("LA.zip"), "md5": md5(data)})
    out = prepare_corpus(cfg, dest, tmp_path / "manifests", workers=1)
    assert {s: len(df) for s, df in out.items()} == {"train": 4, "dev": 4, "eval": 4}
    ev = pd.read_csv(tmp_path / "manifests" / "eval.csv", keep_default_na=False)
    assert ev["attack"].tolist() == ["-", "-", "A07", "A08"] and set(ev["condition"]) == {"-"}


def test_cli_rejects_unknown_corpus(tmp_path, capsys):
    assert cli_main(["nonsense", "--dest", str(tmp_path), "--params", str(tmp_path / "none.yaml")]) == 1
    assert "neither a corpus type" in capsys.readouterr().err


@pytest.mark.parametrize(
    "data,needles",
    [
        (b"corpora:\n  la19: {type: folder}\ncorpora: {}\n", ["corpora: written twice, on lines 1 and 3"]),
        (b"corpora: [1, 2\n", ["not readable YAML (not valid YAML: line 2"]),
        (b"corpora: [la19]\n", ["a `corpora` mapping of corpus names, got list"]),
        (b"corpora: {la19: 3}\n", ["corpora.la19 is 3; expected a mapping"]),
        ("corpora: {}\n".encode("utf-16-le"), ["NUL characters", "UTF-16"]),
    ],
    ids=["key-twice", "not-yaml", "corpora-a-list", "entry-a-number", "utf16-without-mark"],
)
def test_cli_refuses_a_bad_params_file_in_one_line_naming_it(tmp_path, capsys, data, needles):
    params = tmp_path / "params.yaml"
    params.write_bytes(data)
    assert cli_main(["la19", "--dest", str(tmp_path / "raw"), "--params", str(params)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sdd fetch: error: --params {params}: ") and err.count("\n") == 1, err
    assert all(n in err for n in needles), err
    assert not (tmp_path / "raw").exists()


def test_2021_la_audio_plus_official_keys_and_subsets(server, tmp_path):
    audio, keys = la21_archives(tmp_path)
    server.files.update({"ASVspoof2021_LA_eval.tar.gz": audio, "LA-keys-full.tar.gz": keys})
    base = {"type": "asvspoof2021_la", "url": server.url("ASVspoof2021_LA_eval.tar.gz"),
            "keys_url": server.url("LA-keys-full.tar.gz")}  # fmt: skip
    # the default keys MD5 is the official one: our fixture does not match it, and the error says so
    with pytest.raises(ChecksumError, match="official checksum"):
        fetch_corpus(parse_corpus("la21", base), tmp_path / "raw")
    cfg = parse_corpus("la21", {**base, "keys_md5": md5(keys)})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    audio_rec, keys_rec = summary["archives"]
    assert audio_rec["checksum_source"] == "none" and audio_rec["sha256"] == hashlib.sha256(audio).hexdigest()
    assert keys_rec["verified"] == ["md5"] and summary["files"] == 6
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)["eval"]
    assert out["utt_id"].tolist() == [f"LA_E_100000{i}" for i in range(4)]
    assert out["condition"].tolist() == ["alaw", "none", "pstn", "g722"]
    assert out["transmission"].tolist() == ["ita_tx", "-", "sin_tx", "loc_tx"]
    assert out["attack"].tolist() == ["A07", "-", "A08", "-"]
    progress = parse_corpus("la21", {**base, "keys_md5": md5(keys), "subset": "progress"})
    assert prepare_corpus(progress, tmp_path / "raw", tmp_path / "p", workers=1)["progress"][
        "utt_id"
    ].tolist() == ["LA_E_1000004"]


def test_2021_df_four_parts_merge_and_rerun_is_noop(server, tmp_path):
    parts, keys, rows = df21_archives(tmp_path)
    names = [f"ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)]
    server.files.update(dict(zip(names, parts, strict=True)))
    server.files["DF-keys-full.tar.gz"] = keys
    cfg = parse_corpus("df21", {"type": "asvspoof2021_df", "urls": [server.url(n) for n in names],
                                "md5s": [md5(p) for p in parts],
                                "keys_url": server.url("DF-keys-full.tar.gz"),
                                "keys_md5": md5(keys)})  # fmt: skip
    dest = tmp_path / "raw"
    summary = fetch_corpus(cfg, dest)
    assert [a["file"] for a in summary["archives"]] == [*names, "DF-keys-full.tar.gz"]
    assert summary["files"] == 8 and len(list((dest / "ASVspoof2021_DF_eval" / "flac").iterdir())) == 8
    n = len(server.requests)
    assert fetch_corpus(cfg, dest) == summary and len(server.requests) == n
    out = prepare_corpus(cfg, dest, tmp_path / "m", workers=1)["eval"]
    assert len(out) == 6  # part 3's trials are in the progress subset
    assert list(out.columns[-3:]) == ["compression", "source", "vocoder"]
    assert set(out["condition"]) == {"nocodec", "low_mp3"} and set(out["source"]) == {"vcc2020"}


def test_multipart_failure_resumes_without_refetching_finished_parts(server, tmp_path):
    parts, keys, _ = df21_archives(tmp_path)
    names = [f"ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)]
    # part 2 missing at first
    server.files.update({n: p for n, p in zip(names, parts, strict=True) if n != names[2]})
    server.files["DF-keys-full.tar.gz"] = keys
    cfg = parse_corpus("df21", {"type": "asvspoof2021_df", "urls": [server.url(n) for n in names],
                                "keys_url": server.url("DF-keys-full.tar.gz"),
                                "keys_md5": md5(keys)})  # fmt: skip
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError, match="part02.tar.gz: HTTP 404"):
        fetch_corpus(cfg, dest)
    assert not (dest / "ASVspoof2021_DF_eval").exists()  # nothing in place until every part is in
    server.files[names[2]] = parts[2]
    server.requests.clear()
    summary = fetch_corpus(cfg, dest)
    assert [r[0] for r in server.requests] == [names[2], names[3], "DF-keys-full.tar.gz"]
    assert summary["files"] == 8 and [a["file"] for a in summary["archives"]][:2] == names[:2]
    assert not (dest / ".staging").exists() and not (dest / ".downloads").exists()


def test_in_the_wild_zip_without_checksum_records_sha256(server, tmp_path, caplog):
    data = itw_zip(tmp_path)
    server.files["release_in_the_wild.zip"] = data
    cfg = parse_corpus("itw", {"type": "in_the_wild", "url": server.url("release_in_the_wild.zip")})
    with caplog.at_level("WARNING", logger="sdd.data.download"):
        summary = fetch_corpus(cfg, tmp_path / "raw")
    assert "no checksum is known" in caplog.text
    rec = summary["archives"][0]
    assert rec["checksum_source"] == "none" and rec["sha256"] == hashlib.sha256(data).hexdigest()
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)["eval"]
    labels = out["label"].tolist()
    assert out["utt_id"].tolist() == ["0", "1", "2"] and labels == ["spoof", "bonafide", "bonafide"]
    assert out["attack"].tolist() == ["unknown", "-", "-"] and out["speaker"][2] == "Ayn Rand"


def test_in_the_wild_without_url_or_source_dir_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="no official download URL"):
        fetch_corpus(parse_corpus("itw", {"type": "in_the_wild"}), tmp_path / "raw")


def test_source_dir_is_used_in_place_without_copy(server, tmp_path):
    archive = tmp_path / "LA.zip"
    archive.write_bytes(la19_zip(tmp_path))
    dl.safe_extract(archive, tmp_path / "mine")
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "source_dir": str(tmp_path / "mine")})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    assert summary["files"] == 12 and "in place" in summary["source"] and not (tmp_path / "raw").exists()
    out = prepare_corpus(cfg, tmp_path / "raw", tmp_path / "m", workers=1)
    assert all(p.startswith(str(tmp_path / "mine")) for p in out["train"]["path"])
    assert server.requests == []


def test_data_already_unpacked_into_dest_is_used_without_download(server, tmp_path):
    archive = tmp_path / "LA.zip"
    archive.write_bytes(la19_zip(tmp_path))
    dl.safe_extract(archive, tmp_path / "raw")  # the user unzipped it there by hand
    cfg = parse_corpus("la19", {"type": "asvspoof2019_la", "url": server.url("LA.zip")})
    summary = fetch_corpus(cfg, tmp_path / "raw")
    assert server.requests == [] and summary["source"] == "found in place" and summary["files"] == 12
    assert "unknown" in summary["checksum"]


# -------------------------------------------------------------------------------------------------
# sdd fetch aasist: the published weights
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def aasist_files(shared_dir):
    """The published AASIST-L weights and conf (the smaller variant) as served by the upstream repo."""
    d = shared_dir / "data" / "aasist"
    if not (d / "AASIST-L.pth").is_file():
        pytest.skip(f"needs the published AASIST weights in {d}")
    weights, conf = AASIST_FILES["AASIST-L"]
    return {weights.path: (d / "AASIST-L.pth").read_bytes(), conf.path: (d / "AASIST-L.conf").read_bytes()}


def test_fetch_aasist_from_a_base_url_verifies_and_reruns_as_noop(server, aasist_files, tmp_path, capsys):
    server.files.update({f"mirror/{k}": v for k, v in aasist_files.items()})
    server.drop_once["mirror/models/weights/AASIST-L.pth"] = 100_000
    dest = tmp_path / "weights"
    argv = ["aasist", "--dest", str(dest), "--url", server.url("mirror/"), "--variant", "AASIST-L"]
    assert cli_main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [f["verified"] for f in summary["files"]] == [["sha256"], ["sha256"]]
    assert sorted(p.name for p in dest.iterdir()) == ["AASIST-L.conf", "AASIST-L.pth"]
    for upstream in AASIST_FILES["AASIST-L"]:
        assert hashlib.sha256((dest / upstream.name).read_bytes()).hexdigest() == upstream.sha256
    assert [r for _, r in server.requests] == [None, "bytes=100000-", None]  # the weights resumed once
    assert cli_main(argv) == 0 and len(server.requests) == 3  # already verified: nothing fetched


def test_fetch_aasist_refuses_a_checksum_mismatch_and_leaves_nothing(server, tmp_path, capsys):
    weights, conf = AASIST_FILES["AASIST"]
    server.files[weights.path] = b"not the published weights"
    server.files[conf.path] = b"{}"
    dest = tmp_path / "weights"
    assert cli_main(["aasist", "--dest", str(dest), "--url", server.url("")]) == 1
    err = capsys.readouterr().err
    assert "AASIST.pth: SHA-256 is" in err and f"expected {weights.sha256}" in err and "refused" in err
    assert list(dest.iterdir()) == []  # neither the file nor a .downloads leftover


def test_fetch_aasist_from_a_local_folder_or_file_url(aasist_files, shared_dir, tmp_path, capsys):
    local = shared_dir / "data" / "aasist"
    argv = ["aasist", "--dest", str(tmp_path / "a"), "--url", str(local), "--variant", "AASIST-L"]
    assert cli_main(argv) == 0
    assert (tmp_path / "a" / "AASIST-L.pth").read_bytes() == aasist_files["models/weights/AASIST-L.pth"]
    capsys.readouterr()
    url = (local / "AASIST-L.pth").resolve().as_uri()  # the variant is named by the file
    assert cli_main(["aasist", "--dest", str(tmp_path / "b"), "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["variant"] == "AASIST-L"
    assert cli_main(["aasist", "--dest", str(tmp_path / "c"), "--url", url, "--variant", "AASIST"]) == 1
    assert "names the AASIST-L weights but --variant is AASIST" in capsys.readouterr().err
