"""Stage the field app for ``flet build apk`` (see docs/apk.md).

``flet build`` packages a directory with a ``main.py`` and installs ``[project] dependencies``
into the APK. This repository's root holds the server too (PostgreSQL driver, FastAPI...), so
``python -m mobile.apk [TARGET]`` writes a directory with only the phone's part: the sources
and packages listed in ``[tool.songjiao.apk]``, pinned exactly as in ``[project] dependencies``,
the ``[tool.flet]`` section as it is, and an entry point. Nothing is downloaded here.

Of the fonts it takes the full CJK font only (``mobile.ui.fonts.FULL``, made by
``python -m mobile.fontbuild``) and refuses without it: a phone app with the GB2312 cut would
draw boxes for rare characters of names. The web app's fallback slices and the GB2312 cut stay
out (nothing on a phone asks for them).
"""

import argparse
import json
import re
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mobile.ui import fonts
from shared.messages import t

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGET = ROOT / "build" / "apk"
MAIN = '''"""Entry point of the built app (written by python -m mobile.apk)."""

import flet as ft

from mobile.app import main

ft.run(main)
'''


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()


def phone_dependencies(config: dict[str, Any]) -> list[str]:
    """The phone's packages with the root's pins; ``flet[web]`` becomes plain ``flet``."""
    wanted = config["tool"]["songjiao"]["apk"]["packages"]
    pins = {_name(req): req for req in config["project"]["dependencies"]}
    missing = [name for name in wanted if name not in pins]
    if missing:
        raise SystemExit(f"not pinned in [project] dependencies: {missing}")
    return [re.sub(r"\[[^\]]*\]", "", pins[name]) for name in wanted]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_tables(prefix: str, table: dict[str, Any]) -> list[str]:
    lines = [f"[{prefix}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in nested:
        lines += ["", *_toml_tables(f"{prefix}.{key}", value)]
    return lines


def _ignore(root: Path) -> Callable[[str, list[str]], set[str]]:
    """What not to stage: byte code, the font builder, and what only the web app uses."""
    web_only = {
        root / "assets" / fonts.WEB_FALLBACK.split("/")[0],
        root / "assets" / fonts.SUBSET,
        (root / "assets" / fonts.FULL).with_suffix(".build"),
        root / "mobile" / "fontbuild.py",
        root / "mobile" / "webclient.py",
    }
    byte_code = shutil.ignore_patterns("__pycache__", "*.pyc")

    def ignore(directory: str, names: list[str]) -> set[str]:
        left_out = set(byte_code(directory, names))
        return left_out | {n for n in names if Path(directory) / n in web_only}

    return ignore


def stage(target: Path = DEFAULT_TARGET, root: Path = ROOT) -> Path:
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = config["project"]
    if not (root / "assets" / fonts.FULL).exists():
        raise SystemExit(f"assets/{fonts.FULL} is missing: run python -m mobile.fontbuild first")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source in config["tool"]["songjiao"]["apk"]["sources"]:
        shutil.copytree(root / source, target / source, ignore=_ignore(root))
    (target / "main.py").write_text(MAIN, encoding="utf-8")
    meta = {
        "name": project["name"],
        "version": project["version"],
        "description": project.get("description", ""),
        "requires-python": project["requires-python"],
        "dependencies": phone_dependencies(config),
    }
    lines = ["# Written by python -m mobile.apk from the repository's pyproject.toml.", ""]
    lines += _toml_tables("project", meta) + [""]
    lines += _toml_tables("tool.flet", config["tool"]["flet"])
    (target / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobile.apk", description=__doc__)
    parser.add_argument("target", nargs="?", default=str(DEFAULT_TARGET))
    args = parser.parse_args(argv)
    target = stage(Path(args.target))
    print(t("cli.apk.staged", target=target))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
