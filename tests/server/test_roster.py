"""Roster import (CSV and XLSX) through the real CLI and real multipart uploads, both databases."""

import csv
import io
import itertools
import random
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from server.models import Assignment, AuditLog, District, School, Student, User
from server.services.roster_cells import parse_disability_grade, parse_grade
from server.services.roster_parse import canonical, detect_kind
from tests.factories import Factory, uid
from tests.live import Client, LiveServer

# District codes no factory hands out (the factory counts up from 100000-899000).
_fresh_codes = itertools.count(990000 + random.randint(0, 8000))

STUDENT_HEADER = [
    "student_id", "name", "district_code", "school_id", "stage", "grade", "placement",
    "disability_category", "disability_grade", "certified", "home_lat", "home_lon", "address",
    "guardian_name", "guardian_phone", "photo_consent",
]  # fmt: skip


def csv_bytes(rows: list[list[object]], *, bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def student_row(sid: str, district: str, school: str, **changes: object) -> list[object]:
    values: dict[str, object] = dict(
        student_id=sid, name="测试学生", district_code=district, school_id=school,
        stage="compulsory", grade=4, placement="home_delivery", disability_category="intellectual",
        disability_grade=2, certified=1, home_lat=29.61, home_lon=119.04, address="某村 2 号",
        guardian_name="家长", guardian_phone="138-0000-0000", photo_consent=0,
    )  # fmt: skip
    values.update(changes)
    return [values[c] for c in STUDENT_HEADER]


def upload(client: Client, name: str, data: bytes):
    return client.post("/roster/import", files={"file": (name, data, "application/octet-stream")})


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, code: str) -> str:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]["message"]


def manager(factory: Factory, role: str, district: str | None) -> Client:
    return factory.login(factory.user(role, district))


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# --- the whole roster, both formats --------------------------------------------------------


def test_cli_imports_five_kinds_in_dependency_order_and_reimport_changes_nothing(
    server: LiveServer, factory: Factory, tmp_path: Path
) -> None:
    code = f"{next(_fresh_codes):06d}"
    school, special, child = uid("SC"), uid("SP"), uid("ST")
    teacher, itinerant = uid("tea"), uid("iti")
    files = {
        "d.csv": [["district_code", "name"], [code, "淳安县"]],
        "s.csv": [
            ["school_id", "name", "district_code", "kind", "lat", "lon"],
            [school, "千岛湖小学", code, "ordinary", 29.6, 119.04],
            [special, "淳安特殊教育学校", code, "special", 29.61, 119.05],
        ],
        "p.csv": [STUDENT_HEADER, student_row(child, code, special)],
        "staff.csv": [
            ["username", "name", "role", "district_code", "base_school_id"],
            [teacher, "王老师", "teacher", code, special],
            [itinerant, "李老师", "itinerant", code, special],
        ],
        "a.csv": [
            ["username", "student_id", "school_id"],
            [teacher, child, ""],
            [itinerant, "", school],
        ],
    }
    # Given in the wrong order on purpose: the CLI sorts them by kind.
    paths = [write(tmp_path, n, csv_bytes(r)) for n, r in reversed(list(files.items()))]
    first = server.cli("roster", "import", *paths)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert [line.split("：")[1].split("，")[0] for line in lines if "名册" in line] == [
        "区县名册", "学校名册", "学生名册", "教职工名册", "分配名册",
    ]  # fmt: skip
    assert "新增 2，更新 0，未变 0，拒绝 0" in first.stdout
    with factory.session() as s:
        assert s.get(District, code).name == "淳安县"
        stored = s.get(Student, child)
        assert (stored.school_id, stored.grade, stored.placement) == (special, 4, "home_delivery")
        assert stored.photo_consent is False and stored.certified is True
        user = s.exec(select(User).where(User.username == teacher)).one()
        assert (user.role, user.base_school_id, user.password_hash) == ("teacher", special, None)
        assigned = s.exec(select(Assignment).where(Assignment.username == itinerant)).one()
        assert assigned.school_id == school and not assigned.deleted
        seq_before = stored.seq

    again = server.cli("roster", "import", *paths)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "新增 0" in again.stdout and "更新 0" in again.stdout
    assert "新增 1" not in again.stdout and "新增 2" not in again.stdout
    with factory.session() as s:
        assert s.get(Student, child).seq == seq_before  # phones pull nothing new


