"""The travel-subsidy sheet: per district, teacher and month, the counted visits and what is
payable once the policy's monthly cap per teacher is applied (shared.compliance.capped_subsidy),
the cap of the policy that settles the month (shared.judge.policy_for_month)."""

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlmodel import Session, col, select

from server.errors import ApiError
from server.models import District, User
from shared.messages import t
from shared.terms import SHANGHAI, MonthError, month_of, parse_month

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

SUBSIDY_COLUMNS = [
    t(f"export.col.{name}")
    for name in (
        "district_code", "district", "teacher", "teacher_name", "month", "visits",
        "approved_visits", "km", "claimed", "cap", "payable", "approved_payable",
    )
]  # fmt: skip


def safe_text(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def month_or_400(month: str, today: date) -> tuple[int, date]:
    """(YYYYMM, last day of the month); empty: this month in Asia/Shanghai. 400
    ``console.invalid_month`` for anything shared.terms.parse_month refuses."""
    try:
        first, last = parse_month(month.strip() or today.strftime("%Y-%m"))
    except MonthError:
        raise ApiError(400, "console.invalid_month") from None
    return month_of(first), last


APPROVAL_COLUMNS = [
    t(f"export.col.{name}")
    for name in ("approval_state", "approval_amount", "approver", "approved_at")
]
# Below the totals, for the paper copy the finance office files.
SIGNATURE_LINES = tuple(t(f"export.sign.{who}") for who in ("maker", "centre", "finance"))


def workbook(
    session: Session,
    rows: list[dict[str, Any]],
    *,
    label: str,
    code: str | None,
    actor: str,
    approvals: dict[tuple[str, str], list[Any]] | None = None,
) -> bytes:
    """The XLSX: one row per district and teacher, a total row, signature lines, and a sheet
    saying what it is. ``approvals``: the APPROVAL_COLUMNS cells of each (district, teacher)
    (server/services/subsidy_approvals.py); a row without any shows 未审批."""
    approvals = approvals or {}
    districts = dict(session.exec(select(District.code, District.name)).all())
    teachers = dict(
        session.exec(
            select(User.username, User.name).where(
                col(User.username).in_({r["teacher"] for r in rows})
            )
        ).all()
    )
    book = Workbook()
    sheet = book.active
    sheet.title = t("export.subsidy.sheet", month=label)
    sheet.append(SUBSIDY_COLUMNS + APPROVAL_COLUMNS)
    for r in rows:
        sheet.append(
            [
                safe_text(r["district_code"]),
                safe_text(districts.get(r["district_code"], "")),
                safe_text(r["teacher"]),
                safe_text(teachers.get(r["teacher"], "")),
                label,
                r["visits"],
                r["approved_visits"],
                Decimal(r["distance_m"]) / 1000,
                yuan(r["claimed_fen"]),
                yuan(r["cap_fen"]) if r["cap_fen"] is not None else t("policy.no_cap"),
                yuan(r["payable_fen"]),
                yuan(r["approved_fen"]),
                *approvals.get(
                    (r["district_code"], r["teacher"]),
                    [t("console.subsidies.not_approved"), "", "", ""],
                ),
            ]
        )
    total: list[Any] = [t("console.common.total"), "", "", "", label]
    for key in ("visits", "approved_visits"):
        total.append(sum(r[key] for r in rows))
    total.append(Decimal(sum(r["distance_m"] for r in rows)) / 1000)
    total.append(yuan(sum(r["claimed_fen"] for r in rows)))
    total.append("")
    total += [yuan(sum(r[k] for r in rows)) for k in ("payable_fen", "approved_fen")]
    approved = [cells[1] for cells in approvals.values() if isinstance(cells[1], Decimal)]
    total += [
        t("export.subsidy.approved_count", approved=len(approved), teachers=len(rows)),
        sum(approved, Decimal(0)),
    ]
    sheet.append(total)
    _style(sheet, len(rows))
    sheet.append([])
    for signature in SIGNATURE_LINES:
        sheet.append([signature, "", "", "", "", "", t("export.sign.date")])
    notes = book.create_sheet(t("export.about.sheet"))
    for line in (
        ("export.col.month", label),
        (
            "export.col.district",
            f"{code} {districts.get(code, '')}" if code else t("export.about.all"),
        ),
        ("export.about.actor", actor),
        ("export.about.at", datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M")),
        ("export.about.basis", t("export.about.basis_text")),
        ("console.subsidies.approval", t("export.about.approval_text")),
        ("console.subsidies.stale", t("export.about.stale_text")),
    ):
        notes.append([t(line[0]), line[1]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _style(sheet: Any, n_rows: int) -> None:
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[n_rows + 2]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=2, max_row=n_rows + 2, min_col=8, max_col=14):
        for cell in row:
            if cell.column != 13:
                cell.number_format = "0.0" if cell.column == 8 else "#,##0.00"
    widths = (10, 10, 14, 10, 9, 9, 14, 16, 14, 14, 16, 16, 16, 14, 12, 17)
    for letter, width in zip("ABCDEFGHIJKLMNOP", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
