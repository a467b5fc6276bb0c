"""Reading roster files: bytes in, the kind of roster and its rows of text out.

Knows nothing of the database. The kind comes from the header row, never from the file name.
Anything that makes the whole file unusable raises ``RosterFileError`` with a stable code (a key
of ``shared.messages``) and the values of its Chinese message.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from server.services.roster_spellings import ALIASES, HEADER_NOISE, HEADER_REMARK, SENSITIVE_MARKS
from shared.messages import t

# Dependency order: a later kind refers to rows of earlier ones.
KINDS = ("districts", "schools", "students", "staff", "assignments")

REQUIRED: dict[str, tuple[str, ...]] = {
    "districts": ("district_code", "name"),
    "schools": ("school_id", "name", "district_code", "kind", "lat", "lon"),
    "students": (
        "student_id",
        "name",
        "district_code",
        "school_id",
        "stage",
        "grade",
        "placement",
        "disability_category",
        "disability_grade",
        "certified",
    ),  # fmt: skip
    "staff": ("username", "name", "role", "district_code"),
    "assignments": ("username",),
}
# Optional columns: when absent, an update keeps what the record already holds.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "districts": (),
    "schools": (),
    "students": (
        "home_lat",
        "home_lon",
        "address",
        "guardian_name",
        "guardian_phone",
        "photo_consent",
        "active",
    ),  # fmt: skip
    "staff": ("base_school_id",),
    "assignments": ("student_id", "school_id", "remove"),
}
# A header is of a kind only if it has that kind's identifying column.
KEY_COLUMN = {
    "districts": "district_code",
    "schools": "school_id",
    "students": "student_id",
    "staff": "username",
    "assignments": "username",
}

# Which column stands in for a missing one, per kind ("区县名称" is the name in a districts
# file, and names the district elsewhere).
FALLBACKS: dict[str, dict[str, str]] = {
    "districts": {"name": "district_name"},
    "schools": {"name": "school_name", "district_code": "district_name"},
    "students": {"district_code": "district_name"},
    "staff": {"district_code": "district_name"},
    "assignments": {},
}
MAX_ROWS = 100_000
MAX_UNZIPPED = 256 * 1024 * 1024  # an XLSX larger than this once unpacked is refused unread
HEADER_SEARCH = 5  # title rows above the header that are skipped


class RosterFileError(Exception):
    """The file as a whole cannot be imported."""

    def __init__(self, code: str, *, status: int = 400, **values: Any) -> None:
        super().__init__(code)
        self.code, self.status, self.values = code, status, values

    @property
    def message(self) -> str:
        return t(self.code, **self.values)


def _unreadable(detail_key: str, **values: Any) -> RosterFileError:
    return RosterFileError("roster_unreadable", detail=t(detail_key, **values))


@dataclass
class Table:
    kind: str
    columns: tuple[str, ...]  # canonical names present, in the order of the header
    rows: list[tuple[int, dict[str, str]]]  # (row number as Excel shows it, column -> text)
    notes: list[str] = field(default_factory=list)


def _norm(header: str) -> str:
    return re.sub(HEADER_NOISE, "", header).lower()


_LOOKUP = {_norm(a): name for name, aliases in ALIASES.items() for a in (name, *aliases)}


def canonical(header: str) -> str | None:
    """The canonical column for a header: exact alias first, then without a bracketed remark
    such as "纬度（WGS84）" or "姓名(必填)"."""
    key = _norm(header)
    if key in _LOOKUP:
        return _LOOKUP[key]
    return _LOOKUP.get(re.sub(HEADER_REMARK, "", key))


def is_sensitive(header: str) -> bool:
    key = _norm(header)
    return any(mark in key for mark in SENSITIVE_MARKS)


def kind_columns(kind: str, names: set[str]) -> dict[str, str]:
    """The kind's columns available in ``names``: canonical -> the column supplying it."""
    wanted = REQUIRED[kind] + OPTIONAL[kind]
    found = {n: n for n in wanted if n in names}
    for target, source in FALLBACKS[kind].items():
        if target not in found and source in names:
            found[target] = source
    return found


def detect_kind(names: set[str]) -> str | None:
    """The kind whose columns the header matches most; a tie goes to the kind with fewer
    columns (a bare "district_code, name" is a districts file, not an incomplete schools one)."""
    best: tuple[int, int] | None = None
    kind_found = None
    for kind in KINDS:
        found = kind_columns(kind, names)
        if KEY_COLUMN[kind] not in found:
            continue
        rank = (len(found), -len(REQUIRED[kind] + OPTIONAL[kind]))
        if best is None or rank > best:
            best, kind_found = rank, kind
    return kind_found


def read_table(data: bytes, name: str = "") -> Table:
    """Parse a roster file (CSV in UTF-8, with or without BOM, or GBK/GB18030; or XLSX: first
    sheet). The format comes from the bytes; ``name`` only makes the message clearer for a
    broken .xlsx. A CSV read as GB18030 says so in the table's notes."""
    grid = _grid(data, name)
    encoding_notes = [t("roster.note_gbk")] if csv_encoding(data) == "gb18030" else []
    first: list[str] | None = None
    for _ in range(HEADER_SEARCH):
        number, header = _next_filled(grid)
        if header is None:
            break
        first = first or header
        table = _table_from_header(header, number, grid)
        if table is not None:
            table.notes = encoding_notes + table.notes
            return table
    if first is None:
        raise _unreadable("roster.detail.empty")
    shown = t("list.sep").join(h for h in first if h)[:200]
    raise RosterFileError("roster_unknown_kind", header=shown)


