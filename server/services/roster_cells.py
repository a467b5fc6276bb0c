"""One roster row's cells as typed values; problems become Chinese reasons, never exceptions.

The choice tables accept the codes of ``shared.domain`` and the Chinese words people write in
their spreadsheets (e.g. 随班就读, 一级, 是).
"""

import math
import re
from typing import Any

from server.services.roster_spellings import (
    CHOICE_WORDS,
    CN_DIGITS,
    FLAG_WORDS,
    GRADE_PREFIXES,
    GRADE_SUFFIX,
    LEVEL_SUFFIX,
)
from shared.domain import DisabilityCategory, Placement, Role, SchoolKind, Stage
from shared.messages import t


def _table(codes: Any, **words: str) -> dict[str, str]:
    """The codes themselves plus, per code, the space-separated Chinese words meaning it."""
    table = {member.value: member.value for member in codes}
    return table | {word: code for code, text in words.items() for word in text.split()}


CHOICES: dict[str, dict[str, str]] = {
    name: _table(codes, **CHOICE_WORDS[name])
    for name, codes in (
        ("kind", SchoolKind),
        ("stage", Stage),
        ("placement", Placement),
        ("disability_category", DisabilityCategory),
        ("role", Role),
    )
}
# How a code is shown in "可选：…" hints: a stage or a placement as the console names it, the
# others by the roster's own short words (协调员 where the console says 区县协调员).
_LABEL_KEYS = {"stage": "stage", "placement": "placement"}
LABELS = {
    code: t(f"{_LABEL_KEYS.get(name, 'roster.choice')}.{code}")
    for name, words in CHOICE_WORDS.items()
    for code in words
}
_PHONE = re.compile(r"\+?[0-9][0-9\- ]{2,30}")
_FORBIDDEN_IN_ID = re.compile(r"[|\x00-\x1f]")  # "|" joins ids in assignment keys


def has_forbidden_id_character(value: str) -> bool:
    """An id (or a username, which assignments join like one) holding "|" or a control
    character."""
    return _FORBIDDEN_IN_ID.search(value) is not None


GRADE_RANGE = {"preschool": (0, 0), "compulsory": (1, 9), "high_school": (10, 12)}


def _squash(value: str) -> str:
    return re.sub(r"\s", "", value).lower()


def parse_grade(value: str) -> int | None:
    """School year 0-12: "3", "3年级", "三年级", "初一" (7), "高三" (12); None if not one."""
    text = _squash(value).removesuffix(GRADE_SUFFIX)
    if text.isdigit():
        return int(text)
    for prefix, offset in GRADE_PREFIXES:
        if text.startswith(prefix) and text[1:] in CN_DIGITS and CN_DIGITS[text[1:]] <= 3:
            return offset + CN_DIGITS[text[1:]]
    return CN_DIGITS.get(text)


def parse_disability_grade(value: str) -> int | None:
    """1-4, "一级".."四级", "1级"; None if not one of these."""
    text = _squash(value).removesuffix(LEVEL_SUFFIX)
    number = int(text) if text.isdigit() else CN_DIGITS.get(text)
    return number if number in (1, 2, 3, 4) else None


class Cells:
    """One data row; every getter records a reason in ``errors`` instead of raising."""

    def __init__(self, number: int, values: dict[str, str]) -> None:
        self.row, self.values = number, values
        self.errors: list[str] = []

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> str:
        return self.values.get(name, "")

    def fail(self, key: str, **values: Any) -> None:
        self.errors.append(t(key, **values))

    def _required(self, name: str) -> str | None:
        value = self.raw(name)
        if not value:
            self.fail("roster.required", field=label(name))
            return None
        return value

    def text(self, name: str, *, limit: int, required: bool = True) -> str:
        value = self._required(name) if required else self.raw(name)
        if value and len(value) > limit:
            self.fail("roster.too_long", field=label(name), limit=limit)
        return value or ""

    def ident(self, name: str, *, required: bool = True) -> str:
        """An id: at most 64 characters, none of them "|" or a control character."""
        value = self.text(name, limit=64, required=required)
        if value and has_forbidden_id_character(value):
            self.fail("roster.bad_id", field=label(name))
        return value

    def choice(self, name: str) -> str | None:
        value = self._required(name)
        if value is None:
            return None
        code = CHOICES[name].get(_squash(value))
        if code is None:
            codes = dict.fromkeys(CHOICES[name].values())
            options = t("list.sep").join(
                t("roster.choice_hint", code=c, label=LABELS[c]) for c in codes
            )
            self.fail("roster.bad_choice", field=label(name), value=value, choices=options)
        return code

    def number(self, name: str, low: float, high: float, *, required: bool = True) -> float | None:
        value = self._required(name) if required else self.raw(name)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail("roster.bad_number", field=label(name), value=value)
            return None
        if not math.isfinite(number) or not low <= number <= high:
            self.fail("roster.out_of_range", field=label(name), value=value, low=low, high=high)
            return None
        return number

    def grade(self) -> int | None:
        value = self._required("grade")
        if value is None:
            return None
        grade = parse_grade(value)
        if grade is None or not 0 <= grade <= 12:
            self.fail("roster.bad_grade", value=value)
            return None
        return grade

    def disability_grade(self) -> int | None:
        value = self._required("disability_grade")
        if value is None:
            return None
        grade = parse_disability_grade(value)
        if grade is None:
            self.fail("roster.bad_disability_grade", value=value)
        return grade

    def flag(self, name: str, *, default: bool | None = None) -> bool | None:
        """1/0 or 是/否; an empty cell gives ``default`` (None: the cell is required)."""
        value = self.raw(name)
        if not value:
            if default is None:
                self.fail("roster.required", field=label(name))
            return default
        parsed = FLAG_WORDS.get(_squash(value))
        if parsed is None:
            self.fail("roster.bad_flag", field=label(name), value=value)
        return parsed

    def phone(self, name: str) -> str:
        value = self.text(name, limit=32, required=False)
        if value and not _PHONE.fullmatch(value):
            self.fail("roster.bad_phone", value=value)
        return value


def label(name: str) -> str:
    """A column's Chinese name for messages."""
    return t(f"roster.field.{name}")
