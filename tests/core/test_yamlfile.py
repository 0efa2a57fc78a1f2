"""sdd.core.yamlfile: params.yaml read as DVC reads it (YAML 1.2 scalars, checked against DVC's own
parser), a key written twice refused with both lines, one-line syntax errors, every accepted encoding."""

from __future__ import annotations

import codecs
import math
from datetime import date
from pathlib import Path

import pytest
from dvc.utils.serialize._yaml import parse_yaml as dvc_parse_yaml

from sdd.core.configbase import ConfigError
from sdd.core.textfile import TextEncodingError
from sdd.core.yamlfile import parse_yaml, read_yaml
from tests.helpers import REPO

# plain scalar -> the value YAML 1.2 gives it (and PyYAML's safe_load, YAML 1.1, where it differs)
SCALARS = [
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("FALSE", False),
    ("yes", "yes"),  # 1.1: True
    ("Yes", "Yes"),  # 1.1: True
    ("no", "no"),  # 1.1: False
    ("on", "on"),  # 1.1: True
    ("OFF", "OFF"),  # 1.1: False
    ("y", "y"),
    ("n", "n"),
    ("tRue", "tRue"),
    ("1e-3", 0.001),  # 1.1: the string '1e-3'
    ("1E-3", 0.001),  # 1.1: a string
    ("-1e-3", -0.001),
    ("+1e+3", 1000.0),
    ("1e3", 1000.0),
    ("1.0e-3", 0.001),
    ("0.001", 0.001),
    (".5", 0.5),
    ("-.5", -0.5),
    ("1.", 1.0),
    ("1_000", 1000),
    ("1_000.5", 1000.5),
    ("010", 10),  # 1.1: 8
    ("017", 17),  # 1.1: 15
    ("08", 8),
    ("0o10", 8),  # 1.1: a string
    ("0x1F", 31),
    ("0b101", 5),
    ("0", 0),
    ("-0", 0),
    ("+12", 12),
    ("1:20", "1:20"),  # 1.1: 80 (base 60)
    (".inf", math.inf),
    ("-.Inf", -math.inf),
    ("~", None),
    ("null", None),
    ("NULL", None),
    ("", None),
    ("2001-12-14", date(2001, 12, 14)),
    ("abc", "abc"),
    ("1.2.3", "1.2.3"),
    (".5e3", ".5e3"),  # a leading-dot float takes a signed exponent only (ruamel.yaml's 1.2 rule)
    ("1e", "1e"),
    ("0o8", "0o8"),
    ("0b2", "0b2"),
    ("'1e-3'", "1e-3"),  # quoted: always a string
    ('"true"', "true"),
]


@pytest.mark.parametrize("text,value", SCALARS, ids=[t or "empty" for t, _ in SCALARS])
def test_scalars_resolve_as_yaml_1_2_and_as_dvc_reads_them(text, value):
    got = parse_yaml(f"key: {text}\n")["key"]
    assert got == value and type(got) is type(value)
    assert got == dvc_parse_yaml(f"key: {text}\n", "params.yaml")["key"]


def test_nan_resolves_as_dvc_reads_it():
    got = parse_yaml("key: .NaN\n")["key"]
    assert math.isnan(got) and math.isnan(dvc_parse_yaml("key: .NaN\n", "params.yaml")["key"])


def test_a_yaml_1_1_directive_is_honoured_as_dvc_honours_it():
    text = "%YAML 1.1\n---\na: 010\nb: yes\n"
    assert parse_yaml(text) == dvc_parse_yaml(text, "params.yaml") == {"a": 8, "b": True}


def test_the_repository_params_yaml_reads_as_dvc_reads_it():
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert parse_yaml(text) == dvc_parse_yaml(text, "params.yaml")


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "train:\n  lr: 1\nscore: {}\ntrain:\n  lr: 2\n",
            "train: written twice, on lines 1 and 4; YAML keeps one value per key, so the second would "
            "silently replace the first: merge them into one `train:` section",
        ),
        (
            "train:\n  lr: 1\n  epochs: 2\n  lr: 3\n",
            "train.lr: written twice, on lines 2 and 4; YAML keeps one value per key, so the second would "
            "silently replace the first: delete one",
        ),
        (
            "arms:\n  attm:\n    train: {lr: 1, lr: 2}\n",
            "arms.attm.train.lr: written twice, on line 3 (columns 13 and 20); YAML keeps one value per key, "
            "so the second would silently replace the first: delete one",
        ),
        (
            "eval_sets:\n  - {a: 1}\n  - {b: 1, b: 2}\n",
            "eval_sets[1].b: written twice, on line 3 (columns 6 and 12); YAML keeps one value per key, so "
            "the second would silently replace the first: delete one",
        ),
        (
            '"seeds": [0]\nseeds: [1]\n',  # quoting does not make another key
            "seeds: written twice, on lines 1 and 2; YAML keeps one value per key, so the second would "
            "silently replace the first: delete one",
        ),
    ],
    ids=["section", "nested", "flow", "in-a-list", "quoted"],
)
def test_a_key_written_twice_names_the_key_and_both_lines(text, message):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text)
    assert str(info.value) == message
    with pytest.raises(Exception, match="corrupted") as dvc:  # DVC refuses the same files
        dvc_parse_yaml(text, "params.yaml")
    assert "duplicate key" in str(dvc.value.__cause__)


