"""How the screens write money, distance and time (China time, whatever the phone's zone).

The bundled font is a GB2312 subset: every character used here is in it (a test checks the
message catalogue), which is why money is written "12.30 元" rather than with a yen sign.
"""

from datetime import date, datetime

from shared.judge import duration_minutes
from shared.messages import t
from shared.terms import SHANGHAI

INPUT_FORMAT = "%Y-%m-%d %H:%M"
# A time typed with a Chinese keyboard's colon is still a time (input, not text shown).
_FULLWIDTH_COLON = {0xFF1A: ":"}


def money(fen: int | None) -> str:
    fen = fen or 0
    sign = "-" if fen < 0 else ""
    return t("ui.unit.yuan", amount=f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}")


def km(metres: int | None) -> str:
    return f"{(metres or 0) / 1000:.1f}"


def local(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return None
    return moment.astimezone(SHANGHAI)


def clock_time(moment: datetime | str | None) -> str:
    """10:05"""
    value = local(moment)
    return value.strftime("%H:%M") if value else ""


def day_time(moment: datetime | str | None) -> str:
    """11月12日 10:05"""
    value = local(moment)
    return (
        t("ui.date.short_time", month=value.month, day=value.day, time=f"{value:%H:%M}")
        if value
        else ""
    )


def time_beside(moment: datetime | str | None, other: datetime | str | None) -> str:
    """``moment`` as 10:05 when it falls on ``other``'s day, else as 11月12日 10:05."""
    a, b = local(moment), local(other)
    if a is not None and b is not None and a.date() == b.date():
        return clock_time(a)
    return day_time(a)


def day(value: date) -> str:
    """11月12日"""
    return t("ui.date.short", month=value.month, day=value.day)


def iso_day(value: object) -> date | None:
    """A record's ISO day (2026-12-17) as a date; None when absent or not a day."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def long_day(value: date) -> str:
    """2026年12月15日"""
    return t("ui.date.long", year=value.year, month=value.month, day=value.day)


def day_near(value: date, today: date) -> str:
    """12月15日 in today's year, 2027年1月5日 in another (short enough for a phone's button)."""
    return day(value) if value.year == today.year else long_day(value)


def input_text(moment: datetime | str | None) -> str:
    """The text of an editable time field: 2025-11-12 10:05."""
    value = local(moment)
    return value.strftime(INPUT_FORMAT) if value else ""


def parse_input(text: str) -> datetime | None:
    """The time a teacher typed (China time), or None when it is not one."""
    text = text.strip().replace("/", "-").translate(_FULLWIDTH_COLON)
    for fmt in (INPUT_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def minutes_between(start: str | None, end: str | None) -> int | None:
    """The judge's duration (``shared.judge.duration_minutes``) of two ISO times."""
    a, b = local(start), local(end)
    if a is None or b is None:
        return None
    return duration_minutes(a, b)
