"""The Flet web client with its boot screen in Chinese, for the web app (``python -m mobile.app``).

flet-web 1.0.5 ships a compiled Flutter client whose boot screen, shown while the page connects
to the app and again whenever the connection drops (a weak signal, the app restarting), reads
"Working..."; that text is compiled in (the boot screen's default ``startup_message``). A built
APK takes it from ``[tool.flet.boot_screen.flet]`` in pyproject.toml, but the web page has no
such setting. So the web app serves a copy of the client (``FLET_WEB_PATH``, which flet-web
honours) in which those compiled strings are the catalogue's Chinese ones:

- ``index.html``: the page's title, language and the label of the image shown before Flutter
  starts (``aria-label="Loading"``, what a screen reader says first);
- ``main.dart.js`` (the dart2js build): the JavaScript string literal;
- ``main.dart.wasm`` (the dart2wasm build, which Chromium runs): dart2wasm imports each string
  constant as a global whose import *name* is the text itself, so the one import entry is
  rewritten, with its length, and the import section's size is encoded again. Wasm refers to
  imports by index, never by byte offset, so nothing else moves.

Every other file is hard-linked (copied across file systems): Starlette's static files refuse
symbolic links that lead outside the served directory. The copy is made once per flet-web
build and message text, under the user's cache directory, and swapped in whole, so two apps
starting at once never see half of one.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import flet_web

from shared.messages import t

# The compiled English strings and the catalogue keys that replace them.
BOOT_STRINGS = {
    "Working...": "ui.boot.connecting",
    "The application encountered an error: {message}": "ui.boot.error",
    "The application encountered an error: {message}\n\n{details}": "ui.boot.error_details",
}
STAMP = "songjiao-web-client.json"


def source_dir() -> Path:
    return Path(flet_web.__file__).parent / "web"


def replacements() -> dict[str, str]:
    return {english: t(key) for english, key in BOOT_STRINGS.items()}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "songjiao"


def ensure(root: Path | None = None) -> Path:
    """The patched client's directory, made first if missing."""
    source = source_dir()
    texts = replacements()
    version = json.loads((source / "version.json").read_text(encoding="utf-8")).get("version", "")
    # A new flet-web, a changed text or a changed patch (this file) makes a new copy.
    made_by = [version, texts, t("ui.app_title"), t("ui.loading"), Path(__file__).read_text()]
    key = hashlib.sha256(json.dumps(made_by, ensure_ascii=False).encode()).hexdigest()
    target = (root or cache_root()) / f"flet-web-{version}-{key[:12]}"
    if (target / STAMP).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".flet-web-", dir=target.parent))
    try:
        _link_tree(source, staging)
        patches = (
            ("index.html", patch_index),
            ("main.dart.js", patch_js),
            ("main.dart.wasm", patch_wasm),
        )
        for name, patch in patches:
            patched = patch((source / name).read_bytes(), texts)
            (staging / name).unlink()  # a hard link to the package's file: never write through it
            (staging / name).write_bytes(patched)
        (staging / STAMP).write_text(json.dumps({"flet_web": version, "texts": texts}))
        try:
            staging.rename(target)
        except OSError:  # another process got there first: its copy is the same
            if not (target / STAMP).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _link_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)


# -- index.html ------------------------------------------------------------------------------


def patch_index(page: bytes, texts: dict[str, str]) -> bytes:
    """The page in Chinese; ``texts`` (the boot strings) are not on it."""
    html = page.decode("utf-8")
    for english, chinese in (
        ("<html>", '<html lang="zh-CN">'),
        ("<title>Flet</title>", f"<title>{t('ui.app_title')}</title>"),
        ('content="Flet"', f'content="{t("ui.app_title")}"'),
        ('aria-label="Loading"', f'aria-label="{t("ui.loading")}"'),
    ):
        if html.count(english) != 1:
            raise ValueError(f"index.html holds {english} {html.count(english)} times, not once")
        html = html.replace(english, chinese)
    return html.encode("utf-8")


# -- main.dart.js ------------------------------------------------------------------------------


def patch_js(code: bytes, texts: dict[str, str]) -> bytes:
    """Each English literal replaced by its Chinese, written with \\u escapes: the script's
    encoding is then beside the point."""
    source = code.decode("utf-8")
    for english, chinese in texts.items():
        literal = json.dumps(english)  # as dart2js writes it: "…", \n escaped
        found = source.count(literal)
        if found != 1:
            raise ValueError(f"main.dart.js holds {literal} {found} times, not once")
        source = source.replace(literal, json.dumps(chinese, ensure_ascii=True))
    return source.encode("utf-8")


# -- main.dart.wasm ----------------------------------------------------------------------------

_IMPORT_SECTION = 2
_GLOBAL_IMPORT = b"\x03"  # import kind: a global (a string constant's)


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_leb128(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _name(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _leb128(len(raw)) + raw


def patch_wasm(module: bytes, texts: dict[str, str]) -> bytes:
    """The string-constant imports named by ``texts`` renamed, in the import section."""
    if module[:4] != b"\0asm":
        raise ValueError("main.dart.wasm is not a WebAssembly module")
    out, at, patched = bytearray(module[:8]), 8, False
    while at < len(module):
        section = module[at]
        size, body_at = _read_leb128(module, at + 1)
        body = module[body_at : body_at + size]
        if section == _IMPORT_SECTION:
            for english, chinese in texts.items():
                # The entry's field name (length-prefixed) and, after it, the kind: a global.
                old = _name(english) + _GLOBAL_IMPORT
                found = body.count(old)
                if found != 1:
                    raise ValueError(f"the import section holds {english!r} {found} times")
                body = body.replace(old, _name(chinese) + _GLOBAL_IMPORT)
            patched = True
        out += bytes([section]) + _leb128(len(body)) + body
        at = body_at + size
    if not patched:
        raise ValueError("main.dart.wasm has no import section")
    return bytes(out)
