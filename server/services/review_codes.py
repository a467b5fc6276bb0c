"""Reason codes a coordinator picks when approving or rejecting a visit, and the reason text
they make with the note typed beside them.

The phone shows the teacher ``review_reason``, so the stored reason is readable text: the code's
Chinese label, then the note (「【定位不符】签到点在镇上」). The code itself is kept in the
visit's change history.
"""

from server.services.errors import DomainError
from shared.domain import ReviewStatus
from shared.messages import t

CODES: dict[str, tuple[str, ...]] = {
    ReviewStatus.APPROVED: ("verified", "explained", "other"),
    ReviewStatus.REJECTED: (
        "insufficient_evidence",
        "location_mismatch",
        "too_short",
        "duplicate",
        "content_incomplete",
        "other",
    ),
}
OTHER = "other"


def label(code: str) -> str:
    return t(f"desk.reason.{code}")


def reason_text(decision: str, code: str, note: str) -> str:
    """The review reason for ``code`` and ``note``; ``DomainError`` for a code that does not
    fit the decision, or "other" without a note. An empty code leaves the note alone (the
    reason a rejection needs is then checked by services/review.py)."""
    note = (note or "").strip()
    if not code:
        return note
    if code not in CODES.get(decision, ()):
        raise DomainError("desk.reason_code_invalid")
    if code == OTHER:
        if not note:
            raise DomainError("desk.reason_note_required")
        return note
    return t("review.coded_note", code=label(code), note=note)
