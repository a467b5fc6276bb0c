"""User-facing text lives in one message catalogue (shared/messages.py), so English can follow:
a Chinese character written in a console template or in a Python string elsewhere fails here.

Templates: any CJK outside a Jinja expression or comment, and any CJK string literal inside
one (``"设备 " ~ id``), is text the catalogue does not hold. Python: any string constant with
CJK that is not a docstring, under server/, mobile/ and songjiao/."""

import ast
import re
from pathlib import Path

import pytest
from jinja2 import Environment

from server.console.web import TEMPLATES
from shared.messages import ZH_CN

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
PACKAGES = ("server", "mobile", "songjiao")
# Not UI text, so never moved:
EXCLUDED = {
    # invented demo data (children's, schools' and districts' names), not UI text
    "server/demo",
    # what an uploaded roster may say (column headers such as 区县代码, cell words such as
    # 随班就读, 一级, 是): input to recognise, kept apart from the rosters' messages
    "server/services/roster_spellings.py",
}
# Still to move (each still holds Chinese: the test says so when one is clean, so that this
# list only shrinks).
PENDING: set[str] = set()
PENDING_TEMPLATES: set[str] = set()
KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']""")


def _template_leaks(source: str) -> list[str]:
    """CJK text of a template the catalogue does not hold: data tokens (outside ``{{ }}``
    and ``{% %}``; comments are dropped by the lexer) and string literals inside them."""
    leaks = []
    for lineno, kind, value in Environment().lex(source):
        if kind in ("data", "string") and CJK.search(value):
            leaks.append(f"{lineno}: {value.strip()[:60]}")
    return leaks


def _python_leaks(source: str) -> list[str]:
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and CJK.search(node.value)
    ]


def _python_files() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(rel == e or rel.startswith(e + "/") for e in EXCLUDED):
                found.append(rel)
    return found


TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("*.html"))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_text_comes_from_the_catalogue(name: str) -> None:
    leaks = _template_leaks((TEMPLATES / name).read_text())
    if name in PENDING_TEMPLATES:
        assert leaks, f"{name} holds no Chinese any more: take it off PENDING_TEMPLATES"
    else:
        assert not leaks, f"{name}: Chinese outside the catalogue: {leaks}"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_key_a_template_names_is_in_the_catalogue(name: str) -> None:
    keys = KEY.findall((TEMPLATES / name).read_text())
    assert [k for k in keys if k not in ZH_CN and not k.endswith(".")] == []


@pytest.mark.parametrize("rel", _python_files())
def test_python_text_comes_from_the_catalogue(rel: str) -> None:
    leaks = _python_leaks((ROOT / rel).read_text())
    if rel in PENDING:
        assert leaks, f"{rel} holds no Chinese any more: take it off PENDING"
    else:
        assert not leaks, f"{rel}: Chinese outside the catalogue: {leaks}"


def test_the_checks_see_what_they_should() -> None:
    assert _template_leaks('<b>{{ t("x") }}</b>{# 注释 #}') == []
    assert _template_leaks("<b>共 {{ n }} 条</b>") != []
    assert _template_leaks('{{ d.get(k, "设备 " ~ k) }}') != []
    assert _python_leaks('"""文档。"""\nX = t("k")\n') == []
    assert _python_leaks('X = f"{n} 元"\n') != []
    assert set(PENDING) <= set(_python_files())
    assert set(PENDING_TEMPLATES) <= set(TEMPLATE_NAMES)
