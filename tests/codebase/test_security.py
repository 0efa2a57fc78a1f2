"""Security review as tests: no remote code, no unpickling of foreign files, no shell, a local-only UI,
and archive members confined to their target (issue 14).

The source checks parse every module of ``sdd/``, ``stages/`` and ``benchmarks/`` (the AST, not a
grep, so comments and docstrings that mention the names do not count).
"""

from __future__ import annotations

import ast
import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from sdd.data.download import UnsafeArchiveError, safe_extract
from tests.helpers import REPO

SOURCES = sorted(p for d in ("sdd", "stages", "benchmarks") for p in (REPO / d).rglob("*.py"))


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    """``torch.load`` / ``pickle.loads`` / ``open`` for a call's function."""
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else "?"


def _kw(call: ast.Call, name: str):
    kw = next((k for k in call.keywords if k.arg == name), None)
    return None if kw is None else (kw.value.value if isinstance(kw.value, ast.Constant) else "<expr>")


def _where(path: Path, call: ast.Call) -> str:
    return f"{path.relative_to(REPO)}:{call.lineno}"


def test_sources_are_found():
    assert len(SOURCES) > 50 and (REPO / "sdd" / "models" / "backbone.py") in SOURCES


def test_no_trust_remote_code():
    bad = [
        _where(p, c) for p in SOURCES for c in _calls(p) if _kw(c, "trust_remote_code") not in (None, False)
    ]
    assert not bad, f"trust_remote_code enabled at {bad}"


def test_torch_load_only_with_weights_only_true():
    loads = [(p, c) for p in SOURCES for c in _calls(p) if _name(c.func) == "torch.load"]
    assert loads, "the checkpoint and AASIST loaders call torch.load"
    bad = [_where(p, c) for p, c in loads if _kw(c, "weights_only") is not True]
    assert not bad, f"torch.load without weights_only=True at {bad}"


def test_no_unpickling_of_foreign_files():
    banned = {"pickle.load", "pickle.loads", "pickle.Unpickler", "pd.read_pickle", "pandas.read_pickle",
              "joblib.load", "dill.load", "cloudpickle.load"}  # fmt: skip
    bad = [_where(p, c) for p in SOURCES for c in _calls(p) if _name(c.func) in banned]
    np_loads = [(p, c) for p in SOURCES for c in _calls(p) if _name(c.func) in ("np.load", "numpy.load")]
    bad += [_where(p, c) for p, c in np_loads if _kw(c, "allow_pickle") not in (None, False)]
    assert not bad, f"unpickling at {bad}"
    # The one pickle reader (the 2021 package's C012 file) admits numpy arrays of numbers only.
    tdcf = (REPO / "sdd" / "evaluation" / "tdcf2021.py").read_text()
    assert "class _NumpyOnlyUnpickler(pickle.Unpickler)" in tdcf and "def find_class" in tdcf


def test_model_weights_are_safetensors():
    detector = (REPO / "sdd" / "models" / "detector.py").read_text()
    assert (
        "safetensors.torch import save_file" in detector and "safetensors.torch import load_file" in detector
    )


def test_no_shell_interpolation_in_sdd_and_stages():
    lib = [p for p in SOURCES if p.parts[-2] != "benchmarks" and "benchmarks" not in p.parts]
    bad = [_where(p, c) for p in lib for c in _calls(p) if _kw(c, "shell") not in (None, False)]
    bad += [_where(p, c) for p in lib for c in _calls(p) if _name(c.func) in ("os.system", "os.popen")]
    assert not bad, f"a shell runs with interpolated arguments at {bad}"


def test_mlflow_ui_is_bound_to_localhost():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^mlflow-ui:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, "make mlflow-ui exists"
    body = recipe.group(1)
    assert "mlflow ui" in body and re.search(r"--host 127\.0\.0\.1\b", body), body
    assert "0.0.0.0" not in body


# ---- archive members confined to their target ----


def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _tar(entries: list[tarfile.TarInfo]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.addfile(_member("ok/first.txt", data=b"fine"), io.BytesIO(b"fine"))
        for info in entries:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info


ZIPS = {
    "zip-absolute": ([("/tmp/evil.txt", b"x", None)], "absolute path"),
    "zip-dotdot": ([("ok.txt", b"x", None), ("a/../../evil.txt", b"x", None)], "contains '..'"),
    "zip-backslash-dotdot": ([("..\\evil.txt", b"x", None)], "contains '..'"),
    "zip-symlink-outside": ([("link", b"/etc/passwd", 0o120777)], "link to '/etc/passwd' outside"),
    "zip-symlink-inside": (
        [("a.txt", b"x", None), ("link", b"a.txt", 0o120777)],
        "symbolic link; not supported",
    ),
}
TARS = {
    "tar-absolute": ([_member("/tmp/evil.txt")], "absolute path"),
    "tar-dotdot": ([_member("ok/../../evil.txt")], "contains '..'"),
    "tar-symlink-outside": ([_member("link", tarfile.SYMTYPE, "../../etc/passwd")], "outside the target"),
    "tar-symlink-absolute": ([_member("link", tarfile.SYMTYPE, "/etc/passwd")], "outside the target"),
    "tar-hardlink-outside": ([_member("hard", tarfile.LNKTYPE, "../outside.txt")], "hard-links to"),
    "tar-hardlink-absolute": ([_member("hard", tarfile.LNKTYPE, "/etc/passwd")], "hard-links to"),
    "tar-char-device": ([_member("dev/null", tarfile.CHRTYPE)], "device or FIFO"),
    "tar-block-device": ([_member("dev/sda", tarfile.BLKTYPE)], "device or FIFO"),
    "tar-fifo": ([_member("pipe", tarfile.FIFOTYPE)], "device or FIFO"),
}


@pytest.mark.parametrize("case", list(ZIPS) + list(TARS))
def test_archive_members_confined(case, tmp_path):
    if case in ZIPS:
        entries, message = ZIPS[case]
        archive = tmp_path / "a.zip"
        archive.write_bytes(_zip(entries))
    else:
        entries, message = TARS[case]
        archive = tmp_path / "a.tar.gz"
        archive.write_bytes(_tar(entries))
    target = tmp_path / "work" / "staging"
    target.parent.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(UnsafeArchiveError, match=re.escape(message)) as info:
        safe_extract(archive, target)
    assert str(archive) in str(info.value), "the error names the archive"
    written = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in written if not p.is_relative_to(target)]
    assert not outside, f"written outside the target: {outside}"
    if case in ZIPS:  # zip: every member is checked before any is written
        assert not [p for p in written if p.is_file()]


def test_safe_members_extract(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar([_member("ok/sub/b.txt"), _member("ok/link", tarfile.SYMTYPE, "sub/b.txt")]))
    assert safe_extract(archive, tmp_path / "t") == 3
    assert (tmp_path / "t" / "ok" / "link").resolve() == (tmp_path / "t" / "ok" / "sub" / "b.txt").resolve()