def test_api_imports_xlsx_with_chinese_headers_and_values(
    server: LiveServer, factory: Factory
) -> None:
    admin = manager(factory, "admin", None)
    code = next(_fresh_codes)  # a number cell, as Excel stores it
    name = uid("建德市")  # found by name below, so unique in the shared database
    school, child, teacher = uid("SC"), uid("ST"), uid("tea")
    numeric_school = random.randint(10**8, 10**9)
    uploads = [
        [["区县代码", "区县名称"], [code, name]],
        [
            ["2025学年学校名册"],  # a title row above the header is skipped
            ["学校编号", "学校名称", "区县", "学校类型", "纬度（WGS84）", "经度"],
            [school, "建德特校", name, "特殊教育学校", 29.47, 119.28],
            [numeric_school, "新安江小学", code, "普通", 29.48, 119.29],
        ],
        [
            [
                "学籍号",
                "姓名",
                "区县代码",
                "学校编号",
                "学段",
                "年级",
                "安置方式",
                "残疾类别",
                "残疾等级",
                "持证",
                "家庭纬度",
                "家庭经度",
                "家庭住址",
                "监护人",
                "监护人电话",
                "同意拍照",
                "在籍",
            ],
            [
                child,
                "陈小华",
                code,
                school,
                "义务教育",
                "三年级",
                "随班就读",
                "自闭症",
                "一级",
                "是",
                None,
                None,
                "新安江街道",
                "陈母",
                13900000000,
                "否",
                "是",
            ],
        ],  # fmt: skip
        [
            ["用户名", "姓名", "角色", "区县代码", "所属学校"],
            [teacher, "赵老师", "送教教师", code, school],
        ],
        [["用户名", "学籍号", "学校编号"], [teacher, child, None]],
    ]
    kinds = ["districts", "schools", "students", "staff", "assignments"]
    for kind, rows in zip(kinds, uploads, strict=True):
        body = ok(upload(admin, f"{kind}.xlsx", xlsx_bytes(rows)))
        assert body["kind"] == kind and body["rejected"] == [], body
        assert body["added"] == len(rows) - 1 - (kind == "schools"), body
    with factory.session() as s:
        stored = s.get(Student, child)
        assert (stored.grade, stored.placement, stored.disability_category) == (
            3, "regular_class", "mental",
        )  # fmt: skip
        assert (stored.disability_grade, stored.certified, stored.photo_consent) == (1, True, False)
        assert stored.home_lat is None and stored.guardian_phone == "13900000000"
        assert s.get(School, str(numeric_school)).district_code == str(code)  # not "1.0e8"
        assert s.get(School, school).kind == "special"

    for kind, rows in zip(kinds, uploads, strict=True):
        body = ok(upload(admin, f"{kind}.xlsx", xlsx_bytes(rows)))
        assert (body["added"], body["updated"], body["rejected"]) == (0, 0, []), body
        assert body["unchanged"] == len(rows) - 1 - (kind == "schools")


def test_bom_csv_with_chinese_headers_lands_for_the_coordinator(factory: Factory) -> None:
    district = factory.district()
    school = factory.school(district)
    coordinator = manager(factory, "coordinator", district)
    child = uid("ST")
    rows = [
        ["学生编号", "姓名", "区县代码", "学校编号", "学段", "年级", "安置方式", "残疾类别",
         "残疾等级", "持证", "家庭纬度", "家庭经度", "家庭住址", "监护人", "监护人电话",
         "照片同意"],
        [child, "刘小雨", district, school, "学前", "0", "送教上门", "肢体残疾", "四级", "1",
         "30.1", "120.2", "某路 3 号", "刘父", "0571-88888888", "1"],
    ]  # fmt: skip
    body = ok(upload(coordinator, "学生.csv", csv_bytes(rows, bom=True)))
    assert (body["kind"], body["added"], body["rejected"]) == ("students", 1, [])
    with factory.session() as s:
        stored = s.get(Student, child)
        assert (stored.stage, stored.grade, stored.disability_category) == (
            "preschool", 0, "physical",
        )  # fmt: skip
        assert stored.disability_grade == 4 and stored.photo_consent is True
        assert stored.guardian_phone == "0571-88888888"
        audit = s.exec(select(AuditLog).where(AuditLog.entity == "roster_students")).all()
        assert any(a.entity_id == "学生.csv" and "added=1" in a.detail for a in audit)


# --- files that cannot be read -------------------------------------------------------------


