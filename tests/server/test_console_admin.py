"""The console's subsidy approvals, policy versions, audit log and device confirmation, through
real HTTP on a real server (issue 10, the coordinator's desk)."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from server.models import AuditLog, Policy, SubsidyApproval, Visit
from shared.messages import t
from shared.terms import local_month
from tests.conftest import World
from tests.factories import Factory, home_visit, upsert
from tests.live import LiveServer
from tests.server.test_console import Console, forms_of

# A day long enough ago that no other test's policy or visits share it with these.
DAY = datetime(2025, 11, 12, 1, tzinfo=UTC)  # 09:00 in Asia/Shanghai


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


class Admin(Console):
    username = ""


@pytest.fixture
def admin(factory: Factory, server: LiveServer) -> Admin:
    console = Admin(server)
    console.username = factory.user("admin", None)
    assert console.login(console.username).status_code == 200
    return console


def _push(world: World, **kw: Any) -> dict[str, Any]:
    record = home_visit(world.student, **kw)
    (result,) = world.t.push(upsert(record))
    assert result["status"] == "applied", result
    return record


def _month(record: dict[str, Any]) -> str:
    month = local_month(datetime.fromisoformat(record["started_at"]))
    return f"{month // 100}-{month % 100:02d}"


def _teacher_visits(factory: Factory, world: World, month: str) -> list[Visit]:
    yyyymm = int(month.replace("-", ""))
    with factory.session() as s:
        return list(
            s.exec(
                select(Visit).where(
                    Visit.teacher == world.teacher,
                    Visit.local_month == yyyymm,
                    col(Visit.counted).is_(True),
                )
            )
        )


def _xlsx(console: Console, month: str) -> tuple[list[Any], dict[str, dict[str, Any]], list[Any]]:
    response = console.get("/exports/subsidies.xlsx", params={"month": month})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    (total_at,) = [i for i, r in enumerate(rows) if r[0] == "合计"]
    data = {r[2]: dict(zip(header, r, strict=True)) for r in rows[1:total_at]}
    return header, data, rows[total_at:]


def _approve_form(page: str, teacher: str) -> dict[str, str]:
    found = re.search(
        r'action="/subsidies/approve".*?name="teacher" value="'
        + re.escape(teacher)
        + r'".*?name="seen_amount_fen" value="(\d+)"',
        page,
        re.S,
    )
    assert found, "no approval form for the teacher"
    return {"teacher": teacher, "seen_amount_fen": found.group(1)}


# -- subsidies ----------------------------------------------------------------------------------


def test_approving_a_teachers_month_is_kept_and_shown_in_the_xlsx(
    world: World, factory: Factory, coord: Console
) -> None:
    records = [_push(world, start=DAY + timedelta(days=d)) for d in (0, 1)]
    month = _month(records[0])
    coord.get(f"/visits/{records[0]['id']}")
    assert coord.post(f"/visits/{records[0]['id']}/review", {"decision": "approved"}).ok
    page = coord.get("/subsidies", params={"month": month})
    assert page.status_code == 200 and "未审批" in page.text
    form = _approve_form(page.text, world.teacher)
    visits = _teacher_visits(factory, world, month)
    approved_fen = sum(v.subsidy_fen for v in visits if v.review_status == "approved")
    assert int(form["seen_amount_fen"]) == approved_fen > 0

    done = coord.post("/subsidies/approve", form | {"month": month, "district": world.district})
    assert done.status_code == 200 and "已审批" in done.text
    assert f"已审批 {approved_fen / 100:,.2f} 元" in done.text
    with factory.session() as s:
        (stored,) = s.exec(
            select(SubsidyApproval).where(SubsidyApproval.teacher == world.teacher)
        ).all()
    assert stored.approved_by == world.coordinator and stored.amount_fen == approved_fen
    assert stored.visits == len(visits) and stored.revoked_at is None

    header, data, tail = _xlsx(coord, month)
    row = data[world.teacher]
    assert row["访问次数"] == len(visits)
    assert round(row["申报补助（元）"] * 100) == sum(v.subsidy_fen for v in visits)
    assert row["审批状态"] == "已审批" and round(row["审批金额（元）"] * 100) == approved_fen
    assert row["审批人"] == world.coordinator
    total = dict(zip(header, tail[0], strict=True))
    assert total["访问次数"] == sum(r["访问次数"] for r in data.values())
    assert total["审批状态"] == f"已审批 1/{len(data)} 人"
    assert any(r[0] and str(r[0]).startswith("财务审核") for r in tail)

    # A late visit of that month: the approval stays, marked stale, at the figure approved.
    _push(world, start=DAY + timedelta(days=2))
    page = coord.get("/subsidies", params={"month": month})
    assert "数据已变化" in page.text
    _, data, _ = _xlsx(coord, month)
    assert data[world.teacher]["审批状态"] == t("subsidy.state.stale")
    assert round(data[world.teacher]["审批金额（元）"] * 100) == approved_fen
    assert data[world.teacher]["访问次数"] == len(visits) + 1

    # Taken back: a reason is required; then the month can be approved again.
    path = f"/subsidies/{stored.id}/take-back"
    refused = coord.post(path, {"month": month, "reason": "  "})
    assert refused.status_code == 400 and t("subsidy.reason_required") in refused.text
    back = coord.post(path, {"month": month, "reason": "补录了一次送教，重新核对"})
    assert back.status_code == 200 and "补录了一次送教，重新核对" in back.text
    assert "未审批" in back.text
    again = coord.post(path, {"month": month, "reason": "再撤一次"})
    assert again.status_code == 409 and t("subsidy.already_revoked") in again.text
    actions = {
        a.action
        for a in _audit(factory, world.coordinator)
        if a.entity == "subsidy" and a.entity_id == f"{world.teacher}|{month}"
    }
    assert actions == {"subsidy_approve", "subsidy_revoke"}


def test_an_approval_of_changed_figures_or_twice_is_refused(
    world: World, factory: Factory, server: LiveServer, coord: Console, admin: Admin
) -> None:
    record = _push(world, start=DAY + timedelta(days=5))
    month = _month(record)
    page = coord.get("/subsidies", params={"month": month})
    assert "尚无审核通过的访问" in page.text  # nothing reviewed yet: nothing to approve
    form = {"teacher": world.teacher, "month": month, "district": world.district}
    nothing = coord.post("/subsidies/approve", form)
    assert nothing.status_code == 409 and t("subsidy.nothing_approved") in nothing.text
    coord.get(f"/visits/{record['id']}")
    assert coord.post(f"/visits/{record['id']}/review", {"decision": "approved"}).ok
    page = coord.get("/subsidies", params={"month": month})
    form |= _approve_form(page.text, world.teacher)
    assert coord.post("/subsidies/approve", form, csrf=False).status_code == 403
    stale = coord.post("/subsidies/approve", form | {"seen_amount_fen": "1"})
    assert stale.status_code == 409 and t("subsidy.figures_changed") in stale.text
    assert coord.post("/subsidies/approve", form).status_code == 200
    twice = coord.post("/subsidies/approve", form)
    assert twice.status_code == 409 and t("subsidy.already_approved") in twice.text
    admin.get("/subsidies", params={"month": month})
    assert admin.post("/subsidies/approve", form).status_code == 403
    outsider = Console(server)
    assert outsider.login(factory.user("coordinator", factory.district())).status_code == 200
    outsider.get("/subsidies")
    assert outsider.post("/subsidies/approve", form).status_code == 404
    assert outsider.get("/subsidies", params={"district": world.district}).status_code == 404
    with factory.session() as s:
        live = s.exec(
            select(SubsidyApproval).where(
                SubsidyApproval.teacher == world.teacher, col(SubsidyApproval.revoked_at).is_(None)
            )
        ).all()
    assert len(live) == 1


@pytest.mark.parametrize("month", ["2025-13", "x" * 5000, "9999-01"])
def test_a_bad_month_is_a_chinese_400(coord: Console, month: str) -> None:
    response = coord.get("/subsidies", params={"month": month})
    assert response.status_code == 400 and t("console.invalid_month") in response.text


# -- policy -------------------------------------------------------------------------------------


def _policy_form(page: str) -> dict[str, str]:
    """The edit form's fields as the page filled them in (inputs and selected options)."""
    fields = dict(re.findall(r'<input id="p-(\w+)" name="\w+" value="([^"]*)"', page))
    for name, body in re.findall(r'<select id="p-(\w+)" name="\w+">(.*?)</select>', page, re.S):
        fields[name] = re.search(r'<option value="([^"]+)" selected', body).group(1)
    return fields


