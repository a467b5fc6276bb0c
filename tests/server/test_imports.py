"""The server knows no phone code: no module of ``server`` imports ``mobile`` (or Flet, or the
``songjiao`` command line that gathers both), neither at import time nor inside a function."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("mobile", "flet", "songjiao")


def _top(name: str) -> str:
    return name.split(".")[0]


def test_no_server_source_names_an_import_of_phone_code() -> None:
    found = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if _top(n) in FORBIDDEN
            ]
    assert found == []


def test_importing_every_server_module_loads_no_phone_code() -> None:
    program = """
import importlib, pkgutil, sys
import server
for module in pkgutil.walk_packages(server.__path__, "server."):
    importlib.import_module(module.name)
print(len(sys.modules))
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[1:])))
"""
    result = subprocess.run(
        [sys.executable, "-c", program, *FORBIDDEN],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count, loaded = (result.stdout.splitlines() + [""])[:2]
    assert int(count) > 100  # the server's modules and their libraries were really imported
    assert loaded == ""
