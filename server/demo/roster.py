"""The demo roster as a pure function of fixed seeds: no database, no clock.

Each district draws from its own generator (seeded by its code), so editing one district's
profile leaves every other district's records, ids and visits exactly as they were. The
generator is handed on to the visit plan (server/demo/visits.py), which draws from it next.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import replace

from server.demo import words
from server.demo.places import around
from server.demo.profiles import SPREAD_KM, UNASSIGNED_SCHOOLS, DistrictProfile
from server.demo.rows import DistrictRoster, SchoolRow, StaffRow, StudentRow
from shared.domain import DisabilityCategory as Cat
from shared.domain import Placement, Role, SchoolKind, Stage

SEED = "songjiao-demo-2025"
PASSWORD = "songjiao2025"  # every demo login; printed in the summary
ADMIN = StaffRow("admin", "杭州市教育局管理员", Role.ADMIN, None, None)

# Per placement: ((categories, their weights), weights of disability grades 1-4)
_Mix = tuple[tuple[tuple[Cat, ...], tuple[int, ...]], tuple[int, ...]]
_CATEGORIES: dict[str, _Mix] = {
    Placement.HOME_DELIVERY: (
        ((Cat.MULTIPLE, Cat.INTELLECTUAL, Cat.PHYSICAL, Cat.MENTAL), (40, 25, 20, 15)),
        (70, 30, 0, 0),
    ),
    Placement.REGULAR_CLASS: (
        (
            (Cat.INTELLECTUAL, Cat.MENTAL, Cat.HEARING, Cat.VISUAL, Cat.SPEECH, Cat.PHYSICAL),
            (30, 25, 12, 8, 10, 15),
        ),
        (0, 10, 40, 50),
    ),
}
_OTHER_CATEGORIES: _Mix = (
    (
        (Cat.INTELLECTUAL, Cat.MENTAL, Cat.HEARING, Cat.VISUAL, Cat.MULTIPLE, Cat.PHYSICAL),
        (35, 25, 12, 8, 12, 8),
    ),
    (15, 40, 35, 10),
)


def person(rng: random.Random, given: Sequence[str]) -> str:
    return rng.choice(words.SURNAMES) + rng.choice(given)


def build_roster(profile: DistrictProfile) -> DistrictRoster:
    rng = random.Random(f"{SEED}-{profile.code}")
    places = [a + b for a in words.PLACE_FIRST for b in words.PLACE_SECOND]
    rng.shuffle(places)
    spot = around(rng, profile.lat, profile.lon, 0.3, 1.5)
    special = SchoolRow(
        f"SC{profile.code}-TJ",
        f"{profile.name}特殊教育学校",
        profile.code,
        SchoolKind.SPECIAL,
        *spot,
    )
    roster = DistrictRoster(profile, rng, special)
    _schools(roster, places)
    _students(roster, places)
    _staff(roster)
    return roster


def _schools(r: DistrictRoster, places: list[str]) -> None:
    p, n = r.profile, r.profile.schools
    near, _ = SPREAD_KM[p.area]
    for i in range(n):
        if i < round(n * 0.6):
            suffix, grades = "小学", range(1, 7)
        elif i < round(n * 0.9):
            suffix, grades = "中学", range(7, 10)
        else:
            suffix, grades = "学校", range(1, 10)  # 九年一贯制
        # A county has schools in its seat too, not only out in the townships.
        lo, hi = (1.0, 4.0) if p.area == "county" and i in (0, n - 1) else near
        lat, lon = around(r.rng, p.lat, p.lon, lo, hi)
        r.schools.append(
            SchoolRow(
                f"SC{p.code}-{i + 1:02d}",
                f"{p.name}{places.pop()}{suffix}",
                p.code,
                SchoolKind.ORDINARY,
                lat,
                lon,
                grades,
            )
        )


def _placements(r: DistrictRoster) -> list[str]:
    p = r.profile
    cap_count = p.children * 5 // 100
    if p.home_share <= 0.05:
        home = max(4, min(cap_count, round(p.children * p.home_share)))
    else:
        home = max(cap_count + 1, round(p.children * p.home_share))
    rest = p.children - home
    special, special_class, institution = round(rest * 0.2), round(rest * 0.1), round(rest * 0.07)
    regular = rest - special - special_class - institution
    counts = (
        (Placement.HOME_DELIVERY, home),
        (Placement.SPECIAL_SCHOOL, special),
        (Placement.SPECIAL_CLASS, special_class),
        (Placement.INSTITUTION, institution),
        (Placement.REGULAR_CLASS, regular),
    )
    out: list[str] = [placement for placement, n in counts for _ in range(n)]
    r.rng.shuffle(out)
    return out


def _students(r: DistrictRoster, places: list[str]) -> None:
    p, rng = r.profile, r.rng
    _, far = SPREAD_KM[p.area]
    towns = [places.pop() for _ in range(6)]
    hosts = [s for s in r.schools if s.grades == range(1, 7)][:2]  # 卫星班 in two primaries
    centre = around(rng, p.lat, p.lon, 2.0, 6.0)
    centre_name = f"{p.name}{places.pop()}康复中心"
    # A few outside the compulsory stage, in the special school's preschool and high-school
    # sections: they never count toward the cap.
    kids = [(pl, Stage.COMPULSORY) for pl in _placements(r)]
    kids += [(Placement.SPECIAL_SCHOOL, Stage.PRESCHOOL)] * rng.randint(1, 3)
    kids += [(Placement.SPECIAL_SCHOOL, Stage.HIGH_SCHOOL)] * rng.randint(1, 3)
    for n, (placement, stage) in enumerate(kids, start=1):
        grade = {Stage.PRESCHOOL: 0, Stage.HIGH_SCHOOL: rng.randint(10, 12)}.get(
            stage, rng.randint(1, 9)
        )
        school, address = r.special, _address(rng, p.area, towns)
        if placement == Placement.REGULAR_CLASS:
            school = rng.choice([s for s in r.schools if grade in s.grades])
            home = around(rng, school.lat, school.lon, 0.2, 2.0)
        elif placement == Placement.SPECIAL_CLASS:
            grade, school = rng.randint(1, 6), rng.choice(hosts)
            home = around(rng, school.lat, school.lon, 0.2, 3.0)
        elif placement == Placement.INSTITUTION:
            home, address = centre, centre_name
        else:
            home = around(rng, p.lat, p.lon, *far)
        r.students.append(_student(r, n, placement, stage, grade, school, home, address))
    # Now and then a child who has left the roll (moved away): kept, counted nowhere.
    if rng.random() < 0.5:
        school = rng.choice(r.schools)
        home = around(rng, school.lat, school.lon, 0.2, 2.0)
        grade = rng.choice(school.grades)
        gone = _student(
            r,
            len(kids) + 1,
            Placement.REGULAR_CLASS,
            Stage.COMPULSORY,
            grade,
            school,
            home,
            _address(rng, p.area, towns),
        )
        r.students.append(replace(gone, active=False))


def _student(
    r: DistrictRoster,
    n: int,
    placement: str,
    stage: str,
    grade: int,
    school: SchoolRow,
    home: tuple[float, float],
    address: str,
) -> StudentRow:
    rng = r.rng
    (cats, cat_w), grade_w = _CATEGORIES.get(placement, _OTHER_CATEGORIES)
    surname = rng.choice(words.SURNAMES)
    guardian_surname = surname if rng.random() < 0.6 else rng.choice(words.SURNAMES)
    at_home = placement == Placement.HOME_DELIVERY
    return StudentRow(
        id=f"ST{r.profile.code}-{n:04d}",
        name=surname + rng.choice(words.CHILD_GIVEN),
        district_code=r.profile.code,
        school_id=school.id,
        stage=stage,
        grade=grade,
        placement=placement,
        disability_category=rng.choices(cats, cat_w)[0],
        disability_grade=rng.choices((1, 2, 3, 4), grade_w)[0],
        certified=rng.random() < 0.9,
        home_lat=home[0],
        home_lon=home[1],
        address=address,
        guardian_name=guardian_surname + rng.choice(words.ADULT_GIVEN),
        guardian_phone=f"1380000{rng.randrange(10000):04d}",
        photo_consent=rng.random() < 0.85,
        active=True,
        iep_goals=rng.sample(words.IEP_GOALS, 3) if at_home else [],
    )


def _address(rng: random.Random, area: str, towns: list[str]) -> str:
    village = rng.choice(words.PLACE_FIRST) + rng.choice(words.PLACE_SECOND)
    if area == "urban" or (area == "suburban" and rng.random() < 0.5):
        building = f"{rng.randint(1, 30)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
        return f"{rng.choice(towns)}街道{village}社区{building}"
    return f"{rng.choice(towns)}镇{village}村{rng.randint(1, 200)}号"


def _staff(r: DistrictRoster) -> None:
    p, rng = r.profile, r.rng
    adults = words.ADULT_GIVEN
    r.staff.append(StaffRow(f"c_{p.code}", person(rng, adults), Role.COORDINATOR, p.code, None))
    home = [
        s for s in r.students if s.active and s.placement == Placement.HOME_DELIVERY
    ]  # every one of them needs a teacher
    teachers = min(6, max(2, math.ceil(len(home) / 4)))
    rng.shuffle(home)
    for i in range(teachers):
        username = f"t_{p.code}_{i + 1}"
        r.staff.append(StaffRow(username, person(rng, adults), Role.TEACHER, p.code, r.special.id))
        r.caseload[username] = home[i::teachers]
    hosting = {s.school_id for s in r.students if s.active and s.placement == "regular_class"}
    in_scope = [s for s in r.schools if s.id in hosting]
    rng.shuffle(in_scope)
    in_scope = in_scope[UNASSIGNED_SCHOOLS[p.coverage] :]  # nobody goes there yet
    instructors = min(3, max(1, math.ceil(len(in_scope) / 6)))
    for i in range(instructors):
        username = f"i_{p.code}_{i + 1}"
        r.staff.append(
            StaffRow(username, person(rng, adults), Role.ITINERANT, p.code, r.special.id)
        )
        r.rounds[username] = sorted(in_scope[i::instructors], key=lambda s: s.id)