def test_admin_changes_a_policy_and_the_stored_visits_flags_follow(
    world: World, factory: Factory, admin: Admin, coord: Console
) -> None:
    record = _push(world, start=DAY + timedelta(days=8), minutes=70)
    assert "short_duration" not in _visit(factory, record["id"]).flags
    day = (DAY + timedelta(days=7)).date().isoformat()
    edit = admin.get("/policies/new", params={"district": world.district, "effective_from": day})
    assert edit.status_code == 200 and "每次送教最短时长（分钟）" in edit.text
    fields = _policy_form(edit.text)
    assert fields["service_min_minutes"] == "60" and fields["home_delivery_cap"] == "5"
    fields |= {"service_min_minutes": "80", "district": world.district, "effective_from": day}

    preview = admin.post("/policies/preview", fields)
    assert preview.status_code == 200
    change = r"每次送教最短时长（分钟）</th><td[^>]*>60</td><td[^>]*><strong>80"
    assert re.search(change, preview.text)
    assert "送教上门比例上限" not in preview.text  # unchanged parameters are not listed
    with factory.session() as s:  # nothing written before the confirm
        assert not s.exec(select(Policy).where(Policy.district_code == world.district)).all()
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', preview.text))
    hidden.pop("csrf_token")

    saved = admin.post("/policies/save", hidden)
    assert saved.status_code == 200 and "重新判定已完成" in saved.text
    judged = re.search(r"判定 ([\d,]+) 条访问记录，其中 ([\d,]+) 条", saved.text)
    assert judged and int(judged.group(2)) >= 1
    assert "时长不足" in saved.text
    assert "short_duration" in _visit(factory, record["id"]).flags
    assert any(a.action == "policy_change" for a in _audit(factory, admin.username))

    # The coordinator reads the version (and its change) but cannot write one.
    page = coord.get("/policies")
    assert page.status_code == 200 and "80" in page.text and day in page.text
    assert "/policies/new" not in page.text
    assert coord.get("/policies/new").status_code == 403
    assert coord.post("/policies/save", hidden).status_code == 403
    # The same confirmation again: the version it was previewed against has changed since.
    again = admin.post("/policies/save", hidden)
    assert again.status_code == 409 and t("policy.base_changed") in again.text


