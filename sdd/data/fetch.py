"""The ``sdd fetch`` command: fetch one corpus by type or by its name in params.yaml, or published
model weights by name.

``sdd fetch <corpus> [--dest DIR] [--url URL] [--md5 MD5] [--sha256 SHA] [--source-dir DIR]`` builds
the corpus config (params.yaml entry + command-line overrides) and calls
:func:`sdd.data.fetchers.fetch_corpus`, which dispatches to the corpus type's fetch step; they download
through :mod:`sdd.data.download`. Manifests are the prepare stage's job.

``sdd fetch aasist [--dest DIR] [--url URL] [--variant AASIST|AASIST-L]`` fetches the published
AASIST weights: the ``sdd`` command passes the models package's registry of published weights
(:data:`sdd.models.published.WEIGHTS`, which downloads through the same module) as ``weights``, so
this data module never imports the models package. A weights name takes precedence over a corpus of
the same name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sdd.core.cliargs import Parser
from sdd.core.configbase import ConfigError
from sdd.core.paths import repo_root
from sdd.core.textfile import TextEncodingError
from sdd.core.yamlfile import read_yaml
from sdd.data.corpora import CORPUS_TYPES, CorpusError, parse_corpus
from sdd.data.download import FetchError
from sdd.data.fetchers import fetch_corpus

__all__ = ["cli_main"]


def _corpus_entry(corpus: str, params_path: Path) -> dict[str, Any]:
    if params_path.is_file():
        try:
            params = read_yaml(params_path) or {}  # as the plan reads it (YAML 1.2, keys once)
        except (TextEncodingError, ConfigError) as exc:
            raise FetchError(
                f"--params {params_path}: not readable YAML ({' '.join(str(exc).split())})"
            ) from None
        entries = params.get("corpora") if isinstance(params, dict) else None
        if not isinstance(params, dict) or not isinstance(entries or {}, dict):
            raise FetchError(
                f"--params {params_path}: expected a mapping with a `corpora` mapping of corpus names, "
                f"got {type(params if not isinstance(params, dict) else entries).__name__}"
            )
        entries = entries or {}
        if corpus in entries:
            if not isinstance(entries[corpus], dict):
                raise FetchError(
                    f"--params {params_path}: corpora.{corpus} is {entries[corpus]!r}; expected a mapping"
                )
            return dict(entries[corpus])
    if corpus in CORPUS_TYPES:
        return {"type": corpus}
    raise FetchError(
        f"corpus {corpus!r}: neither a corpus type ({sorted(CORPUS_TYPES)}) nor a name under `corpora` "
        f"in {params_path}"
    )


EXAMPLES = """\
examples:
  # a corpus named in params.yaml, into data/raw/la19 (download, checksum, safe extraction)
  sdd fetch la19

  # your existing copy, used in place; or a mirror with its checksum
  sdd fetch la19 --source-dir /data/ASVspoof2019/LA
  sdd fetch itw --url https://example.org/release_in_the_wild.zip --md5 0123456789abcdef0123456789abcdef

  # the published AASIST weights (see `sdd fetch aasist --help`)
  sdd fetch aasist
"""


def cli_main(argv: list[str], weights: Mapping[str, Callable[[list[str]], int]] | None = None) -> int:
    """``sdd fetch <corpus> --dest DIR [--url URL] [--md5 MD5] [--sha256 SHA] [--source-dir DIR]``, or
    ``sdd fetch <weights> ...`` for a name in ``weights`` (published weights by name -> their fetch
    command, given ``argv`` after the name; the ``sdd`` command passes
    :data:`sdd.models.published.WEIGHTS`)."""
    weights = weights or {}
    if argv and argv[0] in weights:
        return weights[argv[0]](argv[1:])
    parser = Parser(
        prog="sdd fetch",
        description="Download, verify and extract a corpus (manifests are the prepare stage's job). "
        + (f" Published weights: `sdd fetch {{{','.join(weights)}}} --help`." if weights else ""),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "corpus", help="a corpus type (e.g. asvspoof2019_la) or a corpus name from params.yaml"
    )
    parser.add_argument(
        "--dest", type=Path, help="raw-data directory (default: <repo root>/data/raw/<corpus>)"
    )
    parser.add_argument(
        "--url", action="append", help="archive URL (repeat for multi-part corpora, in order)"
    )
    parser.add_argument(
        "--md5", action="append", help="expected MD5 (repeat per --url for multi-part corpora)"
    )
    parser.add_argument("--sha256", help="expected SHA-256 of a single-archive corpus")
    parser.add_argument("--source-dir", help="use an existing copy in place instead of downloading")
    parser.add_argument(
        "--params", type=Path, help="params file to look corpus names up in (default: repo params.yaml)"
    )
    args = parser.parse_args(argv)
    try:
        entry = _corpus_entry(args.corpus, args.params or repo_root() / "params.yaml")
        multi = entry.get("type") == "asvspoof2021_df"
        if args.url:
            if multi:
                entry["urls"] = list(args.url)
            elif len(args.url) > 1:
                raise FetchError(
                    f"--url given {len(args.url)} times; {entry.get('type')} takes one archive URL"
                )
            else:
                entry["url"] = args.url[0]
        if args.md5:
            if multi:
                entry["md5s"] = list(args.md5)
            elif len(args.md5) > 1:
                raise FetchError(f"--md5 given {len(args.md5)} times; {entry.get('type')} takes one checksum")
            else:
                entry["md5"] = args.md5[0].lower()
        if args.sha256:
            entry["sha256"] = args.sha256.lower()
        if args.source_dir:
            entry["source_dir"] = str(Path(args.source_dir).resolve())
        cfg = parse_corpus(args.corpus, entry)
        dest = (args.dest or repo_root() / "data" / "raw" / args.corpus).resolve()
        summary = fetch_corpus(cfg, dest)
    except (FetchError, CorpusError, ConfigError, OSError) as exc:
        print(f"sdd fetch: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=1))
    return 0
