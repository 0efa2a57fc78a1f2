"""Typed, validated, frozen configs built from plain dicts (params.yaml sections).

:func:`build` turns a mapping into a frozen dataclass instance, checking every key against the
dataclass fields and every value against its type hint (``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, ``X | None``, ``tuple[X, ...]``, ``list[X]``, ``dict[str, X]``, nested dataclasses).
Errors are :class:`ConfigError` naming the dotted key, the value and what was expected; unknown keys
are errors (nanoGPT's configurator and peft's ``LoraConfig`` are the models here).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = ["YAML11_BOOLEANS", "ConfigError", "build", "string_hint", "to_dict"]

T = TypeVar("T")

#: Plain scalars that YAML 1.1 (PyYAML's ``safe_load``) reads as booleans and YAML 1.2 (DVC, and sdd's
#: params reader :mod:`sdd.core.yamlfile`) as strings, lower-cased: the messages explain them.
YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


class ConfigError(ValueError):
    """A params value is missing, unknown, of the wrong type or out of range."""


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping with keys {sorted(f.name for f in dataclasses.fields(tp))}"
    if origin in (list, tuple):
        return f"a list of {_describe(get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of str to {_describe(get_args(tp)[1])}"
    return getattr(tp, "__name__", str(tp))


def string_hint(value: Any) -> str:
    """Why a string stands where a boolean or a number was expected, when YAML explains it: ``yes``/``on``
    (booleans in YAML 1.1, strings in the YAML 1.2 that params.yaml is read with) or a number that YAML
    read as a string (quoted, or a spelling YAML 1.2 does not take). ``""`` otherwise."""
    if not isinstance(value, str):
        return ""
    if value.lower() in YAML11_BOOLEANS:
        return (
            f" ({value!r} is a string: params.yaml is read as YAML 1.2, as DVC reads it, whose only "
            "booleans are true and false)"
        )
    try:
        float(value.replace("_", ""))
    except ValueError:
        return ""
    if not any(c.isdigit() for c in value):  # 'inf', 'nan': YAML spells those .inf and .nan
        return ""
    return (
        f" ({value!r} is a string in YAML: quoted, or a spelling YAML 1.2 does not read as a number; "
        "write it unquoted, e.g. 0.001, 1e-3 or 1.0e-3)"
    )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        for choice in get_args(tp):
            # bool is an int subclass: `True` must not match a Literal[1] and vice versa.
            if value == choice and type(value) is type(choice):
                return value
        raise ConfigError(f"{where}: got {value!r}; expected {_describe(tp)}")
    if origin in (Union, types.UnionType):
        errors = []
        for arg in get_args(tp):
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"{where}: got {value!r}; expected {_describe(tp)}{string_hint(value)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: got {value!r}; expected null")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: got {value!r}; expected {_describe(tp)}")
        return build(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: got {value!r}; expected {_describe(tp)}")
        item_tp = get_args(tp)[0]
        items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: got {value!r}; expected {_describe(tp)}")
        _, val_tp = get_args(tp)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where}: key {k!r} is not a string")
            out[k] = _convert(v, val_tp, _join(where, k))
        return out
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: got {value!r}; expected true or false{string_hint(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        hint = string_hint(value)
        if isinstance(value, float) and value.is_integer():
            hint = f" (a number with a '.' or an exponent is a float in YAML: write {int(value)})"
        raise ConfigError(f"{where}: got {value!r}; expected an integer{hint}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # YAML's .inf and .nan: no setting takes them
                raise ConfigError(f"{where}: got {value!r}; expected a finite number")
            return float(value)
        raise ConfigError(f"{where}: got {value!r}; expected a number{string_hint(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: got {value!r}; expected a string")
    raise TypeError(f"{where}: unsupported config type {tp!r}")  # a bug in a config class


def build(cls: type[T], data: typing.Mapping[str, Any] | None, where: str) -> T:
    """Build the frozen dataclass ``cls`` from ``data``, validating keys and types.

    Args:
        cls: a dataclass; fields without defaults are required. Its ``__post_init__`` may raise
            :class:`ConfigError` for range and consistency checks.
        data: the mapping from params.yaml (``None`` means empty).
        where: the dotted key of ``data`` in params.yaml, used in error messages ("" for the root).
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: got {data!r}; expected {_describe(cls)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown key(s) {unknown}; expected keys among {sorted(fields)}")
    hints = get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], _join(where, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_join(where, name)}: missing; expected {_describe(hints[name])}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or 'params'}: {exc}") from exc


def to_dict(obj: Any) -> Any:
    """A plain, JSON-serialisable dict of a config (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
