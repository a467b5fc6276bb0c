"""The demo roster's rows, as the registry upserts take them, and one district's roster."""

import random
from dataclasses import asdict, dataclass, field

from server.demo.profiles import DistrictProfile


@dataclass(frozen=True)
class SchoolRow:
    id: str
    name: str
    district_code: str
    kind: str
    lat: float
    lon: float
    grades: range = field(default=range(1, 10), compare=False)

    def fields(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("id", "grades")}


@dataclass(frozen=True)
class StudentRow:
    id: str
    name: str
    district_code: str
    school_id: str
    stage: str
    grade: int
    placement: str
    disability_category: str
    disability_grade: int
    certified: bool
    home_lat: float
    home_lon: float
    address: str
    guardian_name: str
    guardian_phone: str
    photo_consent: bool
    active: bool
    iep_goals: list[str]

    def fields(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "id"}


@dataclass(frozen=True)
class StaffRow:
    username: str
    name: str
    role: str
    district_code: str | None
    base_school_id: str | None


@dataclass(frozen=True)
class AssignmentRow:
    username: str
    student_id: str | None
    school_id: str | None
    district_code: str


@dataclass
class DistrictRoster:
    profile: DistrictProfile
    rng: random.Random  # the district's own generator: the visit plan draws on from here
    special: SchoolRow
    schools: list[SchoolRow] = field(default_factory=list)  # ordinary ones
    students: list[StudentRow] = field(default_factory=list)
    staff: list[StaffRow] = field(default_factory=list)
    # username -> the children or schools they serve, in assignment order
    caseload: dict[str, list[StudentRow]] = field(default_factory=dict)
    rounds: dict[str, list[SchoolRow]] = field(default_factory=dict)

    def assignments(self) -> list[AssignmentRow]:
        code = self.profile.code
        return [
            AssignmentRow(user, child.id, None, code)
            for user, children in self.caseload.items()
            for child in children
        ] + [
            AssignmentRow(user, None, school.id, code)
            for user, schools in self.rounds.items()
            for school in schools
        ]
