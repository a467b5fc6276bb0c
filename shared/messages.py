"""The one message catalogue for user-facing text. Simplified Chinese first; add a locale by
adding a dict with the same keys (a test checks every locale has every key)."""

from typing import Any

ZH_CN: dict[str, str] = {
    # HTTP / sync errors (key = stable error code)
    "unauthorized": "未登录或登录已失效，请重新登录",
    "bad_credentials": "用户名或密码错误",
    "forbidden": "没有权限执行此操作",
    "csrf_failed": "表单已过期，请刷新页面后重试",
    "not_found": "未找到该记录",
    "invalid_request": "请求格式不正确：{detail}",
    "invalid_json": "请求内容不是有效的 JSON",
    "body_too_large": "请求内容过大（上限 {limit}）",
    "too_many_ops": "一次最多提交 {limit} 条操作",
    "invalid_record": "记录内容不正确：{detail}",
    "not_assigned": "该学生或学校不存在，或未分配给您",
    "photo_consent_missing": "监护人未同意拍照，不能上传该学生的照片",
    "photo_not_uploaded": "照片尚未上传：{sha256}",
    "op_id_reused": "操作编号已被另一条不同的操作使用",
    "unknown_record": "服务器上没有这条记录",
    "record_deleted": "该记录已被删除",
    "conflict": "记录已在别处被修改，请核对后再保存",
    "hash_mismatch": "照片内容与其编号（SHA-256）不符",
    "photo_too_large": "照片过大（上限 {limit}）",
    "not_an_image": "文件不是可识别的图片",
    "image_too_large": "图片像素过多（{pixels} 像素）",
    "invalid_term": "学期编号应为 YYYY-1 或 YYYY-2",
    "internal_error": "服务器内部错误，请稍后重试",
    "user_exists": "用户名已存在",
    "invalid_user": "用户信息不正确：{detail}",
    # roster import
    "roster.unknown_kind": "无法识别的名册类型（表头：{header}）",
    "roster.missing_columns": "缺少列：{columns}",
    "roster.encoding": "文件不是 UTF-8 编码（可在 Excel 中另存为“CSV UTF-8”）",
    "roster.unreadable": "无法读取文件：{detail}",
    "roster.duplicate_id": "第 {row} 行：编号 {id} 与第 {first} 行重复",
    "roster.row_invalid": "第 {row} 行：{detail}",
    # field-level validation (pydantic error types)
    "field.missing": "缺少必填字段 {field}",
    "field.extra": "不认识的字段 {field}",
    "field.type": "字段 {field} 类型不正确",
    "field.too_long": "字段 {field} 过长",
    "field.range": "字段 {field} 超出允许范围",
    "field.invalid": "字段 {field} 无效",
    "field.ended_before_started": "结束时间早于开始时间",
    "field.too_long_visit": "一次访问不能超过 24 小时",
    "field.kind_subject": "送教记录须填学生编号，巡回指导记录须填学校编号",
}

CATALOGUES: dict[str, dict[str, str]] = {"zh-CN": ZH_CN}


def t(key: str, locale: str = "zh-CN", **values: Any) -> str:
    """The text for ``key``, formatted with ``values``; the key itself when unknown."""
    text = CATALOGUES.get(locale, ZH_CN).get(key) or ZH_CN.get(key, key)
    return text.format(**values) if values else text


_PYDANTIC_KEYS = {
    "missing": "field.missing",
    "extra_forbidden": "field.extra",
    "string_too_long": "field.too_long",
    "too_long": "field.too_long",
    "greater_than": "field.range",
    "greater_than_equal": "field.range",
    "less_than": "field.range",
    "less_than_equal": "field.range",
    "finite_number": "field.range",
}


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """Chinese text for pydantic's ``errors()``: at most three, joined by '；'."""
    parts = []
    for err in errors[:3]:
        field = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "-"
        kind = err.get("type", "")
        if kind == "value_error" and err.get("ctx", {}).get("error"):
            key = str(err["ctx"]["error"])
            parts.append(t(key) if key in ZH_CN else t("field.invalid", field=field))
            continue
        if kind.endswith("_type") or kind.endswith("_parsing"):
            key = "field.type"
        else:
            key = _PYDANTIC_KEYS.get(kind, "field.invalid")
        parts.append(t(key, field=field))
    if len(errors) > 3:
        parts.append(f"等 {len(errors)} 处")
    return "；".join(parts)