def test_gbk_file_from_excel_is_read_as_gb18030_by_api_and_cli(
    server: LiveServer, factory: Factory, tmp_path: Path
) -> None:
    """Excel on a Chinese Windows saves "CSV (逗号分隔)" in GBK: it imports, and says so."""
    district = factory.district()
    school, other = uid("SC"), uid("SC")
    header = "学校编号,学校名称,区县代码,学校类型,纬度,经度"
    admin = manager(factory, "admin", None)
    data = f"{header}\n{school},千岛湖小学,{district},普通,29,119\n".encode("gbk")
    report = ok(upload(admin, "gbk.csv", data))
    assert report["added"] == 1 and any("GBK" in n for n in report["notes"])
    data = f"{header}\n{other},汾口镇中心小学,{district},普通,29,119\n".encode("gb18030")
    result = server.cli("roster", "import", write(tmp_path, "gbk.csv", data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GBK" in result.stdout
    with factory.session() as s:
        assert s.get(School, school).name == "千岛湖小学"
        assert s.get(School, other).name == "汾口镇中心小学"


def test_missing_columns_refuse_the_whole_file(factory: Factory) -> None:
    district = factory.district()
    school = uid("SC")
    rows = [["school_id", "name", "district_code", "kind"], [school, "某校", district, "ordinary"]]
    message = refused(
        upload(manager(factory, "admin", None), "s.csv", csv_bytes(rows)), "roster_missing_columns"
    )
    assert message.startswith("缺少列：lat, lon")
    with factory.session() as s:
        assert s.get(School, school) is None


@pytest.mark.parametrize(
    ("name", "data", "code", "words"),
    [
        ("empty.csv", b"", "roster_unreadable", "文件为空"),
        ("blank.csv", b"\r\n,,\r\n", "roster_unreadable", "文件为空"),
        ("odd.csv", "颜色,数量\n红,1\n".encode(), "roster_unknown_kind", "颜色"),
        ("fake.xlsx", b"this is no workbook", "roster_unreadable", "XLSX"),
        ("broken.xlsx", b"PK\x03\x04not really a zip", "roster_unreadable", "XLSX"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "roster_unreadable", ".xls"),
        ("utf16.csv", "学校编号,名称".encode("utf-16"), "roster_encoding", "UTF-8"),
    ],
)
def test_unreadable_files_answer_400_with_a_clear_message(
    factory: Factory, name: str, data: bytes, code: str, words: str
) -> None:
    assert words in refused(upload(manager(factory, "admin", None), name, data), code)


def test_cli_reports_unreadable_files_without_traceback(server: LiveServer, tmp_path: Path) -> None:
    paths = [
        write(tmp_path, "fake.xlsx", b"this is no workbook"),
        write(tmp_path, "empty.csv", b""),
        str(tmp_path / "missing.csv"),
    ]
    result = server.cli("roster", "import", *paths)
    assert result.returncode == 1
    assert result.stdout.count("未导入") == 3, result.stdout
    assert "找不到文件" in result.stdout and "Traceback" not in result.stderr


def test_a_roster_file_may_be_larger_than_other_bodies_up_to_its_own_limit(
    factory: Factory,
) -> None:
    """A whole district's roll with addresses is 15-20 MB: past the 8 MiB of other requests
    (that file is read, and refused for what it holds), refused with 413 only past 32 MiB."""
    admin = manager(factory, "admin", None)
    line = "学号,姓名\n" + "ST-x,某某某\n" * 800_000  # 10 MB of a header nobody knows
    assert len(line.encode()) > 8 * 1024 * 1024
    refused(upload(admin, "big.csv", line.encode()), "roster_unknown_kind")
    response = upload(admin, "huge.csv", b"x," * (17 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.json()["error"]["message"].count("32 MB") == 1


# --- bad rows are rejected alone -----------------------------------------------------------


def test_repeated_id_rejects_the_later_row(factory: Factory) -> None:
    district = factory.district()
    school = uid("SC")
    rows = [
        ["school_id", "name", "district_code", "kind", "lat", "lon"],
        [school, "第一次", district, "ordinary", 30, 120],
        [school, "第二次", district, "ordinary", 30, 120],
    ]
    body = ok(upload(manager(factory, "admin", None), "s.csv", csv_bytes(rows)))
    assert body["added"] == 1
    assert [r["row"] for r in body["rejected"]] == [3]
    assert "与第 2 行重复" in body["rejected"][0]["message"]
    with factory.session() as s:
        assert s.get(School, school).name == "第一次"


def test_bad_rows_are_rejected_with_chinese_reasons_while_good_rows_land(
    server: LiveServer, factory: Factory, tmp_path: Path
) -> None:
    district = factory.district()
    school = factory.school(district)
    ids = [uid("ST") for _ in range(6)]
    rows = [
        STUDENT_HEADER,
        student_row(ids[0], district, school),
        student_row(ids[1], district, school, placement="飞行"),
        student_row(ids[2], district, school, home_lat=200),
        student_row(ids[3], district, school, stage="compulsory", grade=11),
        student_row(ids[4], district, school, disability_grade=5, guardian_phone="call me"),
        student_row(ids[5], district, school, placement="随班就读", home_lat="", home_lon=""),
    ]
    result = server.cli("roster", "import", write(tmp_path, "p.csv", csv_bytes(rows)))
    assert result.returncode == 1
    assert "新增 2，更新 0，未变 0，拒绝 4" in result.stdout, result.stdout
    assert "第 3 行：安置方式“飞行”无效" in result.stdout
    assert "第 4 行：家庭纬度 200 超出范围" in result.stdout
    assert "第 5 行：年级 11 与学段“义务教育”不符" in result.stdout
    assert "残疾等级“5”无效" in result.stdout and "监护人电话只能包含数字" in result.stdout
    with factory.session() as s:
        landed = s.exec(select(Student.id).where(col(Student.id).in_(ids))).all()
        assert set(landed) == {ids[0], ids[5]}
        assert s.get(Student, ids[5]).home_lat is None

    rows[2] = student_row(ids[1], district, school, placement="special_class")  # fixed
    again = ok(upload(manager(factory, "admin", None), "p.csv", csv_bytes(rows)))
    assert (again["added"], again["unchanged"], len(again["rejected"])) == (1, 2, 3)


def test_school_latitude_out_of_range_is_rejected(factory: Factory) -> None:
    district = factory.district()
    good, bad = uid("SC"), uid("SC")
    rows = [
        ["school_id", "name", "district_code", "kind", "lat", "lon"],
        [bad, "坏坐标", district, "ordinary", 200, 120],
        [good, "好学校", district, "special", 30, 120],
    ]
    body = ok(upload(manager(factory, "admin", None), "s.csv", csv_bytes(rows)))
    assert body["added"] == 1
    assert body["rejected"] == [{"row": 2, "message": "第 2 行：纬度 200 超出范围（-90 至 90）"}]


# --- who may import what -------------------------------------------------------------------


def test_coordinator_cannot_import_another_districts_rows(factory: Factory) -> None:
    mine, theirs = factory.district(), factory.district()
    their_school = factory.school(theirs)
    coordinator = manager(factory, "coordinator", mine)
    own, foreign = uid("SC"), uid("SC")
    rows = [
        ["school_id", "name", "district_code", "kind", "lat", "lon"],
        [own, "本区学校", mine, "ordinary", 30, 120],
        [foreign, "外区学校", theirs, "ordinary", 30, 120],
        [their_school, "改成本区", mine, "ordinary", 30, 120],  # would move it into mine
    ]
    body = ok(upload(coordinator, "s.csv", csv_bytes(rows)))
    assert body["added"] == 1
    assert [r["row"] for r in body["rejected"]] == [3, 4]
    assert all(f"只能导入本区县（{mine}）" in r["message"] for r in body["rejected"])
    districts = [["district_code", "name"], [f"{next(_fresh_codes):06d}", "新区"]]
    body = ok(upload(coordinator, "d.csv", csv_bytes(districts)))
    assert body["added"] == 0 and len(body["rejected"]) == 1
    staff = [["username", "name", "role", "district_code"], [uid("adm"), "越权", "管理员", mine]]
    body = ok(upload(coordinator, "staff.csv", csv_bytes(staff)))
    assert "只有管理员" in body["rejected"][0]["message"]
    with factory.session() as s:
        assert s.get(School, own) is not None and s.get(School, foreign) is None
        assert s.get(School, their_school).district_code == theirs


def test_field_staff_may_not_import(factory: Factory) -> None:
    district = factory.district()
    rows = [["district_code", "name"], [district, "改名"]]
    for role in ("teacher", "itinerant"):
        response = upload(manager(factory, role, district), "d.csv", csv_bytes(rows))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert upload(Client(factory.server), "d.csv", csv_bytes(rows)).status_code == 401
    with factory.session() as s:
        assert s.get(District, district).name == "测试区"


def test_id_number_columns_are_ignored_and_never_stored(factory: Factory) -> None:
    district = factory.district()
    school = factory.school(district)
    child = uid("ST")
    secret_cert, secret_id = "33012720100101123X71", "330127201001011234"
    rows = [
        [*STUDENT_HEADER, "残疾人证号", "身份证号"],
        [*student_row(child, district, school), secret_cert, secret_id],
    ]
    body = ok(upload(manager(factory, "coordinator", district), "p.csv", csv_bytes(rows)))
    assert body["added"] == 1
    assert any("残疾人证号" in n and "不保存" in n for n in body["notes"])
    assert any("身份证号" in n for n in body["notes"])
    with factory.session() as s:
        stored = repr(s.get(Student, child).model_dump())
        logged = repr([a.model_dump() for a in s.exec(select(AuditLog)).all()])
    for secret in (secret_cert, secret_id, secret_id[:14]):
        assert secret not in stored and secret not in logged


# --- assignments ---------------------------------------------------------------------------


def test_assignment_rules_and_removal(factory: Factory) -> None:
    district, other = factory.district(), factory.district()
    school = factory.school(district)
    child = factory.student(district, school)
    other_child = factory.student(other, factory.school(other))
    teacher = factory.user("teacher", district)
    itinerant = factory.user("itinerant", district)
    coordinator = factory.user("coordinator", district)
    admin = manager(factory, "admin", None)
    header = ["username", "student_id", "school_id", "remove"]
    rows = [
        header,
        [teacher, child, "", ""],
        [itinerant, "", school, "0"],
        [teacher, "", school, ""],  # a teacher is assigned children
        [itinerant, child, "", ""],  # an itinerant is assigned schools
        [teacher, child, school, ""],  # both
        [teacher, other_child, "", ""],  # another district's child
        [coordinator, child, "", ""],
        [uid("nobody"), child, "", ""],
    ]
    body = ok(upload(admin, "a.csv", csv_bytes(rows)))
    assert body["added"] == 2
    reasons = {r["row"]: r["message"] for r in body["rejected"]}
    assert "送教教师只能分配学生" in reasons[4]
    assert "巡回指导教师只能分配学校" in reasons[5]
    assert "须填且只填一个" in reasons[6]
    assert "不在同一区县" in reasons[7]
    assert "不是送教教师或巡回指导教师" in reasons[8]
    assert "不存在" in reasons[9]

    removal = [header, [teacher, child, "", "1"]]
    body = ok(upload(admin, "a.csv", csv_bytes(removal)))
    assert (body["removed"], body["rejected"]) == (1, [])
    with factory.session() as s:
        row = s.exec(select(Assignment).where(Assignment.username == teacher)).one()
        assert row.deleted
    assert ok(upload(admin, "a.csv", csv_bytes(removal)))["unchanged"] == 1


# --- pure parsing --------------------------------------------------------------------------


def test_kind_comes_from_the_header_not_the_file_name() -> None:
    def kind(*headers: str) -> str | None:
        return detect_kind({c for h in headers if (c := canonical(h))})

    assert kind("区县代码", "区县名称") == "districts"
    assert kind("district_code", "name") == "districts"
    assert kind("学校编号", "学校名称", "区县") == "schools"
    assert kind("学籍号", "姓名", "学校编号", "学段") == "students"
    assert kind("用户名", "姓名", "角色") == "staff"
    assert kind("用户名", "学籍号", "学校编号") == "assignments"
    assert kind("颜色", "数量") is None
    assert canonical(" 纬度（GCJ-02） ") == "lat" and canonical("姓名*") == "name"


def test_grades_in_digits_and_chinese() -> None:
    assert [parse_grade(v) for v in ("0", "3", "三年级", "初一", "高三", "十三")] == [
        0, 3, 3, 7, 12, None,
    ]  # fmt: skip
    assert [parse_disability_grade(v) for v in ("1", "一级", "4级", "五级", "0")] == [
        1, 1, 4, None, None,
    ]  # fmt: skip


def test_every_header_alias_and_value_word_is_documented() -> None:
    from server.services.roster_cells import CHOICES
    from server.services.roster_parse import ALIASES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "roster.md").read_text()
    words = [w for name, aliases in ALIASES.items() for w in (name, *aliases)]
    words += [w for table in CHOICES.values() for w in table]
    assert [w for w in words if w not in doc] == []
