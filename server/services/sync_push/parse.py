"""Phase 1 of a push: each op parsed, validated, dumped and hashed, with no database."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.messages import describe_validation_errors, t
from shared.protocol import DeleteRecord, ErrorBody, PushOp, PushResult, VisitRecord


@dataclass(slots=True)
class Parsed:
    """One op as parsed before any database work: its rejection, or what judging needs."""

    raw: Any
    rejection: PushResult | None = None
    op: PushOp | None = None
    record: VisitRecord | DeleteRecord | None = None
    dumped: dict[str, Any] = field(default_factory=dict)  # hashed here, stored by _upsert
    body_hash: str = ""


def parse_op(raw: Any) -> Parsed:
    try:
        op = PushOp.model_validate(raw)
    except ValidationError as exc:
        detail = describe_validation_errors(exc.errors())
        return Parsed(raw, rejected(op_id_of(raw), None, "invalid_record", detail=detail))
    try:
        record: VisitRecord | DeleteRecord
        if op.type == "visit.upsert":
            record = VisitRecord.from_pushed(op.record)
        else:
            record = DeleteRecord.model_validate(op.record)
    except ValidationError as exc:
        detail = describe_validation_errors(exc.errors())
        rid = op.record.get("id") if isinstance(op.record.get("id"), str) else None
        return Parsed(raw, rejected(str(op.op_id), rid, "invalid_record", detail=detail))
    dumped = record.model_dump(mode="json")
    return Parsed(raw, None, op, record, dumped, meaning_hash(op, dumped))


def rejected(op_id: str | None, record_id: str | None, code: str, **values: Any) -> PushResult:
    return PushResult(
        op_id=op_id,
        status="rejected",
        id=record_id,
        error=ErrorBody(code=code, message=t(code, **values)),
    )


def op_id_of(raw: Any) -> str | None:
    value = raw.get("op_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def meaning_hash(op: PushOp, record: dict[str, Any]) -> str:
    """What a replay must match: the op's meaning, i.e. its validated ``record`` (as dumped to
    JSON) in canonical form, so that a resend written by another encoder (``15`` for ``15.0``,
    keys reordered, server fields echoed back) is the same op."""
    body = {"type": op.type, "record": record, "base_version": op.base_version}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def raw_hash(op: PushOp) -> str:
    """The hash stored for ops applied before replays compared meanings (of the raw body)."""
    body = {"type": op.type, "record": op.record, "base_version": op.base_version}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