def peek_kind(data: bytes, name: str = "") -> str | None:
    """The file's kind from its header alone, or None when it cannot be read."""
    try:
        grid = _grid(data, name)
        for _ in range(HEADER_SEARCH):
            _, header = _next_filled(grid)
            if header is None:
                return None
            kind = detect_kind({c for h in header if (c := canonical(h))})
            if kind:
                return kind
    except RosterFileError:
        return None
    return None


def _next_filled(grid: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str] | None]:
    for number, row in grid:
        if any(row):
            return number, row
    return 0, None


def _table_from_header(
    header: list[str], header_row: int, grid: Iterator[tuple[int, list[str]]]
) -> Table | None:
    positions: dict[str, list[int]] = {}
    sensitive, ignored = [], []
    for i, label in enumerate(header):
        if not label:
            continue
        name = canonical(label)
        if name is None and is_sensitive(label):
            sensitive.append(label)
        elif name is None:
            ignored.append(label)
        else:
            positions.setdefault(name, []).append(i)
    kind = detect_kind(set(positions))
    if kind is None:
        return None
    found = kind_columns(kind, set(positions))
    missing = [c for c in REQUIRED[kind] if c not in found]
    if kind == "assignments" and not {"student_id", "school_id"} & set(found):
        missing.append("student_id / school_id")
    if missing:
        named = ["/".join(t(f"roster.field.{n}") for n in c.split(" / ")) for c in missing]
        labels = t("list.sep").join(named)
        raise RosterFileError("roster_missing_columns", columns=", ".join(missing), labels=labels)
    repeated = [
        header[i] for src in found.values() for i in positions[src] if len(positions[src]) > 1
    ]
    if repeated:
        raise _unreadable("roster.detail.repeated_columns", columns=t("list.sep").join(repeated))
    used = set(found.values())
    ignored += [header[i] for name, idx in positions.items() if name not in used for i in idx]
    notes = [t("roster.note_sensitive", column=label) for label in sensitive]
    if ignored:
        notes.append(t("roster.note_ignored", columns=t("list.sep").join(ignored)))
    if header_row > 1:
        notes.append(t("roster.note_header_row", row=header_row))
    index = {target: positions[source][0] for target, source in found.items()}
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in grid:
        if not any(cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise _unreadable("roster.detail.too_many_rows", limit=MAX_ROWS)
        rows.append((number, {c: cells[i] if i < len(cells) else "" for c, i in index.items()}))
    return Table(kind=kind, columns=tuple(index), rows=rows, notes=notes)


def _grid(data: bytes, name: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, stripped cell texts) for every row; row 1 is the first line."""
    if not data.strip():
        raise _unreadable("roster.detail.empty")
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: a legacy .xls workbook
        raise _unreadable("roster.detail.xls")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise _unreadable("roster.detail.not_xlsx")
    return _csv_rows(data)


# What a CSV may be written in: UTF-8 (with or without BOM) first, then GB18030, the superset
# of GBK that Excel on a Chinese Windows writes for "CSV (逗号分隔)". Strict decoding in this
# order never misreads a UTF-8 file: Chinese text in GBK is almost never valid UTF-8, and the
# header must still name a roster's columns, so a file in some other encoding (whose bytes
# GB18030 might turn into other characters) is refused as an unknown header, not imported.
ENCODINGS = ("utf-8-sig", "gb18030")


def decode_csv(data: bytes) -> str:
    """The text of a CSV file in one of ``ENCODINGS``; ``roster_encoding`` otherwise."""
    if b"\x00" in data:  # UTF-16 exports and binary files: no encoding above holds NUL
        raise RosterFileError("roster_encoding")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterFileError("roster_encoding")


def csv_encoding(data: bytes) -> str | None:
    """The encoding ``decode_csv`` reads ``data`` in (None for XLSX or an unreadable file)."""
    if data.startswith(b"PK\x03\x04") or b"\x00" in data:
        return None
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                yield number, [cell.strip() for cell in row]
        except csv.Error as exc:
            raise _unreadable("roster.detail.csv", row=number + 1) from exc

    return rows()


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
                raise _unreadable("roster.detail.too_large")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except RosterFileError:
        raise
    except Exception as exc:  # any parser failure on an untrusted upload means "not an XLSX"
        raise _unreadable("roster.detail.not_xlsx") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            if not workbook.worksheets:
                return
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell_text(v) for v in values]
        except RosterFileError:
            raise
        except Exception as exc:
            raise _unreadable("roster.detail.not_xlsx") from exc
        finally:
            workbook.close()

    return rows()


def _cell_text(value: Any) -> str:
    """A cell as the text a person sees: 330127 not 330127.0, 1/0 for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()
