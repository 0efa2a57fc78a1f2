"""Argument parsing shared by the ``sdd`` subcommands: one-line usage errors and bounded numbers.

argparse reports a bad argument with the whole usage block and the error below it; :class:`Parser`
reports it on one line (``sdd score: error: argument --num-samples: ...; see `sdd score --help```),
exit code 2 as argparse. :func:`int_in` and :func:`finite_float` are ``type=`` converters that check
ranges while parsing, so a bad value is refused before any model or data is loaded.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = ["Parser", "finite_float", "int_in"]


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose usage errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}; see `{self.prog} --help`", file=sys.stderr)
        sys.exit(2)


def int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """A ``type=`` converter: an integer in ``[lo, hi]`` (``hi`` None: no upper bound)."""
    want = f"an integer >= {lo}" if hi is None else f"an integer from {lo:,} to {hi:,}"

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {want}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"got {value:,}; expected {want}")
        return value

    convert.__name__ = "int"
    return convert


def finite_float(text: str) -> float:
    """A ``type=`` converter: a finite number (``nan`` and ``inf`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a finite number")
    return value
