"""Policy parameters as the console shows and reads them: Chinese labels, display units
(percent for the cap, yuan for money), and a form's text turned back into ``PolicyParams``.

The parameters themselves, their defaults and bounds are shared/policy.py's; this module only
converts units, so a form can never store a value the API would refuse.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from annotated_types import Ge, Le
from pydantic import ValidationError

from server.errors import ApiError
from shared.messages import t
from shared.policy import PolicyParams, SubsidyMode
from shared.terms import EARLIEST_DATE, LATEST_DATE

FIELDS = list(PolicyParams.model_fields)
_PERCENT = {"home_delivery_cap"}
_MONEY = {"flat_fen_per_visit", "fen_per_km", "monthly_cap_fen"}
_FLAGS = {"count_certified_only", "institution_in_denominator", "shared_trip_paid_each"}
_OPTIONAL = {"monthly_cap_fen"}  # empty: no cap
VALUE_LIMIT = 32  # characters of one posted value read


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str
    new: str


def label(name: str) -> str:
    return t(f"policy.param.{name}")


def kind(name: str) -> str:
    """How the form asks for ``name``: flag, mode, percent, money, decimal or int."""
    if name in _FLAGS:
        return "flag"
    if name == "subsidy_mode":
        return "mode"
    if name in _PERCENT:
        return "percent"
    if name in _MONEY:
        return "money"
    return "decimal" if name == "road_factor" else "int"


def show(name: str, value: Any) -> str:
    """``value`` in display units, as a page shows it (表格、对比)."""
    if value is None:
        return t("policy.no_cap")
    match kind(name):
        case "flag":
            return t("console.common.yes") if value else t("console.common.no")
        case "mode":
            return t(f"policy.mode.{SubsidyMode(value)}")
        case "percent":
            return f"{_plain(Decimal(str(value)) * 100)}%"
        case "money":
            return t("ui.unit.yuan", amount=f"{Decimal(int(value)) / 100:,.2f}")
    return _plain(Decimal(str(value)))


def form_value(name: str, value: Any) -> str:
    """``value`` as the form's input holds it (no unit, no thousands separator)."""
    if value is None:
        return ""
    match kind(name):
        case "flag":
            return "1" if value else "0"
        case "mode":
            return str(SubsidyMode(value))
        case "percent":
            return _plain(Decimal(str(value)) * 100)
        case "money":
            return f"{Decimal(int(value)) / 100:.2f}"
    return _plain(Decimal(str(value)))


def changes(old: PolicyParams, new: PolicyParams) -> list[Change]:
    a, b = old.model_dump(), new.model_dump()
    return [Change(k, label(k), show(k, a[k]), show(k, b[k])) for k in FIELDS if a[k] != b[k]]


def parse_date(text: str) -> date:
    """An effective date from the form; 400 ``policy.bad_date`` otherwise."""
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ApiError(400, "policy.bad_date", earliest=EARLIEST_DATE, latest=LATEST_DATE) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ApiError(400, "policy.bad_date", earliest=EARLIEST_DATE, latest=LATEST_DATE)
    return day


def parse(form: Mapping[str, Any]) -> PolicyParams:
    """Every field from the form's text; 400 ``policy.invalid`` naming the first bad one in
    Chinese, with its allowed range in display units."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        text = str(form.get(name) or "").strip()[:VALUE_LIMIT]
        try:
            values[name] = _read(name, text)
        except (ArithmeticError, ValueError):  # InvalidOperation, Overflow
            detail = t("policy.bad_value", label=label(name))
            raise ApiError(400, "policy.invalid", detail=detail) from None
    try:
        return PolicyParams.model_validate(values)
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        low, high = _bounds(name)
        raise ApiError(
            400,
            "policy.invalid",
            detail=t("policy.out_of_range", label=label(name), low=low, high=high),
        ) from None


def _read(name: str, text: str) -> Any:
    if not text:
        if name in _OPTIONAL:
            return None
        raise ValueError(name)
    match kind(name):
        case "flag":
            if text not in ("0", "1"):
                raise ValueError(name)
            return text == "1"
        case "mode":
            return SubsidyMode(text)
        case "percent":
            return _finite(text) / 100
        case "money":
            fen = _finite(text) * 100
            if fen != fen.to_integral_value():
                raise ValueError(name)  # less than a fen
            return int(fen)
        case "decimal":
            return _finite(text)
    return int(text)


def _finite(text: str) -> Decimal:
    number = Decimal(text)
    if not number.is_finite():
        raise ValueError(text)
    return number


def _bounds(name: str) -> tuple[str, str]:
    meta = PolicyParams.model_fields[name].metadata
    low = next((m.ge for m in meta if isinstance(m, Ge)), None)
    high = next((m.le for m in meta if isinstance(m, Le)), None)
    return show(name, low) if low is not None else "", show(name, high) if high is not None else ""


def _plain(number: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 5.00 → 5, 0.050 → 0.05."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