def test_merge_keys_and_anchors_still_work():
    data = parse_yaml("base: &b {lr: 1, epochs: 2}\narm:\n  <<: *b\n  lr: 3\n")
    assert data == {"base": {"lr": 1, "epochs": 2}, "arm": {"lr": 3, "epochs": 2}}


def test_a_merge_key_written_twice_is_refused_as_dvc_refuses_it():
    text = "a: &a {x: 1}\nb: &b {y: 1}\nc:\n  <<: *a\n  <<: *b\n"
    with pytest.raises(ConfigError) as info:
        parse_yaml(text)
    assert str(info.value) == (
        'not valid YAML: line 5, column 3: found duplicate merge key "<<" '
        "(while constructing a mapping at line 4)"
    )
    with pytest.raises(Exception, match="corrupted"):
        dvc_parse_yaml(text, "params.yaml")


def _types(value):
    """The set of types in a parsed document, containers walked."""
    if isinstance(value, dict):
        return {type(value)}.union(*(_types(k) | _types(v) for k, v in value.items()))
    if isinstance(value, list):
        return {type(value)}.union(*(_types(v) for v in value))
    return {type(value)}


def test_values_are_plain_python_types_for_callers_to_compare_and_json_dump():
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    text += "extra_for_test:\n  f: 1.5e-3\n  i: 0x1F\n  b: true\n  n: null\n  s: [a, {k: 1}]\n"
    assert _types(parse_yaml(text)) <= {dict, list, str, int, float, bool, type(None)}


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "a: [1, 2\n",
            "not valid YAML: line 2, column 1: expected ',' or ']', but got '<stream end>' (while parsing a "
            "flow sequence at line 1)",
        ),
        ("a: b: c\n", "not valid YAML: line 1, column 5: mapping values are not allowed here"),
        (
            "a:\n\t- 1\n",
            "not valid YAML: line 2, column 1: found character '\\t' that cannot start any token (while "
            "scanning for the next token)",
        ),
        (  # resolves as an integer (YAML 1.2's pattern lets it through) but has no digit
            "a: -_\n",
            "not valid YAML: line 1, column 4: '-_' is not a valid int "
            "(invalid literal for int() with base 10: '')",
        ),
        (
            "a: ._\n",
            "not valid YAML: line 1, column 4: '._' is not a valid float "
            "(could not convert string to float: '.')",
        ),
        (
            "a: 2001-13-45\n",
            "not valid YAML: line 1, column 4: '2001-13-45' is not a valid timestamp "
            "(month must be in 1..12)",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "not valid YAML: line 2, column 1: but found another document (expected a "
            "single document in the stream at line 1)",
        ),
    ],
    ids=["unclosed", "colon", "tab", "bad-int", "bad-float", "bad-date", "two-documents"],
)
def test_syntax_errors_are_one_line_naming_the_line_and_column(text, message):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text)
    assert str(info.value) == message
    assert "\n" not in message


def test_empty_and_comment_only_documents_are_none():
    assert parse_yaml("") is None
    assert parse_yaml("# nothing\n") is None


TEXT = "align: true  # é\ntrain:\n  lr: 1e-3\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # BOM + native order, as PowerShell's `>` writes
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16-be-bom", "crlf"],
)
def test_every_accepted_encoding_reads_the_same_params(tmp_path: Path, encode):
    path = tmp_path / "params.yaml"
    path.write_bytes(encode(TEXT))
    assert read_yaml(path) == {"align": True, "train": {"lr": 0.001}}


def test_utf16_without_a_mark_is_one_line_naming_the_file(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_bytes(TEXT.encode("utf-16-le"))
    with pytest.raises(TextEncodingError) as info:
        read_yaml(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "UTF-16" in message and "\n" not in message
