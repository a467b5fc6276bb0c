"""Photo consent (domain.md, Privacy): photos of a visit need the guardian's separate consent
of every child they may show. A home-teaching session's photos show its child; an itinerant
visit's photos (a classroom, a resource room) may show any child the visit lists as seen."""

from collections.abc import Callable, Iterable

from shared.domain import VisitKind


def photographed_children(
    kind: str, student_id: str | None, students_seen: Iterable[str]
) -> list[str]:
    """The children whose consent a visit's photos need."""
    if kind == VisitKind.HOME_TEACHING:
        return [student_id] if student_id else []
    return list(dict.fromkeys(students_seen))


def without_photo_consent(children: Iterable[str], consented: Callable[[str], bool]) -> list[str]:
    """Those of ``children`` whose guardian has not agreed to photos, in order."""
    return [child for child in children if not consented(child)]
