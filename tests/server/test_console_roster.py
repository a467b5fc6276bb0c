"""The roster desk through real HTTP: upload, preview, confirm, bad files, students off the roll."""

import csv
import io
import re
import time

import pytest
from sqlmodel import col, func, select

from server.models import AuditLog, RosterUpload, RosterUploadRow, Student, User
from server.services.roster_uploads import PAGE_SIZE
from tests.conftest import World
from tests.factories import Factory, uid
from tests.live import LiveServer
from tests.server.test_console import Console

HEADER_ZH = "学籍号,姓名,区县代码,学校编号,学段,年级,安置方式,残疾类别,残疾等级,持证"
REST = ["小学", "3", "送教", "智力", "2", "1"]  # stage .. certified, in short words
UPLOAD = re.compile(r"/roster/uploads/([0-9a-f]{32})")


def student_line(sid: str, district: str, school: str, name: str = "王小丽") -> str:
    return f"{sid},{name},{district},{school},小学,3,送教上门,智力,二级,是"


def roster_csv(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([HEADER_ZH, *lines]) + "\r\n").encode(encoding)


def preview(console: Console, data: bytes, name: str = "名册.csv", **kw):
    console.get("/roster")
    return console.post("/roster/preview", {}, files={"file": (name, data, "text/csv")}, **kw)


def staged_id(response) -> str:
    assert response.status_code == 200, response.text
    found = UPLOAD.search(response.url)
    assert found, response.url
    return found.group(1)


def counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def stored(factory: Factory, *ids: str) -> dict[str, Student]:
    with factory.session() as s:
        rows = s.exec(select(Student).where(col(Student.id).in_(ids))).all()
        return {r.id: r for r in rows}


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


def test_gbk_upload_is_previewed_then_written_only_on_confirm(
    coord: Console, world: World, factory: Factory
) -> None:
    ids = [uid("GB") for _ in range(3)]
    data = roster_csv([student_line(i, world.district, world.special_school) for i in ids], "gbk")
    page = preview(coord, data)
    upload = staged_id(page)
    assert counts(page.text) == {
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "rejected": 0,
    }
    assert "GBK/GB18030" in page.text and "王小丽" in page.text and "尚未写入" in page.text
    assert stored(factory, *ids) == {}  # nothing before the confirm
    done = coord.post(f"/roster/uploads/{upload}/confirm", {})
    assert done.status_code == 200 and done.url.endswith("/roster")
    assert "新增 3" in done.text
    assert {s.name for s in stored(factory, *ids).values()} == {"王小丽"}
    with factory.session() as s:
        assert s.get(RosterUpload, upload) is None  # the staged copy is gone with the import
        audit = s.exec(
            select(AuditLog).where(AuditLog.actor == world.coordinator, AuditLog.action == "import")
        ).all()
        assert any("added=3" in a.detail and a.entity == "roster_students" for a in audit)
    again = coord.post(f"/roster/uploads/{upload}/confirm", {})
    assert again.status_code == 404 and "已过期" in again.text  # confirmed once only


def test_missing_columns_answer_a_chinese_message_and_stage_nothing(
    coord: Console, world: World, factory: Factory
) -> None:
    data = "学籍号,姓名,区县代码\r\nX1,某某,330127\r\n".encode()
    name = f"{uid('MC')}.csv"
    page = preview(coord, data, name=name)
    assert page.status_code == 400
    assert "缺少列" in page.text and "学校编号" in page.text
    with factory.session() as s:
        assert s.exec(select(RosterUpload).where(RosterUpload.filename == name)).all() == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "文件为空"),
        ("学校编号,名称".encode("utf-16"), "UTF-8"),
        (b"PK\x03\x04broken", "XLSX"),
        ("颜色,数量\n红,1\n".encode(), "无法识别的名册类型"),
    ],
)
def test_unreadable_uploads_answer_400_pages_not_500(
    coord: Console, data: bytes, words: str
) -> None:
    page = preview(coord, data, name="x.xlsx" if data.startswith(b"PK") else "x.csv")
    assert page.status_code == 400 and words in page.text, page.text[:500]


def test_repeated_ids_and_unknown_schools_are_rejected_rows_the_rest_land(
    coord: Console, world: World, factory: Factory
) -> None:
    good, repeated = uid("OK"), uid("RP")
    other_district = factory.district("别的区")
    lines = [
        student_line(good, world.district, world.special_school),
        student_line(repeated, world.district, world.special_school),
        student_line(repeated, world.district, world.special_school, name="重复者"),
        student_line(uid("NS"), world.district, "没有这所学校"),
        student_line(uid("ND"), "999999", world.special_school),
        student_line(uid("OD"), other_district, world.special_school),
    ]
    page = preview(coord, roster_csv(lines))
    upload = staged_id(page)
    assert counts(page.text)["added"] == 2 and counts(page.text)["rejected"] == 4
    rejected = coord.get(f"/roster/uploads/{upload}?outcome=rejected").text
    assert f"编号 {repeated} 与第 3 行重复" in rejected
    assert "学校 没有这所学校 不存在" in rejected and "只能导入本区县" in rejected
    assert "999999" in rejected and "第 6 行" in rejected and "第 7 行" in rejected
    assert rejected.count('class="outcome-rejected"') == 4
    coord.post(f"/roster/uploads/{upload}/confirm", {})
    assert set(stored(factory, good, repeated)) == {good, repeated}
    assert stored(factory, repeated)[repeated].name == "王小丽"  # the first of the two rows


