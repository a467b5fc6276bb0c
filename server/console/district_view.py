"""The district page's tables, in the order a coordinator acts on them: the children behind on
home teaching first, the schools short of itinerant visits first.

Every figure is the compliance service's (``district_detail.district_detail``); this module only
names, sorts and lays them out. The page names children and nothing more about them
(minimum necessary: no address, guardian or certificate).
"""

from dataclasses import dataclass

from sqlmodel import Session

from server.console import lookup
from server.services.district_detail import DistrictDetail
from shared.domain import EvidenceFlag, Placement, Stage, VisitKind


@dataclass(frozen=True)
class Cell:
    sessions: int
    owed: int

    @property
    def state(self) -> str:
        """CSS class: behind the standard, met, or nothing owed (a vacation month)."""
        if self.owed == 0:
            return "none"
        return "behind" if self.sessions < self.owed else "met"


@dataclass(frozen=True)
class ChildRow:
    student_id: str
    name: str
    cells: list[Cell]

    @property
    def months_behind(self) -> int:
        return sum(c.state == "behind" for c in self.cells)

    @property
    def shortfall(self) -> int:
        return sum(max(0, c.owed - c.sessions) for c in self.cells)


@dataclass(frozen=True)
class SchoolRow:
    school_id: str
    name: str
    visits: int
    required: int
    instructors: list[str]  # names

    @property
    def covered(self) -> bool:
        return self.visits >= self.required


@dataclass(frozen=True)
class InstructorRow:
    username: str
    name: str
    schools: int
    covered: int

    @property
    def coverage(self) -> float:
        return self.covered / self.schools if self.schools else 1.0


@dataclass(frozen=True)
class DistrictPage:
    months: list[int]
    children: list[ChildRow]
    schools: list[SchoolRow]
    instructors: list[InstructorRow]
    stages: list[str]
    placements: list[tuple[str, list[int], int]]  # placement, count per stage, total
    stage_totals: list[int]
    flags: list[tuple[str, list[int], int]]  # flag, count per visit kind, total
    kinds: list[str]


def build(session: Session, detail: DistrictDetail) -> DistrictPage:
    months = sorted(detail.owed)
    children = lookup.student_names(session, detail.sessions)
    schools = lookup.school_names(session, detail.school_visits)
    it = detail.report.itinerant
    staff = lookup.user_names(
        session,
        [r.username for r in it.instructors]
        + [u for users in detail.school_instructors.values() for u in users],
    )
    child_rows = [
        ChildRow(sid, children.get(sid, sid), [Cell(got[m], detail.owed[m]) for m in months])
        for sid, got in detail.sessions.items()
    ]
    child_rows.sort(key=lambda c: (-c.months_behind, -c.shortfall, c.name, c.student_id))
    school_rows = [
        SchoolRow(
            sid,
            schools.get(sid, sid),
            n,
            it.required_visits,
            [staff.get(u, u) for u in detail.school_instructors.get(sid, [])],
        )
        for sid, n in detail.school_visits.items()
    ]
    school_rows.sort(key=lambda s: (s.covered, s.visits, s.name, s.school_id))
    instructor_rows = [
        InstructorRow(r.username, staff.get(r.username, r.username), r.schools, r.covered)
        for r in it.instructors
    ]
    instructor_rows.sort(key=lambda r: (r.coverage, r.name))
    stages = [s.value for s in Stage]
    placements = []
    for placement in Placement:
        counts = [detail.placements.get((stage, placement.value), 0) for stage in stages]
        placements.append((placement.value, counts, sum(counts)))
    stage_totals = [sum(row[1][i] for row in placements) for i in range(len(stages))]
    kinds = [k.value for k in VisitKind]
    flags = []
    for flag in EvidenceFlag:
        counts = [detail.flags.get(flag.value, {}).get(kind, 0) for kind in kinds]
        if any(counts):
            flags.append((flag.value, counts, sum(counts)))
    flags.sort(key=lambda f: -f[2])
    return DistrictPage(
        months=months,
        children=child_rows,
        schools=school_rows,
        instructors=instructor_rows,
        stages=stages,
        placements=placements,
        stage_totals=stage_totals,
        flags=flags,
        kinds=kinds,
    )
