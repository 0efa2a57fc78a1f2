"""The ``sdd`` command.

Each subcommand is a function ``(argv: list[str]) -> int`` named ``"module:function"`` (``cli_main`` when
only the module is named); the module is imported only when its subcommand runs, so ``sdd evaluate``
never imports torch. ``sdd fetch`` is composed here, at the top: corpora come from the data package,
published weights from the models package's registry, and neither package imports the other's
command.

Errors: each subcommand turns the project's own error types (bad arguments, files, params, models)
into one line on stderr and exit code 2 (``sdd fetch``: 1) before any model or data is loaded. Here,
at the top: Ctrl-C is one line and exit code 130; a closed stdout (``sdd score ... | head``) ends
quietly; anything else escaping a subcommand is a bug in sdd, reported as one ``internal error``
line with exit code 70, the traceback written to a log file the line names (``sdd --debug <command>``
or ``SDD_DEBUG=1`` lets it through instead).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
import tempfile
import threading
import traceback
from typing import NoReturn

# name -> (module, one-line help). A registry, not an if/elif chain.
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("sdd.evaluation.cli", "metrics JSON from a score file and a protocol"),
    "fuse": ("sdd.evaluation.fuse", "fuse several systems' score folders, fitted on their dev scores"),
    "score": ("sdd.scoring.score", "score audio files with a trained model"),
    "fetch": ("sdd.cli:fetch_main", "download, verify and extract a corpus or published weights"),
    "compare": ("sdd.report.compare", "comparative report across MLflow runs"),
    "export": ("sdd.scoring.onnx_export", "write a trained arm's scorer as an ONNX model"),
}


EXAMPLES = """\
examples:
  sdd score --model models/main/s0 --decisions recordings/ > scores.tsv
  sdd evaluate --scores data/scores/main/la19__eval.txt --format asvspoof2019 --out m.json --ci \\
      --protocol data/raw/la19/LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt
  sdd fuse data/scores/main/s0 data/scores/attm/s0 --dev-protocol data/manifests/demo/dev.csv \\
      --format manifest --out fused/main+attm/s0
  sdd fetch la19
  sdd compare --out reports/compare
  sdd export --format onnx --model models/main/s0 --out main_s0.onnx"""


def fetch_main(argv: list[str]) -> int:
    """``sdd fetch``: a corpus (:func:`sdd.data.fetch.cli_main`) or published weights by name
    (:data:`sdd.models.published.WEIGHTS`)."""
    from sdd.data.fetch import cli_main
    from sdd.models.published import WEIGHTS

    return cli_main(argv, weights=WEIGHTS)


def _usage() -> str:
    lines = ["usage: sdd [--debug] <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", EXAMPLES, "", "Run `sdd <command> --help` for a command's options and more examples."]
    return "\n".join(lines)


#: Exit code of an internal error (a bug): EX_SOFTWARE of sysexits.h.
INTERNAL_ERROR = 70


def _internal_error(name: str, exc: BaseException) -> int:
    """One line for an unexpected exception (a bug in sdd), the traceback in a log file it names."""
    fd, log_path = tempfile.mkstemp(prefix=f"sdd-{name}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"sdd {name}: internal error\nargv: {sys.argv!r}\n\n")
        f.write("".join(traceback.format_exception(exc)))
    print(
        f"sdd {name}: internal error (a bug in sdd, please report it): {type(exc).__name__}: {exc}; "
        f"traceback in {log_path} (or re-run with `sdd --debug {name} ...`)",
        file=sys.stderr,
    )
    return INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("SDD_DEBUG", "") not in ("", "0")
    if argv[:1] == ["--debug"]:
        debug, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"sdd: unknown command {name!r}; expected one of {sorted(COMMANDS)}; see `sdd --help`",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    module_name, _, function = COMMANDS[name][0].partition(":")
    try:
        entry = getattr(importlib.import_module(module_name), function or "cli_main")
        return int(entry(rest) or 0)
    except KeyboardInterrupt:
        print(f"sdd {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): stop quietly; point stdout at /dev/null so the
        # interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - last resort: a bug, said to be one, with its traceback
        if debug:
            raise
        return _internal_error(name, exc)


def run() -> NoReturn:
    """The ``sdd`` program (``[project.scripts]`` and ``python -m sdd.cli``): :func:`main`, then exit.

    When the command has loaded torch, the process ends with ``os._exit`` once Python's exit handlers
    (:mod:`atexit`: logging's flush, temporary-file finalizers) have run and the output is flushed.
    What that skips is the interpreter's teardown and the C++ static destructors of the libraries
    torch loaded: those of torch's CUDA build (the one the lock pins, GPU or not) page in about 130 MB
    of CUDA library code and take 0.2-0.4 s, which would make the exit the peak memory of a one-file
    ``sdd score`` (``benchmarks/cli_startup.py``). Nothing in them concerns the output, already
    written. A command that did not load torch, or left a non-daemon thread running, exits as Python
    normally does.
    """
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if "torch" not in sys.modules or others:
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python runs at exit, before the interpreter's own teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed stdout or a broken pipe: as Python's own exit does,
            code = code or 120  # report the failed flush with status 120
    os._exit(code)


if __name__ == "__main__":
    run()
