"""A reminder rule as an HTML form: what each field is called, and the submitted text read back
into ``RuleValues`` (or what is wrong with it, by field, in Chinese, without losing a word)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from directory.places import TOWNS
from jobs.models import FACT_KIND_NAMES, RULE_KIND_NAMES, RuleKind
from jobs.rule_editing import RuleValues
from jobs.rules import PLACEHOLDERS
from jobs.topics import TOPICS

TOWN_NAMES = tuple(town.name for town in TOWNS)
KINDS = tuple((kind.value, name) for kind, name in RULE_KIND_NAMES.items())
TOPIC_CHOICES = tuple((topic.code, topic.label) for topic in TOPICS)
FACT_KINDS = tuple((kind.value, name) for kind, name in FACT_KIND_NAMES.items())
# The placeholders, and which kinds of rule fill each, for the hint under the message.
PLACEHOLDER_HINTS = tuple(
    (
        "{" + name + "}",
        "所有规则" if len(kinds) == len(RuleKind) else "、".join(RULE_KIND_NAMES[k] for k in kinds),
    )
    for name, kinds in PLACEHOLDERS.items()
)
LABELS = {
    "name": "规则名称",
    "kind": "类型",
    "topic": "主题",
    "message": "提醒内容",
    "entry_id": "知识库条目编号",
    "on_date": "日期",
    "cron": "cron 表达式",
    "send_at": "发送时间",
    "days_before": "提前几天",
    "fact_kind": "到期类别",
    "age": "年龄",
    "towns": "街镇",
    "age_min": "年龄段：从",
    "age_max": "年龄段：到",
}
TEXT_FIELDS = (
    "name",
    "kind",
    "topic",
    "message",
    "entry_id",
    "on_date",
    "cron",
    "send_at",
    "days_before",
    "fact_kind",
    "age",
    "age_min",
    "age_max",
)
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")


@dataclass
class Filled:
    """The form as submitted: its text (to show it again), the towns ticked, and problems."""

    shown: dict[str, str]
    towns: list[str]
    problems: dict[str, str] = field(default_factory=dict)
    values: RuleValues | None = None


def _number(raw: str, name: str, problems: dict[str, str]) -> int | None:
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 4:
        return int(raw)
    problems[name] = "请填一个整数，如 7。"
    return None


def _minutes(raw: str, problems: dict[str, str]) -> int:
    found = _TIME.fullmatch(raw)
    if found and int(found[1]) < 24 and int(found[2]) < 60:
        return int(found[1]) * 60 + int(found[2])
    problems["send_at"] = "发送时间请写成 10:00 这样（24 小时制）。"
    return 10 * 60


def read(fields: dict[str, str]) -> Filled:
    shown = {name: fields.get(name, "").replace("\r\n", "\n").strip() for name in TEXT_FIELDS}
    towns = [fields[name] for name in sorted(fields) if name.startswith("town-")]
    filled = Filled(shown, [town for town in TOWN_NAMES if town in towns])
    problems = filled.problems
    try:
        kind = RuleKind(shown["kind"])
    except ValueError:
        problems["kind"] = "请选择规则的类型。"
        kind = RuleKind.calendar
    on_date = None
    if shown["on_date"]:
        try:
            on_date = date.fromisoformat(shown["on_date"])
        except ValueError:
            problems["on_date"] = "日期请写成 2026-12-21 这样。"
    send_at = _minutes(shown["send_at"] or "10:00", problems)
    numbers = {
        name: _number(shown[name], name, problems)
        for name in ("days_before", "age", "age_min", "age_max")
    }
    if problems:
        return filled
    filled.values = RuleValues(
        name=shown["name"],
        kind=kind,
        topic=shown["topic"],
        message=shown["message"],
        entry_id=shown["entry_id"] or None,
        on_date=on_date,
        cron=shown["cron"] or None,
        send_at=send_at,
        fact_kind=shown["fact_kind"] or None,
        towns=tuple(filled.towns),
        **numbers,
    )
    return filled


def shown_of(values: RuleValues) -> Filled:
    """A saved rule as the form's fields."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    shown = {
        "name": values.name,
        "kind": values.kind.value,
        "topic": values.topic,
        "message": values.message,
        "entry_id": text(values.entry_id),
        "on_date": values.on_date.isoformat() if values.on_date else "",
        "cron": text(values.cron),
        "send_at": f"{values.send_at // 60:02d}:{values.send_at % 60:02d}",
        "days_before": text(values.days_before),
        "fact_kind": text(values.fact_kind),
        "age": text(values.age),
        "age_min": text(values.age_min),
        "age_max": text(values.age_max),
    }
    return Filled(shown, list(values.towns), values=values)


def blank(entry_id: str = "") -> Filled:
    return Filled(
        {name: "" for name in TEXT_FIELDS}
        | {"kind": RuleKind.calendar.value, "send_at": "10:00", "entry_id": entry_id},
        [],
    )