def test_bad_policy_input_is_refused_in_chinese_and_writes_nothing(
    world: World, factory: Factory, admin: Admin
) -> None:
    day = "2025-11-20"
    edit = admin.get("/policies/new", params={"district": world.district, "effective_from": day})
    fields = _policy_form(edit.text) | {"district": world.district, "effective_from": day}
    for name, value, message in (
        ("service_min_minutes", "0", "“每次送教最短时长（分钟）”应在 1 至 600 之间"),
        ("service_min_minutes", "abc", "“每次送教最短时长（分钟）”的值无效"),
        ("home_delivery_cap", "150", "“送教上门比例上限”应在 0% 至 100% 之间"),
        ("flat_fen_per_visit", "1.234", "“按次补助标准（元/次）”的值无效"),
        ("geofence_m", "9" * 5000, "应在"),
    ):
        response = admin.post("/policies/preview", fields | {name: value})
        assert response.status_code == 400, (name, value)
        assert message in response.text, (name, value)
    for bad_day in ("2025-02-30", "1999-12-31", "x" * 5000):
        response = admin.post("/policies/preview", fields | {"effective_from": bad_day})
        assert response.status_code == 400 and "生效日期" in response.text
    assert admin.post("/policies/preview", fields | {"district": "999999"}).status_code == 404
    unchanged = admin.post("/policies/preview", fields)
    assert unchanged.status_code == 400 and t("policy.no_changes") in unchanged.text
    changed = fields | {"service_sessions_per_month": "5"}
    preview = admin.post("/policies/preview", changed)
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', preview.text))
    hidden.pop("csrf_token")
    forged = admin.post("/policies/save", hidden | {"base_fingerprint": "0" * 16})
    assert forged.status_code == 409 and t("policy.base_changed") in forged.text
    assert admin.post("/policies/save", hidden, csrf=False).status_code == 403
    with factory.session() as s:
        assert not s.exec(select(Policy).where(Policy.district_code == world.district)).all()


