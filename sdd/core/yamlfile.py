"""Reading ``params.yaml`` the way DVC reads it: YAML 1.2 scalars, duplicate keys refused.

DVC parses ``params.yaml`` with ruamel.yaml's safe loader, which follows YAML 1.2: only ``true`` and
``false`` (also ``True``, ``TRUE``, ``False``, ``FALSE``) are booleans, ``1e-3`` is a number,
``010`` is ten, and a key written twice in one mapping is an error. PyYAML's ``safe_load`` follows
YAML 1.1 instead, where ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` are booleans, ``1e-3`` is a
string (a 1.1 float needs a ``.``), ``010`` is eight, and a second key silently replaces the first.
Parsed that way, ``align: yes`` became ``pcgrad`` while ``dvc params diff`` showed the string ``yes``,
and a second ``train:`` section replaced the first without a word.

:func:`parse_yaml` and :func:`read_yaml` (a file, decoded by :func:`sdd.core.textfile.read_text`) load
with PyYAML's pure-Python safe parser and the YAML 1.2 rules for booleans, integers and floats (the
patterns ruamel.yaml uses for version 1.2, so both tools see the same values;
``tests/core/test_yamlfile.py`` checks them against DVC's own parser). Nulls, timestamps and merge keys
(``<<``) resolve as before. A key that appears twice in one mapping is a :class:`ConfigError` naming the
dotted key and both lines; a syntax error is a :class:`ConfigError` of one line naming the line and
column. Every sdd reader of ``params.yaml`` goes through here.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner

from sdd.core.configbase import ConfigError
from sdd.core.textfile import read_text

__all__ = ["parse_yaml", "read_yaml"]

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# YAML 1.2 as ruamel.yaml's resolver writes it (underscores between digits allowed, as it does).
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_INT_BASES = {"0b": 2, "0o": 8, "0x": 16}


class _Resolver(BaseResolver):
    """YAML 1.2's booleans, floats and integers; PyYAML's other implicit types (null, merge keys,
    timestamps, ``=``) unchanged."""


_Resolver.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float", "tag:yaml.org,2002:int"):
            _Resolver.add_implicit_resolver(_tag, _regexp, [_first])


class _Constructor(SafeConstructor):
    """SafeConstructor with YAML 1.2 integers (a leading ``0`` is decimal, ``0o`` octal); a scalar the
    patterns let through without digits (``-_``, ``._``) is an error at its line, not a traceback."""

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        value = text.replace("_", "")
        sign = -1 if value.startswith("-") else 1
        value = value.lstrip("+-")
        base = _INT_BASES.get(value[:2].lower(), 10)
        try:
            return sign * int(value[2:] if base != 10 else value, base)
        except ValueError:
            raise ConstructorError(None, None, f"{text!r} is not an integer", node.start_mark) from None

    def construct_yaml_float(self, node: ScalarNode) -> float:
        try:
            return super().construct_yaml_float(node)
        except ValueError:
            text = self.construct_scalar(node)
            raise ConstructorError(None, None, f"{text!r} is not a number", node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)


class _Loader(Reader, Scanner, Parser, Composer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def _check_duplicates(loader: _Loader, node: Node, path: str, seen: set[int]) -> None:
    """Raise on the first key written twice in one mapping, naming its dotted path and both lines."""
    if id(node) in seen:  # an alias of a node already checked
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(loader, item, f"{path}[{i}]", seen)
    elif isinstance(node, MappingNode):
        first: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                continue  # merge keys may repeat; complex keys are refused by the constructor
            key = loader.construct_object(key_node)
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
            _check_duplicates(loader, value_node, dotted, seen)


def _places(a: Any, b: Any) -> str:
    """``on lines 3 and 9``, or ``on line 3 (columns 5 and 12)``, of two marks."""
    if a.line == b.line:
        return f"on line {a.line + 1} (columns {a.column + 1} and {b.column + 1})"
    return f"on lines {a.line + 1} and {b.line + 1}"


def _one_line(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        context = ""
        if exc.context:
            at = exc.context_mark
            context = f" ({exc.context}" + (f" at line {at.line + 1})" if at is not None else ")")
        return f"{where}: {exc.problem}{context}"
    return " ".join(str(exc).split())


def parse_yaml(text: str) -> Any:
    """The YAML document ``text`` as plain Python values (module docstring: YAML 1.2 scalars, duplicate
    keys refused).

    Raises:
        ConfigError: a key written twice in one mapping (the message names the dotted key and both
            lines), or text that is not YAML (one line naming the line, the column and the problem).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicates(loader, node, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()


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
