"""The audit log's detail column in words (server/console/audit_pages.py ``detail_text``)."""

import re
from pathlib import Path

import pytest

from server.console.audit_pages import action_label, detail_text, entity_label
from server.models import AuditLog
from server.services.roster_parse import KINDS


def _shown(action: str, detail: str) -> str:
    return detail_text(AuditLog(actor="x", action=action, entity="e", entity_id="1", detail=detail))


@pytest.mark.parametrize(
    ("action", "stored", "shown"),
    [
        ("view", "kind=home_teaching student=S1 school=", "类型：送教上门 学生：S1"),
        ("view", "kind=itinerant student= school=B1", "类型：巡回指导 学校：B1"),
        ("review", "rejected version=3 reason=照片 模糊", "已退回 版本：3 理由：照片 模糊"),
        ("login", "channel=api device=李老师的手机", "渠道：手机 设备：李老师的手机"),
        (
            "login_failed",
            "channel=console reason=field_role",
            "渠道：控制台 理由：一线人员不能登录控制台",
        ),
        ("create_user", "role=itinerant", "角色：巡回指导教师"),
        # A value is words only where its key takes codes: a user named "admin" stays "admin".
        ("revoke", "user=admin device=旧手机", "用户：admin 设备：旧手机"),
        # What the catalogue does not know is shown as stored, never dropped.
        ("upload", "uploader", "uploader"),
        ("import", "added=3 shelf=7", "新增：3 shelf=7"),
    ],
)
def test_details_read_in_chinese_and_nothing_is_hidden(
    action: str, stored: str, shown: str
) -> None:
    assert _shown(action, stored) == shown


def _written(pattern: str) -> set[str]:
    """The string codes the server's code writes as ``action=`` / ``entity=`` (and the
    ``"a" if … else "b"`` pairs), read from its source so a new code cannot slip past."""
    root = Path(__file__).resolve().parents[2] / "server"
    codes: set[str] = set()
    for path in root.rglob("*.py"):
        for m in re.finditer(
            pattern + r'="([a-z_]+)"(?: if [^\n]+? else "([a-z_]+)")?', path.read_text()
        ):
            codes.update(c for c in m.groups() if c)
    return codes


def test_every_action_and_object_the_server_writes_reads_in_chinese() -> None:
    # argparse's action="store_true" and the warnings filter's action="error" are no audit
    # rows; the account actions (services/staff.py) and constants are passed by position.
    by_position = {"upload", "revoke", "create_user", "reset_password"}
    by_position |= {"enable_user", "disable_user"}
    actions = (_written(r"\baction") - {"store_true", "error"}) | by_position
    entities = _written(r"\bentity") | {f"roster_{kind}" for kind in KINDS}
    assert {"assign", "review", "import"} <= actions and "assignment" in entities
    assert [a for a in sorted(actions) if action_label(a) == a] == []
    assert [e for e in sorted(entities) if entity_label(e) == e] == []


def test_a_child_seen_is_named_beside_the_id_when_known() -> None:
    row = AuditLog(actor="x", action="view", entity="visit", entity_id="1", detail="student=S1")
    assert detail_text(row, {"S1": "李梓玥"}) == "学生：李梓玥 S1"
    assert detail_text(row, {}) == "学生：S1"  # gone from the roster: the id, never nothing
