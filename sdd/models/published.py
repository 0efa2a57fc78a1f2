"""The published AASIST weights (Jung et al., ICASSP 2022): fetch them, verified, and load them.

- :func:`fetch_aasist` (``sdd fetch aasist``, :func:`fetch_cli`) downloads ``AASIST.pth`` /
  ``AASIST-L.pth`` and their ``.conf`` from github.com/clovaai/aasist at a pinned commit, through
  :mod:`sdd.data.download` (resume, retries), and checks each file against its pinned SHA-256 before
  it is moved into place: a mismatch is refused and leaves no file behind. A base URL, a direct
  ``.pth`` URL, a ``file://`` URL or a local file or folder can replace the upstream source.
- :func:`load_aasist` builds :class:`sdd.models.aasist.AASIST` from a ``.conf`` and loads the
  ``.pth`` with ``torch.load(..., weights_only=True)`` and ``strict=True``.
- the pinned files, :func:`~sdd.models.published_spec.resolve_aasist` and the plan's record of a
  scoring-only arm's files are in :mod:`sdd.models.published_spec`, which neither downloads nor
  imports torch (the plan stage imports it, not this module).

The official weights were trained on ASVspoof 2019 LA train (MIT licence, NAVER Corp.). This module
imports torch only when loading, so ``sdd fetch`` stays light.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sdd.core.configbase import ConfigError, build
from sdd.core.paths import display_path, repo_root
from sdd.data.download import Archive, ChecksumError, FetchError, download, file_digests, verify_archive
from sdd.models.published_spec import AASIST_FILES, UPSTREAM_COMMIT, VARIANTS, UpstreamFile, resolve_aasist

if TYPE_CHECKING:
    from sdd.models.aasist import AASIST, AasistConfig

__all__ = [
    "UPSTREAM_BASE",
    "WEIGHTS",
    "fetch_aasist",
    "fetch_cli",
    "load_aasist",
    "read_aasist_conf",
]

log = logging.getLogger(__name__)

UPSTREAM_BASE = f"https://raw.githubusercontent.com/clovaai/aasist/{UPSTREAM_COMMIT}/"


# --------------------------------------------------------------------------------------------------
# Fetch
# --------------------------------------------------------------------------------------------------


def _local_path(source: str) -> Path | None:
    """The local path named by ``source`` (a ``file://`` URL or a plain path), or None for a URL."""
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        raise FetchError(
            f"--url {source}: unsupported scheme {parsed.scheme!r}; expected http(s), file or a path"
        )
    return Path(source).expanduser()


def _sources(source: str | None, variant: str) -> list[str]:
    """The URLs of the variant's weights and conf, in :data:`AASIST_FILES` order.

    ``None``: the pinned upstream commit. A URL ending in ``.pth``: that file, with its ``.conf``
    beside it (same stem). Any other http(s) URL: a base laid out as the upstream repository
    (``<base>/models/weights/<variant>.pth``, ``<base>/config/<variant>.conf``). A local ``.pth``
    (path or ``file://``): that file and its ``.conf`` beside it. A local folder: the flat layout
    (``<dir>/<variant>.pth`` + ``.conf``, as ``sdd fetch`` writes it) or the upstream layout.
    """
    files = AASIST_FILES[variant]
    if source is None:
        return [UPSTREAM_BASE + f.path for f in files]
    local = _local_path(source)
    if local is None:
        parsed = urllib.parse.urlparse(source)
        if parsed.path.endswith(".pth"):
            return [source, parsed._replace(path=parsed.path[: -len(".pth")] + ".conf").geturl()]
        base = source if source.endswith("/") else source + "/"
        return [base + f.path for f in files]
    if local.is_file():
        if local.suffix != ".pth":
            raise FetchError(f"{local}: expected the .pth weights file (its .conf beside it) or a folder")
        return [local.resolve().as_uri(), local.resolve().with_suffix(".conf").as_uri()]
    if local.is_dir():
        layouts = [[local / f.name for f in files], [local / f.path for f in files]]
        for paths in layouts:
            if paths[0].is_file():
                return [p.resolve().as_uri() for p in paths]
        tried = ", ".join(str(paths[0]) for paths in layouts)
        raise FetchError(f"{local}: no {variant} weights in this folder (looked for {tried})")
    raise FetchError(f"{local}: no such file or folder")


def _fetch_one(url: str, file: UpstreamFile, dest: Path, name: str) -> dict[str, Any]:
    """Download ``url`` to ``dest/name`` via ``dest/.downloads``; moved into place only once verified."""
    target = dest / name
    pinned = f"the pinned SHA-256 of {file.path} at clovaai/aasist@{UPSTREAM_COMMIT[:7]}"
    if target.is_file():
        found = file_digests(target)["sha256"]
        if found != file.sha256:
            raise ChecksumError(
                f"{target}: already there but its SHA-256 is {found}, expected {file.sha256} ({pinned}); "
                "delete it and fetch again"
            )
        log.info("%s: already fetched and verified", target)
        return {"file": name, "url": url, "sha256": found, "source": "already in place"}
    local = _local_path(url)
    if local is not None and not local.is_file():
        raise FetchError(f"{local}: no such file (needed for {name})")
    part = dest / ".downloads" / name
    log.info("downloading %s -> %s", url, target)
    download(url, part)
    found = file_digests(part)["sha256"]
    if found != file.sha256:
        part.unlink()
        raise ChecksumError(
            f"{url}: SHA-256 is {found}, expected {file.sha256} ({pinned}); refused, {target} was not written"
        )
    archive = Archive(url=url, filename=name, sha256=file.sha256, checksum_source="official")
    record = verify_archive(part, archive)  # the summary record (the digest was checked above)
    os.replace(part, target)
    return record


def _variant(variant: str | None, source: str | None) -> str:
    """``variant``, else the stem of a ``.pth`` source when it names one, else ``AASIST``."""
    path = PurePosixPath(urllib.parse.urlparse(source).path) if source else None
    named = path.stem if path is not None and path.suffix == ".pth" and path.stem in AASIST_FILES else None
    if variant is None:
        return named or "AASIST"
    if variant not in AASIST_FILES:
        raise FetchError(f"--variant {variant!r}: expected one of {list(VARIANTS)}")
    if named is not None and named != variant:
        raise FetchError(f"--url {source} names the {named} weights but --variant is {variant}")
    return variant


def fetch_aasist(dest: Path, variant: str | None = None, source: str | None = None) -> dict[str, Any]:
    """Fetch one variant's weights and conf into ``dest`` (``<variant>.pth``, ``<variant>.conf``).

    Idempotent: verified files already in ``dest`` are kept. Every file is checked against its pinned
    SHA-256, whatever the source.

    Args:
        dest: target folder (created).
        variant: ``AASIST`` or ``AASIST-L``; ``None``: named by a ``.pth`` source, else ``AASIST``.
        source: see :func:`_sources`; ``None`` downloads from the pinned upstream commit.

    Raises:
        ChecksumError: a file does not match its pinned SHA-256 (nothing is left in ``dest`` for it).
        FetchError: bad variant or source, or the download failed.
    """
    variant = _variant(variant, source)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    names = [f"{variant}.pth", f"{variant}.conf"]
    try:
        todo = zip(_sources(source, variant), AASIST_FILES[variant], names, strict=True)
        records = [_fetch_one(url, file, dest, name) for url, file, name in todo]
    finally:
        downloads = dest / ".downloads"
        if downloads.is_dir() and not any(downloads.iterdir()):
            downloads.rmdir()
    return {"variant": variant, "dest": display_path(dest), "commit": UPSTREAM_COMMIT, "files": records}


def fetch_cli(argv: list[str]) -> int:
    """``sdd fetch aasist [--dest DIR] [--url URL] [--variant AASIST|AASIST-L]``."""
    from sdd.core.cliargs import Parser

    parser = Parser(
        prog="sdd fetch aasist",
        description="Download the published AASIST weights and config, verified against pinned SHA-256s.",
        epilog="examples:\n"
        "  sdd fetch aasist                                   # AASIST -> data/published/aasist/\n"
        "  sdd fetch aasist --variant AASIST-L --url ../shared/data/aasist   # from a local copy\n"
        "  sdd score --model aasist:data/published/aasist clip.flac          # then score with it\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dest", type=Path, help="target folder (default: <repo root>/data/published/aasist)"
    )
    parser.add_argument(
        "--url",
        help="instead of the pinned upstream: a base URL laid out as the repository, a .pth URL (its .conf "
        "beside it), a file:// URL, or a local .pth file or folder (e.g. ../shared/data/aasist)",
    )
    parser.add_argument(
        "--variant", choices=VARIANTS, help="default: the one a .pth --url names, else AASIST"
    )
    args = parser.parse_args(argv)
    dest = (args.dest or repo_root() / "data" / "published" / "aasist").resolve()
    try:
        summary = fetch_aasist(dest, args.variant, args.url)
    except (FetchError, OSError) as exc:
        print(f"sdd fetch aasist: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=1))
    return 0


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


def read_aasist_conf(conf: Path) -> AasistConfig:
    """The ``model_config`` of an official ``.conf`` (JSON) as :class:`AasistConfig`; errors name the file."""
    from sdd.models.aasist import AasistConfig

    try:
        doc = json.loads(Path(conf).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{conf}: not a JSON AASIST config ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("model_config"), dict):
        raise ConfigError(f"{conf}: no `model_config` mapping; expected an AASIST .conf (JSON)")
    try:
        return build(AasistConfig, doc["model_config"], "model_config")
    except ConfigError as exc:
        raise ConfigError(f"{conf}: {exc}") from exc


def load_aasist(path: str | os.PathLike[str]) -> tuple[AASIST, AasistConfig]:
    """Build AASIST from the ``.conf`` and load the ``.pth`` (``weights_only=True``, ``strict=True``).

    Args:
        path: see :func:`resolve_aasist`.

    Returns:
        ``(model in eval mode, config)``; ``config.nb_samp`` is the input length the model was
        evaluated with.

    Raises:
        ValueError: the file is not a loadable checkpoint or does not match the config (the message
            names both files and torch's list of missing/unexpected keys or shape mismatches).
    """
    import torch

    from sdd.models.aasist import AASIST

    weights, conf = resolve_aasist(path)
    config = read_aasist_conf(conf)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors vary; weights_only refuses anything but tensors
        raise ValueError(f"{weights}: cannot load as a weights-only torch checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise ValueError(
            f"{weights}: expected a state_dict (a mapping of tensors), got {type(state).__name__}"
        )
    model = AASIST(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights}: does not match the AASIST built from {conf}: {exc}") from exc
    sha = file_digests(weights)["sha256"]
    published = {f.sha256: v for v, (f, _) in AASIST_FILES.items()}
    log.info("%s: %s (sha256 %s)", weights,
             f"the published {published[sha]} weights" if sha in published else "not the published weights",
             sha)  # fmt: skip
    return model.eval(), config


#: Published model weights by name -> their fetch command (``argv`` after the name -> exit code); the
#: ``sdd fetch`` command looks names up here before corpora (:func:`sdd.data.fetch.cli_main`).
WEIGHTS: dict[str, Callable[[list[str]], int]] = {"aasist": fetch_cli}
