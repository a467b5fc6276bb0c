"""The patched Flet web client (mobile/webclient.py): its rewriting, on small modules built here
and on the pinned flet-web build itself. tests/browser/test_boot_screen.py runs it in Chromium."""

import tomllib
from pathlib import Path

import pytest

from mobile import webclient
from mobile.webclient import _leb128, _name, _read_leb128, patch_js, patch_wasm
from shared.messages import t

ROOT = Path(__file__).resolve().parents[2]


def _module(*names: str, padding: int = 0) -> bytes:
    """A WebAssembly module importing one global per name (module ``''``), as dart2wasm imports
    its string constants, and a custom section after the imports, which must come through."""
    entries = b"".join(b"\x00" + _name(n) + b"\x03\x6f\x00" for n in names)
    imports = _leb128(len(names)) + entries
    custom = _name("x") + b"\xaa" * padding
    return (
        b"\0asm\x01\0\0\0"
        + b"\x02"
        + _leb128(len(imports))
        + imports
        + b"\x00"
        + _leb128(len(custom))
        + custom
    )


def _imports(module: bytes) -> list[str]:
    at = 8
    while at < len(module):
        section = module[at]
        size, body_at = _read_leb128(module, at + 1)
        if section == 2:
            count, at = _read_leb128(module, body_at)
            names = []
            for _ in range(count):
                length, at = _read_leb128(module, at)  # the module name
                at += length
                length, at = _read_leb128(module, at)
                names.append(module[at : at + length].decode("utf-8"))
                at += length + 3  # kind, type, mutability
            return names
        at = body_at + size
    raise AssertionError("no import section")


def test_the_string_imports_are_renamed_and_the_sections_after_them_kept() -> None:
    # An import section of 120 bytes: its size takes a second LEB128 byte once renamed (134).
    before = _module("Working...", "a" * 77, "while dispatching", padding=300)
    assert before[9] == 120
    after = patch_wasm(before, {"Working...": "正在连接送教通…"})
    assert _imports(after) == ["正在连接送教通…", "a" * 77, "while dispatching"]
    assert after.endswith(_name("x") + b"\xaa" * 300)
    assert len(after) == len(before) + len("正在连接送教通…".encode()) - len("Working...") + 1


def test_a_text_that_is_not_there_once_refuses_to_patch() -> None:
    with pytest.raises(ValueError):
        patch_wasm(_module("Loading"), {"Working...": "正在连接"})
    with pytest.raises(ValueError):
        patch_wasm(_module("Working...", "Working..."), {"Working...": "正在连接"})
    with pytest.raises(ValueError):
        patch_js(b'a="Working...";b="Working..."', {"Working...": "x"})
    with pytest.raises(ValueError):
        patch_wasm(b"not wasm at all", {})


def test_the_script_literal_is_replaced_with_escapes() -> None:
    code = b'B.e={spinner_size:0,startup_message:1}\nB.h=new A.a3(B.e,[30,"Working..."],t.yf)'
    assert patch_js(code, {"Working...": "正在连接"}) == code.replace(
        b'"Working..."', b'"\\u6b63\\u5728\\u8fde\\u63a5"'
    )


def test_the_copy_of_the_pinned_client_speaks_chinese(tmp_path: Path) -> None:
    web = webclient.ensure(tmp_path)
    assert webclient.ensure(tmp_path) == web  # made once
    for name in ("main.dart.js", "main.dart.wasm"):
        assert b"Working..." in (webclient.source_dir() / name).read_bytes()
        assert b"Working..." not in (web / name).read_bytes()
    assert _name("正在连接送教通…") + b"\x03" in (web / "main.dart.wasm").read_bytes()
    page = (web / "index.html").read_text(encoding="utf-8")
    assert "<title>送教通</title>" in page and 'aria-label="Loading"' not in page
    # The rest is the package's own files, linked or copied.
    assert (web / "canvaskit").is_dir() and (web / "flutter_bootstrap.js").is_file()


def test_the_built_app_boots_with_the_same_words() -> None:
    """pyproject.toml cannot read the catalogue: ``flet build`` takes the texts from there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    screen = config["tool"]["flet"]["boot_screen"]["flet"]
    assert screen["startup_message"] == t("ui.boot.connecting")
    assert screen["prepare_message"] == t("ui.boot.preparing")