# -- audit log ----------------------------------------------------------------------------------


def test_the_desks_actions_are_in_the_audit_page_and_its_csv(
    world: World, factory: Factory, server: LiveServer, coord: Console
) -> None:
    record = _push(world, start=DAY + timedelta(days=10))
    coord.get(f"/visits/{record['id']}")
    coord.post(f"/visits/{record['id']}/review", {"decision": "approved"})
    coord.get("/exports/subsidies.xlsx", params={"month": _month(record)})
    phone = factory.login(world.teacher, device="旧手机")
    page = coord.get("/devices")
    token_id = re.search(r'旧手机</td>.*?href="/devices/(\d+)/revoke"', page.text, re.S).group(1)
    coord.get(f"/devices/{token_id}/revoke")
    assert coord.post(f"/devices/{token_id}/revoke", {}).ok
    assert phone.get("/sync/pull").status_code == 401

    page = coord.get("/audit", params={"person": world.coordinator})
    assert page.status_code == 200
    for label in ("审核", "导出", "撤销设备", "查看"):
        assert f"<td>{label}</td>" in page.text, label
    assert record["id"] in page.text and "旧手机" in page.text
    by_child = coord.get("/audit", params={"child": world.student, "action": "review"})
    assert record["id"] in by_child.text and "共 1 条" in by_child.text
    today = datetime.now(UTC).date()
    none_then = coord.get("/audit", params={"to": (today - timedelta(days=400)).isoformat()})
    assert "共 0 条" in none_then.text

    export = coord.get("/audit/export.csv", params={"person": world.coordinator})
    assert export.status_code == 200 and export.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间", "操作人", "操作人姓名", "操作"]
    kinds = {(r[3], r[4]) for r in rows[1:]}
    assert {("审核", "访问记录"), ("导出", "补助 XLSX"), ("撤销设备", "设备")} <= kinds
    assert ("查看", "审计日志") in kinds  # reading the log is itself in the log
    # Details in words: the review's outcome and version, the login's channel.
    details = [r[-1] for r in rows[1:]]
    assert any(d.startswith("已通过 版本：1") for d in details), details
    assert "渠道：控制台 会话：" in " ".join(details)
    assert not any("=" in d for d in details), details
    reads = [a for a in _audit(factory, world.coordinator) if a.entity == "audit_log"]
    assert {a.action for a in reads} == {"view", "export"}

    # Another district's coordinator sees none of it; an admin sees it.
    outsider = Console(server)
    assert outsider.login(factory.user("coordinator", factory.district())).status_code == 200
    other = outsider.get("/audit", params={"person": world.coordinator})
    assert other.status_code == 200 and "共 0 条" in other.text
    assert outsider.get("/audit", params={"district": world.district}).status_code == 404


