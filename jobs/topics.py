"""The topics a resident can switch on or off. A sensitive topic reveals hardship (PIPL art.
29): it needs a separate consent, and its reminders never spell it out in the notification."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    code: str
    label: str
    # What the resident is told they would get.
    about: str
    sensitive: bool = False
    # The rules of this topic need the resident's town or age to pick them.
    needs_town: bool = False
    needs_age: bool = False


TOPICS: tuple[Topic, ...] = (
    Topic("rental", "辅具租赁到期", "租用的轮椅、助行器等快到期时，提醒您归还或续租"),
    Topic("review", "低保、特困复核", "低保、特困等救助的复核时间", sensitive=True),
    Topic(
        "allowance",
        "老年综合津贴",
        "到了可以申请老年综合津贴的年龄时，提醒您去申请",
        needs_age=True,
    ),
    Topic("meals", "老年助餐", "您所在街镇的助餐点节假日暂停或调整", needs_town=True),
    Topic("memorial", "祭扫安排", "清明、冬至祭扫的预约和交通安排"),
    Topic("elderly", "为老活动", "重阳节等为老服务活动", needs_town=True),
    Topic("policy", "政策更新", "您关心的民政政策有变化时告诉您"),
)
BY_CODE = {topic.code: topic for topic in TOPICS}
SENSITIVE = frozenset(topic.code for topic in TOPICS if topic.sensitive)


def label(code: str) -> str:
    topic = BY_CODE.get(code)
    return topic.label if topic else code
