"""The fields of a visit version as a coordinator reads them: Chinese labels and values.

Used by the change history (services/visit_history.py) to show what changed between versions.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.messages import t
from shared.terms import SHANGHAI

# (name, where): "record" for the pushed record's fields, "server" for the server's judgement.
FIELDS: tuple[tuple[str, str], ...] = (
    ("deleted", "server"),
    ("student_id", "record"),
    ("school_id", "record"),
    ("started_at", "record"),
    ("ended_at", "record"),
    ("check_in", "record"),
    ("check_out", "record"),
    ("content", "record"),
    ("iep_goals", "record"),
    ("student_response", "record"),
    ("guardian_guidance", "record"),
    ("purposes", "record"),
    ("students_seen", "record"),
    ("findings", "record"),
    ("recommendations", "record"),
    ("photos", "record"),
    ("travel", "record"),
    ("flags", "server"),
    ("distance_m", "server"),
    ("subsidy_fen", "server"),
)
_TEXT_LIMIT = 300  # characters of a long text shown in a change line


def label(name: str) -> str:
    return t(f"desk.field.{name}")


def shown(name: str, value: Any, names: Mapping[str, str]) -> str:
    """``value`` of field ``name`` as text; "（空）" for nothing."""
    if value is None or value == "" or value == []:
        return t("desk.value.empty")
    match name:
        case "deleted":
            return t("desk.value.deleted") if value else t("desk.value.live")
        case "student_id" | "school_id":
            return (
                t("console.common.name_code", name=names[value], code=value)
                if names.get(value)
                else str(value)
            )
        case "started_at" | "ended_at":
            return _local(value)
        case "check_in" | "check_out":
            return _place(value)
        case "iep_goals":
            return t("list.clause_sep").join(str(g) for g in value)
        case "purposes":
            return t("list.sep").join(t(f"purpose.{p}") for p in value)
        case "students_seen":
            return t("list.sep").join(names.get(s, s) for s in value)
        case "recommendations":
            return _recommendations(value)
        case "photos":
            return t("desk.value.photos", count=len(value))
        case "travel":
            return _travel(value)
        case "flags":
            return t("list.sep").join(t(f"flag.{f}") for f in value)
        case "distance_m":
            return t("desk.value.km", km=f"{int(value) / 1000:,.1f}")
        case "subsidy_fen":
            return t("desk.value.yuan", yuan=f"{Decimal(int(value)) / 100:,.2f}")
    text = str(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "…"


def _local(value: Any) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)[:40]
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _place(value: Any) -> str:
    if not isinstance(value, Mapping):
        return t("desk.value.no_position")
    return t(
        "desk.value.position",
        lat=f"{float(value.get('lat', 0)):.5f}",
        lon=f"{float(value.get('lon', 0)):.5f}",
        accuracy=round(float(value.get("accuracy_m", 0))),
    )


def _recommendations(value: Any) -> str:
    if isinstance(value, str):
        return value[:_TEXT_LIMIT]
    parts = []
    for item in value:
        text = str(item.get("text", "")) if isinstance(item, Mapping) else str(item)
        due = item.get("due_date") if isinstance(item, Mapping) else None
        parts.append(t("desk.value.due", text=text, due=due) if due else text)
    return t("list.clause_sep").join(parts)


def _travel(value: Any) -> str:
    if not isinstance(value, Mapping):
        return t("desk.value.empty")
    origin = value.get("origin")
    start = (
        f"{float(origin['lat']):.5f}, {float(origin['lon']):.5f}"
        if isinstance(origin, Mapping)
        else t("desk.value.base_school")
    )
    shared = t("list.sep").join(value.get("shared_with") or []) or t("desk.value.none")
    return t("desk.value.travel", mode=t(f"mode.{value.get('mode')}"), origin=start, shared=shared)
