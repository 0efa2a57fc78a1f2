"""Download, verify and safely extract corpus archives: the one place every corpus recipe fetches
through (the recipes are in :mod:`sdd.data.corpora`; the ``sdd fetch`` command is :mod:`sdd.data.fetch`).

- :func:`download` streams over HTTP(S) into ``<file>.part`` with resume (``Range``), retries with
  exponential backoff, a tqdm progress bar and a free-disk-space check before the transfer starts;
  the file is renamed into place only once complete.
- :func:`verify_archive` computes MD5 and SHA-256 in one pass and enforces the expected checksum:
  an official one (organisers' figure), a third-party one (a mismatch says it is unofficial and how to
  override it), a user-given one, or none (the computed SHA-256 is recorded and logged).
- :func:`safe_extract` unpacks zip and tar(.gz) archives after checking every member: absolute
  paths, ``..`` components and links pointing outside the target are rejected.
- :func:`fetch_archives` ties them together: one or more archives (multi-part corpora such as
  ASVspoof 2021 DF are several complete ``.tar.gz`` files) are extracted into a staging directory
  whose contents move into place only when every archive is in (a rerun after a failure skips the
  archives already extracted), and a marker records what was fetched so a rerun on complete data
  does nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import lzma
import os
import re
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from sdd.core import atomic, faults
from sdd.core.paths import display_path

__all__ = [
    "MARKER",
    "Archive",
    "ChecksumError",
    "DiskSpaceError",
    "DownloadError",
    "FetchError",
    "UnsafeArchiveError",
    "download",
    "fetch_archives",
    "file_digests",
    "read_marker",
    "replace_dir",
    "safe_extract",
    "url_filename",
    "verify_archive",
    "write_marker",
]

log = logging.getLogger(__name__)

#: File written into a fetched directory recording what was fetched (its summary and fingerprint).
MARKER = ".sdd_fetch.json"

_RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(RuntimeError):
    """Fetching a corpus failed (the message says which file/URL and why)."""


class DownloadError(FetchError):
    """A download failed for good (HTTP error, retries exhausted)."""


class ChecksumError(FetchError):
    """A downloaded file does not match its expected checksum."""


class UnsafeArchiveError(FetchError):
    """An archive member would be written outside the target (absolute path, ``..``, outside link)."""


class DiskSpaceError(FetchError):
    """Not enough free disk space for the download and its extraction."""


ChecksumSource = Literal["official", "third-party", "user", "none"]


@dataclass(frozen=True)
class Archive:
    """One file to download and extract.

    Attributes:
        url: http(s) URL (``file://`` works too).
        filename: name of the downloaded file.
        md5 / sha256: expected lower-case hex digests, or ``None``.
        checksum_source: where the expected digest comes from: ``official`` (the organisers),
            ``third-party`` (unverified figure; a mismatch says so), ``user`` (given in params or on
            the command line) or ``none``.
        size: expected size in bytes when known (a mismatch is logged, not fatal: sizes are
            third-party figures).
        override_hint: how a user overrides a third-party checksum (shown on mismatch).
    """

    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    checksum_source: ChecksumSource = "none"
    size: int | None = None
    override_hint: str = "set the checksum for this corpus in params.yaml (or pass --md5 to `sdd fetch`)"


def url_filename(url: str, default: str | None = None) -> str:
    """The last path component of ``url`` (query string ignored), e.g. ``LA.zip``."""
    name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if name:
        return name
    if default is None:
        raise FetchError(f"{url}: cannot tell a file name from this URL")
    return default


# --------------------------------------------------------------------------------------------------
# Markers and directory moves
# --------------------------------------------------------------------------------------------------


def read_marker(dest: Path) -> dict | None:
    """The marker written by a complete fetch into ``dest``, or None."""
    path = Path(dest) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("%s: unreadable fetch marker; treating the data as incomplete", path)
        return None


def write_marker(dest: Path, fingerprint: dict, summary: dict) -> None:
    """Atomically write the completion marker (fingerprint of the request + the summary)."""
    text = json.dumps({"fingerprint": fingerprint, "summary": summary}, indent=1)
    atomic.write_text(Path(dest) / MARKER, text)


def replace_dir(src: Path, dest: Path) -> None:
    """Move the complete directory ``src`` to ``dest``, replacing an older ``dest`` (same filesystem)."""
    src, dest = Path(src), Path(dest)
    trash = None
    if dest.exists():
        trash = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(dest, trash)
    os.replace(src, dest)
    if trash is not None:
        shutil.rmtree(trash)


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------


def _check_disk_space(folder: Path, needed: int, what: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DiskSpaceError(
            f"{folder}: {free / 1e9:.2f} GB free but {what} needs about {needed / 1e9:.2f} GB "
            "(download + extraction); free some space or choose another --dest"
        )


def _total_from_content_range(value: str | None) -> int | None:
    m = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", value or "")
    return int(m.group(1)) if m else None


def _write_part(f: Any, buf: bytes, part: Path, url: str) -> None:
    """Write one chunk; a failing write (full disk, quota, file-size limit) becomes one clear error.

    The bytes written so far stay in ``<file>.part`` (resumed with a Range request by the next run);
    the final name appears only once the whole file is in."""
    view = memoryview(buf)
    try:
        while view:  # unbuffered: a short write is retried, a failing one raises here, not at close()
            view = view[f.write(view) :]
    except OSError as exc:
        raise DiskSpaceError(
            f"{part}: writing the download of {url} failed ({exc.strerror or exc}); the partial file is kept "
            f"and the next run resumes it: free some space (or choose another --dest) and run again"
        ) from exc


def download(
    url: str,
    path: Path,
    *,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    expected_size: int | None = None,
    extraction_factor: float = 1.0,
    chunk_bytes: int = 1 << 20,
    progress: bool = True,
) -> Path:
    """Stream ``url`` to ``path``, resuming a partial ``path.part`` with an HTTP Range request.

    Args:
        url: the file to fetch.
        path: destination; written as ``<path>.part`` and renamed when complete. An existing ``path``
            is taken as complete and returned at once.
        retries: consecutive failed attempts (no byte received) tolerated before giving up.
        backoff_s: first wait between attempts; doubles each time (capped at 60 s).
        timeout_s: socket timeout per connection.
        expected_size: published size in bytes, if any (a different size is logged).
        extraction_factor: free space required beyond the download, as a multiple of the file size
            (1.0: the extracted data is about as large as the archive, true for FLAC/WAV corpora).
        chunk_bytes: read size.
        progress: show a tqdm bar (tqdm hides it when stderr is not a terminal).

    Raises:
        DownloadError: HTTP error or retries exhausted (the message names the URL and the reason).
        DiskSpaceError: not enough free space, checked before the transfer starts.
    """
    from tqdm import tqdm  # lazy: only the fetch stage needs it

    path = Path(path)
    if path.is_file():
        return path
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    failures, attempts = 0, 0
    while True:
        attempts += 1
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "sdd-fetch", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        received = 0
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                status = getattr(resp, "status", 200)
                length = resp.headers.get("Content-Length")
                if have and status == 206:
                    total = _total_from_content_range(resp.headers.get("Content-Range"))
                    mode = "ab"
                    log.info("%s: resuming at byte %d", url, have)
                else:
                    if have:
                        log.info("%s: server ignored the Range request; restarting from byte 0", url)
                    have, mode = 0, "wb"
                    total = int(length) if length is not None else None
                if total is not None and expected_size is not None and total != expected_size:
                    log.warning(
                        "%s: server reports %d bytes, the published size is %d", url, total, expected_size
                    )
                size_hint = total if total is not None else expected_size
                if size_hint is not None:
                    needed = int((size_hint - have) + extraction_factor * size_hint)
                    _check_disk_space(path.parent, needed, path.name)
                # disable=None: tqdm shows the bar on a terminal only.
                bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=path.name,
                           disable=None if progress else True)  # fmt: skip
                with open(part, mode, buffering=0) as f, bar:
                    while True:
                        buf = resp.read(chunk_bytes)
                        if not buf:
                            break
                        _write_part(f, buf, part, url)
                        received += len(buf)
                        bar.update(len(buf))
                        faults.point("fetch:download_chunk")
                size = part.stat().st_size
                if total is not None and size != total:
                    raise http.client.IncompleteRead(b"", total - size)
            os.replace(part, path)
            return path
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:
                total = _total_from_content_range(exc.headers.get("Content-Range"))
                if total == have:
                    os.replace(part, path)
                    return path
                log.warning("%s: partial file of %d bytes is not resumable (HTTP 416); restarting", url, have)
                part.unlink()
            elif exc.code not in _RETRYABLE_HTTP:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
            reason: Exception = exc
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            reason = exc
        failures = 0 if received else failures + 1
        if failures > retries:
            raise DownloadError(
                f"{url}: giving up after {retries} retries without progress (last error: {reason})"
            )
        if attempts > 20 * (retries + 1):  # progress each time but never finishing (e.g. Range ignored)
            raise DownloadError(
                f"{url}: giving up after {attempts} interrupted attempts (last error: {reason})"
            )
        wait = min(backoff_s * 2 ** max(failures - 1, 0), 60.0)
        log.warning("%s: transfer interrupted (%s); retrying in %.1f s", url, reason, wait)
        time.sleep(wait)


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


def file_digests(path: Path, chunk_bytes: int = 1 << 20) -> dict[str, str]:
    """MD5 and SHA-256 of a file in one pass: ``{"md5": hex, "sha256": hex}``."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while buf := f.read(chunk_bytes):
            md5.update(buf)
            sha.update(buf)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def verify_archive(path: Path, archive: Archive) -> dict[str, Any]:
    """Check ``path`` against ``archive``'s expected digests; return a JSON-able record.

    Raises:
        ChecksumError: a digest differs. For a third-party checksum the message says it is unofficial
            and how to override it; for an official or user-given one, that the file is corrupt.
    """
    digests = file_digests(path)
    checked = []
    for algo in ("md5", "sha256"):
        expected = getattr(archive, algo)
        if expected is None:
            continue
        if digests[algo] != expected.lower():
            head = f"{path}: {algo.upper()} is {digests[algo]}, expected {expected}"
            if archive.checksum_source == "third-party":
                raise ChecksumError(
                    f"{head}. The expected value is a third-party figure, not published by the organisers, "
                    f"so the download may be fine: if you trust it, override the checksum "
                    f"({archive.override_hint}) with {digests[algo]}; otherwise delete the file and "
                    "fetch again."
                )
            raise ChecksumError(
                f"{head} ({archive.checksum_source} checksum). The file is corrupt or not the expected one: "
                f"delete {path} and fetch again."
            )
        checked.append(algo)
    if not checked:
        log.warning(
            "%s: no checksum is known for %s; recorded its SHA-256 %s (compare it with a trusted source)",
            path, archive.url, digests["sha256"],
        )  # fmt: skip
    return {
        "file": archive.filename,
        "url": archive.url,
        "bytes": path.stat().st_size,
        "md5": digests["md5"],
        "sha256": digests["sha256"],
        "checksum_source": archive.checksum_source if checked else "none",
        "verified": checked,
    }


# --------------------------------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------------------------------


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _check_name(archive: Path, name: str, target: Path) -> None:
    norm = name.replace("\\", "/")
    parts = PurePosixPath(norm).parts
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} contains '..'; refusing to extract")
    if not _inside(target, target / norm):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would land outside {target}; refusing to extract"
        )