def test_a_confirm_that_would_differ_from_its_preview_writes_nothing(
    coord: Console, world: World, factory: Factory
) -> None:
    """Someone imports one of the file's children between preview and confirm: the confirm
    writes none of the file and shows a fresh preview, which can then be confirmed."""
    ids = [uid("RC") for _ in range(4)]
    data = roster_csv([student_line(i, world.district, world.special_school) for i in ids])
    upload = staged_id(preview(coord, data))
    meanwhile = roster_csv([student_line(ids[2], world.district, world.special_school, "别人")])
    response = world.c.post("/roster/import", files={"file": ("m.csv", meanwhile, "text/csv")})
    assert response.status_code == 200, response.text
    refused = coord.post(f"/roster/uploads/{upload}/confirm", {})
    assert refused.status_code == 409
    assert "名册在预览之后被改动过" in refused.text and "本文件未导入" in refused.text
    assert set(stored(factory, *ids)) == {ids[2]}  # only what the other import wrote
    fresh = UPLOAD.search(refused.text)
    assert fresh and fresh.group(1) != upload
    assert counts(refused.text)["added"] == 3 and counts(refused.text)["updated"] == 1
    assert coord.post(f"/roster/uploads/{fresh.group(1)}/confirm", {}).status_code == 200
    assert {s.name for s in stored(factory, *ids).values()} == {"王小丽"}


def test_preview_of_100000_rows_pages_with_counts_per_outcome(
    coord: Console, world: World, factory: Factory
) -> None:
    prefix = uid("H")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER_ZH.split(","))
    for i in range(100_000):
        school = world.special_school if i != 77_777 else "没有这所学校"
        writer.writerow([f"{prefix}{i}", f"生{i}", world.district, school, *REST])
    data = out.getvalue().encode()
    started = time.perf_counter()
    page = preview(coord, data, timeout=900)
    print(f"preview of 100,000 rows: {time.perf_counter() - started:.1f} s, {len(data)} bytes")
    upload = staged_id(page)
    assert counts(page.text)["added"] == 99_999 and counts(page.text)["rejected"] == 1
    assert page.text.count('<tr class="outcome-') == PAGE_SIZE
    assert "第 1/1000 页" in page.text
    last = coord.get(f"/roster/uploads/{upload}?page=1000").text
    assert f"{prefix}99999" in last and last.count('<tr class="outcome-') == PAGE_SIZE
    beyond = coord.get(f"/roster/uploads/{upload}?page=5000").text
    assert "第 1000/1000 页" in beyond
    bad = coord.get(f"/roster/uploads/{upload}?outcome=rejected").text
    assert bad.count('<tr class="outcome-') == 1 and "第 77779 行" in bad
    assert stored(factory, f"{prefix}0") == {}
    cancelled = coord.post(f"/roster/uploads/{upload}/cancel", {})
    assert "已取消" in cancelled.text
    with factory.session() as s:
        left = select(func.count()).where(RosterUploadRow.upload_id == upload)
        assert s.exec(left).one() == 0


def test_another_users_upload_is_404(
    coord: Console, world: World, factory: Factory, server: LiveServer
) -> None:
    data = roster_csv([student_line(uid("AU"), world.district, world.special_school)])
    upload = staged_id(preview(coord, data))
    colleague = Console(server)
    colleague.login(factory.user("coordinator", world.district))
    assert colleague.get(f"/roster/uploads/{upload}").status_code == 404
    colleague.get("/roster")
    assert colleague.post(f"/roster/uploads/{upload}/confirm", {}).status_code == 404
    assert coord.get(f"/roster/uploads/{upload}").status_code == 200


def test_forged_preview_without_csrf_token_is_403(coord: Console, world: World) -> None:
    data = roster_csv([student_line(uid("CS"), world.district, world.special_school)])
    coord.get("/roster")
    response = coord.post(
        "/roster/preview", {}, csrf=False, files={"file": ("a.csv", data, "text/csv")}
    )
    assert response.status_code == 403


def test_deactivated_student_leaves_the_teachers_phone_and_comes_back(
    coord: Console, world: World, factory: Factory
) -> None:
    first = world.t.get("/sync/pull").json()
    cursor = first["cursor"]
    coord.get(f"/roster?q={world.student}")
    off = coord.post(f"/roster/students/{world.student}/active", {"active": "0"})
    assert "已停用学生" in off.text and "已停用" in off.text
    pulled = world.t.get("/sync/pull", params={"cursor": cursor}).json()
    gone = [c for c in pulled["changes"] if c["entity"] == "student"]
    assert [(c["id"], c["deleted"]) for c in gone] == [(world.student, True)]
    on = coord.post(f"/roster/students/{world.student}/active", {"active": "1"})
    assert "已恢复学生" in on.text
    back = world.t.get("/sync/pull", params={"cursor": pulled["cursor"]}).json()
    assert [(c["id"], c["deleted"]) for c in back["changes"] if c["entity"] == "student"] == [
        (world.student, False)
    ]
    with factory.session() as s:
        actions = s.exec(
            select(AuditLog.action).where(
                AuditLog.entity == "student",
                AuditLog.entity_id == world.student,
                col(AuditLog.action).in_(("deactivate", "reactivate")),
            )
        ).all()
        assert sorted(actions) == ["deactivate", "reactivate"]


