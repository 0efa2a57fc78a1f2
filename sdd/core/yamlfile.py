"""Reading ``params.yaml`` the way DVC reads it: with DVC's own parser, duplicate keys refused.

DVC parses ``params.yaml`` with ruamel.yaml's safe loader (``YAML(typ="safe")``), which follows
YAML 1.2: only ``true`` and ``false`` (also ``True``, ``TRUE``, ``False``, ``FALSE``) are booleans,
``1e-3`` is a number, ``010`` is ten, and a key written twice in one mapping is an error. PyYAML's
``safe_load`` follows YAML 1.1 instead, where ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` are
booleans, ``1e-3`` is a string (a 1.1 float needs a ``.``), ``010`` is eight, and a second key
silently replaces the first. Parsed that way, ``align: yes`` became ``pcgrad`` while
``dvc params diff`` showed the string ``yes``, and a second ``train:`` section replaced the first
without a word.

:func:`parse_yaml` and :func:`read_yaml` (a file, decoded by :func:`sdd.core.textfile.read_text`)
load with that same loader, ruamel.yaml's ``typ="safe"`` in pure Python (``pure=True``: the C
extension, ``ruamel.yaml.clib``, is not installed, so DVC runs the same Python code; pinning it here
keeps the error messages the same if it ever is). ``tests/core/test_yamlfile.py`` checks the values
against DVC's own parser. The safe loader returns plain values (``dict``, ``list``, ``str``, ``int``,
``float``, ``bool``, ``None``, and ``datetime.date`` for a date), not the round-trip loader's
``CommentedMap`` and friends. Three things are added on top of it, in one constructor subclass:

- a key written twice in one mapping is a :class:`ConfigError` naming the dotted key (``train.lr``,
  ``eval_sets[1].b``), both lines and the fix, where ruamel.yaml's own error names only the second
  line and the bare key (it stays the backstop, e.g. for a repeated ``<<`` merge key);
- a scalar its tag cannot read (``-_`` resolves as an integer, ``2001-13-45`` as a date) is an error
  at its line, where ruamel.yaml raises a bare ``ValueError``;
- any error is one line: ``not valid YAML: line L, column C: problem``.

Every sdd reader of ``params.yaml`` goes through here.
"""

from __future__ import annotations

import os
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sdd.core.configbase import ConfigError
from sdd.core.textfile import read_text

__all__ = ["parse_yaml", "read_yaml"]


class _Constructor(SafeConstructor):
    """ruamel.yaml's safe constructor; duplicates refused with their dotted path before building the
    document, and a scalar that cannot be read an error at its mark (module docstring)."""

    def construct_document(self, node: Node) -> Any:
        _check_duplicates(self, node, "", set())
        return super().construct_document(node)

    def construct_non_recursive_object(self, node: Node, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except ValueError as exc:  # int('-_'), float('._'), date(2001, 13, 45)
            if not isinstance(node, ScalarNode):
                raise
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise ConstructorError(
                None, None, f"{node.value!r} is not a valid {kind} ({exc})", node.start_mark
            ) from None


def _check_duplicates(constructor: _Constructor, node: Node, path: str, seen: set[int]) -> None:
    """Raise on the first key written twice in one mapping, naming its dotted path and both lines."""
    if id(node) in seen:  # an alias of a node already checked
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(constructor, item, f"{path}[{i}]", seen)
    elif isinstance(node, MappingNode):
        first: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                continue  # ruamel.yaml itself refuses a repeated merge key or complex key
            key = constructor.construct_object(key_node)
            dotted = f"{path}.{key}" if path else str(key)
            mark = key_node.start_mark
            if key in first:
                section = isinstance(value_node, MappingNode)
                fix = f"merge them into one `{key}:` section" if section else "delete one"
                raise ConfigError(
                    f"{dotted}: written twice, {_places(first[key], mark)}; YAML keeps one value per key, so "
                    f"the second would silently replace the first: {fix}"
                )
            first[key] = mark
            _check_duplicates(constructor, value_node, dotted, seen)


def _places(a: Any, b: Any) -> str:
    """``on lines 3 and 9``, or ``on line 3 (columns 5 and 12)``, of two marks."""
    if a.line == b.line:
        return f"on line {a.line + 1} (columns {a.column + 1} and {b.column + 1})"
    return f"on lines {a.line + 1} and {b.line + 1}"


def _one_line(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        context = ""
        if exc.context:
            at = exc.context_mark
            context = f" ({exc.context}" + (f" at line {at.line + 1})" if at is not None else ")")
        return f"{where}: {exc.problem}{context}"
    return " ".join(str(exc).split())


def parse_yaml(text: str) -> Any:
    """The YAML document ``text`` as plain Python values, as DVC parses it (module docstring).

    Raises:
        ConfigError: a key written twice in one mapping (the message names the dotted key and both
            lines), or text that is not YAML (one line naming the line, the column and the problem).
    """
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(f"not valid YAML: {_one_line(exc)}") from None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """:func:`parse_yaml` of the file ``path``, decoded by :func:`sdd.core.textfile.read_text`
    (UTF-8 with or without a byte-order mark, UTF-16/32 with one).

    Raises:
        ConfigError: as :func:`parse_yaml`.
        sdd.core.textfile.TextEncodingError: the file's bytes are not in an accepted encoding (the
            message names the file and the encoding).
        OSError: the file cannot be read.
    """
    return parse_yaml(read_text(path))