def _progress(iterable: Any, archive: Path, total: int | None = None) -> Any:
    from tqdm import tqdm

    # disable=None: a bar on a terminal only.
    return tqdm(iterable, total=total, unit=" files", desc=f"extract {archive.name}", disable=None)


def _extract_zip(archive: Path, target: Path) -> int:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            _check_name(archive, info.filename, target)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode("utf-8", "replace")
                if link.startswith("/") or not _inside(target, (target / info.filename).parent / link):
                    raise UnsafeArchiveError(
                        f"{archive}: member {info.filename!r} is a link to {link!r} outside the target; "
                        "refusing to extract"
                    )
                raise UnsafeArchiveError(
                    f"{archive}: member {info.filename!r} is a symbolic link; not supported in zip"
                )
        for info in _progress(infos, archive, len(infos)):
            zf.extract(info, target)
    return len(infos)


def _extract_tar(archive: Path, target: Path) -> int:
    n = 0
    with tarfile.open(archive, "r:*") as tf:
        for member in _progress(tf, archive):
            _check_name(archive, member.name, target)
            if member.issym():
                dest = (target / member.name).parent / member.linkname
                if member.linkname.startswith("/") or not _inside(target, dest):
                    raise UnsafeArchiveError(
                        f"{archive}: member {member.name!r} links to {member.linkname!r} outside the target; "
                        "refusing to extract"
                    )
            elif member.islnk():
                if member.linkname.startswith("/") or not _inside(target, target / member.linkname):
                    raise UnsafeArchiveError(
                        f"{archive}: member {member.name!r} hard-links to {member.linkname!r} outside the "
                        "target; "
                        "refusing to extract"
                    )
            elif not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(
                    f"{archive}: member {member.name!r} is a device or FIFO; refusing to extract"
                )
            # The stdlib 'data' filter re-checks paths and links and drops unsafe permission bits.
            tf.extract(member, target, filter="data")
            n += 1
    return n


