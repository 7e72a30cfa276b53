"""An entry as an HTML form: field labels in Chinese, lists as one item a line."""

from __future__ import annotations

from typing import Any

from knowledge.editing import DATE_FIELDS, LIST_FIELDS
from knowledge.schema import CATEGORIES, FACILITY_CATEGORIES

# (field, label, hint) in the order of the form.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("id", "编号", "小写字母、数字和横线，如 assist-dibao-apply；保存后不能改"),
    ("title", "标题", "居民一眼能看懂的名称"),
    ("category", "类别", ""),
    (
        "questions",
        "居民的问法",
        "每行一个，至少 5 个，用老人常用的说法（老年食堂、五保户、领证……）",
    ),
    ("keywords", "关键词", "每行一个"),
    ("answer", "回答", "先用一句话回答，再列最多 5 个步骤；不超过 300 个汉字"),
    ("eligibility", "申请条件", ""),
    ("materials", "所需材料", ""),
    ("steps", "办理步骤", "每行一步，最多 5 步"),
    ("where", "办理地点", ""),
    ("fees", "费用", "没把握的金额不要写，写清去哪里问"),
    ("contacts", "咨询电话", "只写确定的号码，如 37009999、12345"),
    ("related", "相关内容", "每行一个编号"),
    ("topics", "提醒主题", "每行一个"),
    ("facility_category", "对应的服务点类别", "有了它，回答下面会出现“找附近的服务点”"),
    ("source", "来源", "规划章节、法规条款或发布规定的部门"),
    ("reviewed", "最后核对日期", "本人核对这条内容的日期"),
    ("review_by", "下次核对日期", ""),
    ("effective_from", "生效日期", "可不填"),
    ("effective_to", "失效日期", "可不填；过了这天不再回答"),
)
LABELS = {name: label for name, label, _ in FIELDS}
LONG_TEXT = frozenset({"answer", "eligibility", "materials", "where", "fees", "contacts"})
CHOICES = {
    "category": sorted(CATEGORIES),
    "facility_category": ["", *sorted(FACILITY_CATEGORIES)],
}


def from_form(fields: dict[str, str]) -> dict[str, Any]:
    """The submitted form as entry values; empty fields are left out."""
    values: dict[str, Any] = {}
    for name, _, _ in FIELDS:
        raw = fields.get(name, "").replace("\r\n", "\n").strip()
        if name in LIST_FIELDS:
            items = [line.strip() for line in raw.split("\n") if line.strip()]
            if items:
                values[name] = items
        elif raw:
            values[name] = raw
    return values


def to_form(values: dict[str, Any]) -> dict[str, str]:
    """Entry values as the form's text fields."""
    shown: dict[str, str] = {}
    for name, _, _ in FIELDS:
        value = values.get(name)
        if value is None:
            shown[name] = ""
        elif isinstance(value, list):
            shown[name] = "\n".join(str(v) for v in value)
        else:
            shown[name] = str(value).strip() if name not in DATE_FIELDS else str(value)[:10]
    return shown