def test_another_districts_student_cannot_be_deactivated(coord: Console, factory: Factory) -> None:
    elsewhere = factory.district()
    student = factory.student(elsewhere, factory.school(elsewhere))
    coord.get("/roster")
    assert coord.post(f"/roster/students/{student}/active", {"active": "0"}).status_code == 404
    assert stored(factory, student)[student].active is True


def test_a_file_over_the_body_limit_gets_a_page_in_chinese_and_nothing_staged(
    coord: Console, factory: Factory
) -> None:
    # 33 MiB of rows: over the roster file's 32 MiB limit, refused before the route reads it.
    line = student_line("S" + "9" * 17, "330106", "X1") + "\r\n"
    data = roster_csv([]) + line.encode() * (33 * 1024 * 1024 // len(line))
    with factory.session() as s:
        before = s.exec(select(func.count()).select_from(RosterUpload)).one()
    response = preview(coord, data)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "请求内容过大（上限 32 MB）" in response.text
    assert 'href="/dashboard"' in response.text
    with factory.session() as s:
        assert s.exec(select(func.count()).select_from(RosterUpload)).one() == before


def test_an_admins_upload_is_for_the_district_picked_and_its_blank_cells_join_it(
    server: LiveServer, world: World, factory: Factory
) -> None:
    other = factory.district("别的区")
    other_school = factory.school(other, kind="special")
    admin = Console(server)
    assert admin.login(factory.user("admin", None)).status_code == 200
    page = admin.get("/roster").text
    assert 'id="upload-district"' in page and f'<option value="{world.district}"' in page
    mine, blank, elsewhere = uid("PK"), uid("PB"), uid("PO")
    lines = [
        student_line(mine, world.district, world.special_school),
        student_line(blank, "", world.special_school, name="李梓玥"),
        student_line(elsewhere, other, other_school),
    ]
    data = roster_csv(lines)
    staged = admin.post(
        "/roster/preview", {"district": world.district}, files={"file": ("名册.csv", data)}
    )
    upload = staged_id(staged)
    assert counts(staged.text)["added"] == 2 and counts(staged.text)["rejected"] == 1
    assert "导入到：别的区" not in staged.text and f"（{world.district}）" in staged.text
    rejected = admin.get(f"/roster/uploads/{upload}?outcome=rejected").text
    assert f"本次上传限于所选区县（{world.district}），此行属于 {other}" in rejected
    done = admin.post(f"/roster/uploads/{upload}/confirm", {"district": other})  # ignored
    assert done.url.endswith(f"/roster?district={world.district}")
    found = stored(factory, mine, blank, elsewhere)
    assert {i: s.district_code for i, s in found.items()} == {
        mine: world.district,
        blank: world.district,
    }
    assert "李梓玥" in done.text  # the list shows the picked district's children
    with factory.session() as s:
        row = s.exec(
            select(AuditLog)
            .where(AuditLog.action == "import", AuditLog.entity == "roster_students")
            .order_by(col(AuditLog.id).desc())
        ).first()
        assert row is not None and row.district_code == world.district

    # The whole city: each row's own district, and a blank one is an error again.
    city = admin.post("/roster/preview", {"district": ""}, files={"file": ("名册.csv", data)})
    assert counts(city.text)["rejected"] == 1 and counts(city.text)["unchanged"] == 1
    assert "导入到：全市" in city.text
    rejected = admin.get(f"/roster/uploads/{staged_id(city)}?outcome=rejected").text
    assert "区县代码不能为空" in rejected
    assert admin.get("/roster?district=999999").status_code == 404


def test_a_coordinator_cannot_pick_another_district_and_blank_cells_are_their_own(
    coord: Console, world: World, factory: Factory
) -> None:
    other = factory.district("别的区")
    assert coord.get("/roster").status_code == 200
    assert 'id="upload-district"' not in coord.get("/roster").text
    assert coord.get(f"/roster?district={other}").status_code == 404
    blank = uid("CB")
    data = roster_csv([student_line(blank, "", world.special_school)])
    refused = coord.post("/roster/preview", {"district": other}, files={"file": ("a.csv", data)})
    assert refused.status_code == 404
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == world.coordinator)).one()
        staged = select(func.count()).select_from(RosterUpload)
        assert s.exec(staged.where(RosterUpload.user_id == user.id)).one() == 0
    page = preview(coord, data)
    assert counts(page.text)["added"] == 1
    coord.post(f"/roster/uploads/{staged_id(page)}/confirm", {})
    assert stored(factory, blank)[blank].district_code == world.district