def safe_extract(archive: Path, target: Path) -> int:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into ``target``, returning the member count.

    Every member is checked first (zip: all before any is written; tar: each before it is written,
    so use a staging ``target`` that is discarded on error, as :func:`fetch_archives` does).

    Raises:
        UnsafeArchiveError: an absolute path, a ``..`` component, a link pointing outside
            ``target``, or a device file.
        FetchError: not a zip or tar archive.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, target)
        if tarfile.is_tarfile(archive):
            return _extract_tar(archive, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O error (disk full, permissions), not a damaged archive
        raise FetchError(
            f"{archive}: the archive is truncated or corrupt ({exc}); delete it and fetch again"
        ) from exc
    raise FetchError(
        f"{archive}: neither a zip nor a tar archive (or one truncated before its index); "
        "delete it and fetch again"
    )


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------


def fetch_archives(
    archives: Sequence[Archive],
    dest: Path,
    *,
    required: Sequence[str],
    keep_archives: bool = False,
    retries: int = 5,
    backoff_s: float = 1.0,
) -> dict[str, Any]:
    """Download, verify and extract ``archives`` into ``dest``; skip when already complete.

    Archives are downloaded into ``dest/.downloads`` and verified before extraction; all are
    extracted into one staging directory (so the parts of a multi-part corpus merge) whose top-level
    entries move into ``dest`` only after every archive is in and every ``required`` path exists.

    Args:
        archives: the files to fetch (one, or the parts of a multi-part corpus plus its keys).
        dest: the corpus's raw-data directory.
        required: paths (relative to ``dest``) that complete data has; their presence plus a matching
            marker means nothing is to be done.
        keep_archives: keep the downloaded archives (default: delete each after extraction, so the
            data is not stored twice).
        retries / backoff_s: see :func:`download`.

    Returns:
        ``{"source": ..., "dest": ..., "archives": [per-archive record]}``.
    """
    dest = Path(dest)
    fingerprint = {
        "archives": [{"file": a.filename, "md5": a.md5, "sha256": a.sha256} for a in archives],
        "required": list(required),
    }
    complete = all((dest / r).exists() for r in required)
    marker = read_marker(dest)
    if complete and marker is not None and marker.get("fingerprint") == fingerprint:
        log.info("%s: already complete; nothing to do", dest)
        return marker["summary"]
    if complete and marker is None:
        log.info("%s: the expected layout is already there (not fetched by sdd); using it in place", dest)
        summary = {
            "source": "found in place",
            "dest": display_path(dest),
            "archives": [],
            "checksum": "unknown: data was already in place, no archive to verify",
        }
        write_marker(dest, fingerprint, summary)
        return summary
    dest.mkdir(parents=True, exist_ok=True)
    downloads = dest / ".downloads"
    # Persistent staging: archives already extracted by an interrupted run (multi-part corpora) are
    # not downloaded again; each has a done-record written only after its extraction completed.
    staging = dest / ".staging"
    records = []
    try:
        for archive in archives:
            done = staging / f".done-{archive.filename}.json"
            wanted = {"url": archive.url, "md5": archive.md5, "sha256": archive.sha256}
            if done.is_file():
                previous = json.loads(done.read_text(encoding="utf-8"))
                if previous.get("wanted") == wanted:
                    log.info("%s: extracted by an earlier run; not fetched again", archive.filename)
                    records.append(previous["record"])
                    continue
            log.info("downloading %s -> %s", archive.url, downloads / archive.filename)
            file = download(archive.url, downloads / archive.filename, retries=retries, backoff_s=backoff_s,
                            expected_size=archive.size)  # fmt: skip
            log.info("verifying %s (%s checksum)", file.name, archive.checksum_source)
            record = verify_archive(file, archive)
            log.info("extracting %s", file.name)
            try:
                record["members"] = safe_extract(file, staging)
            except UnsafeArchiveError:
                shutil.rmtree(staging)  # drop whatever the bad archive wrote before it was caught
                raise
            atomic.write_text(done, json.dumps({"wanted": wanted, "record": record}))
            records.append(record)
            if not keep_archives:
                file.unlink()
        missing = [r for r in required if not (staging / r).exists() and not (dest / r).exists()]
        if missing:
            shutil.rmtree(staging)
            raise FetchError(
                f"{dest}: after extracting {[a.filename for a in archives]} these expected paths are "
                f"missing: {missing} (is this the right archive?)"
            )
        for entry in sorted(staging.iterdir()):
            if entry.name.startswith(".done-"):
                continue
            replace_dir(entry, dest / entry.name) if entry.is_dir() else os.replace(entry, dest / entry.name)
        shutil.rmtree(staging)
        summary = {"source": "download", "dest": display_path(dest), "archives": records}
        write_marker(dest, fingerprint, summary)
    finally:
        if downloads.is_dir() and not any(downloads.iterdir()):
            downloads.rmdir()
    log.info("%s: fetched %d archive(s)", dest, len(records))
    return summary
