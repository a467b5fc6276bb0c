"""The audit log's detail column in words (server/console/audit_pages.py ``detail_text``)."""

import pytest

from server.console.audit_pages import detail_text
from server.models import AuditLog


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