def test_audit_filters_are_bounded_and_pages_are_numbered(
    world: World, factory: Factory, coord: Console
) -> None:
    for _ in range(3):
        coord.get("/audit")  # each read adds a row: at least 3 rows of this coordinator
    too_long = coord.get("/audit", params={"person": "张" * 5000})
    assert too_long.status_code == 400 and "最多 64 个字符" in too_long.text
    for params in ({"from": "2025-13-01"}, {"action": "<script>"}, {"to": "9" * 5000}):
        response = coord.get("/audit", params=params)
        assert response.status_code == 400 and "筛选条件无效" in response.text, params
    assert coord.get("/audit", params={"page": "9" * 5000}).status_code == 200
    with factory.session() as s:
        for n in range(120):
            s.add(
                AuditLog(
                    actor=world.coordinator,
                    action="view",
                    entity="visit",
                    entity_id=f"paging-{n}",
                    district_code=world.district,
                )
            )
        s.commit()
    first = coord.get("/audit", params={"person": world.coordinator, "action": "view"})
    assert "第 1/" in first.text and 'page=2">2</a>' in first.text
    second = coord.get("/audit", params={"person": world.coordinator, "page": "2"})
    assert "第 2/" in second.text and "<strong>2</strong>" in second.text


# -- devices ------------------------------------------------------------------------------------


def test_revoking_a_device_asks_for_confirmation_first(
    world: World, factory: Factory, coord: Console
) -> None:
    phone = factory.login(world.teacher, device="借出的手机")
    page = coord.get("/devices")
    revoke_forms = [f for f in forms_of(page.text) if (f["action"] or "").endswith("/revoke")]
    assert revoke_forms == []  # the list only links to the confirmation
    link = re.search(r'借出的手机</td>.*?href="/devices/(\d+)/revoke"', page.text, re.S)
    token_id = link.group(1)
    confirm = coord.get(f"/devices/{token_id}/revoke")
    assert confirm.status_code == 200 and "确认撤销" in confirm.text
    assert "借出的手机" in confirm.text
    (form,) = [f for f in forms_of(confirm.text) if (f["action"] or "").endswith("/revoke")]
    assert form["method"] == "post" and form["fields"]["csrf_token"] == "hidden"
    assert phone.get("/sync/pull").status_code == 200  # reading the confirmation revokes nothing
    assert coord.post(f"/devices/{token_id}/revoke", {}).ok
    assert phone.get("/sync/pull").status_code == 401
    assert coord.get("/devices/999999999/revoke").status_code == 404
    assert coord.get("/devices/abc/revoke").status_code == 404


def _visit(factory: Factory, visit_id: str) -> Visit:
    with factory.session() as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None
        return visit


def _audit(factory: Factory, actor: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(s.exec(select(AuditLog).where(AuditLog.actor == actor)))


@pytest.mark.parametrize("junk", ["", "x" * 5000, "-1", "1e999999999", "<b>", "０１"])
def test_odd_form_values_get_a_chinese_answer_never_a_500(
    world: World, coord: Console, admin: Admin, junk: str
) -> None:
    coord.get("/subsidies")
    for path in ("/subsidies/approve", f"/subsidies/{junk or 0}/take-back"):
        fields = {"month": junk, "district": junk, "teacher": junk, "seen_amount_fen": junk}
        response = coord.post(path, fields | {"reason": junk})
        assert response.status_code in (400, 404, 409), (path, response.status_code)
        assert "text/html" in response.headers["content-type"]
        assert coord.post(path, fields, csrf=False).status_code == 403
    admin.get("/policies")
    fields = {name: junk for name in ("district", "effective_from", "service_min_minutes")}
    for path in ("/policies/preview", "/policies/save"):
        response = admin.post(path, fields)
        assert response.status_code in (400, 404, 409), (path, response.status_code)
        assert admin.post(path, fields, csrf=False).status_code == 403
    preview = admin.post(
        "/policies/preview", {"district": world.district, "effective_from": "2025-11-03"}
    )
    assert preview.status_code == 400 and "政策参数不正确" in preview.text
    for params in ({"child": junk}, {"person": junk}, {"page": junk}, {"district": junk}):
        assert coord.get("/audit", params=params).status_code in (200, 400, 404), params
