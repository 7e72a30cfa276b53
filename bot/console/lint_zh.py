"""``kb lint``'s findings (English, for the command line) as staff read them beside a field."""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^id is used more than once$", "编号重复了"),
        (r"^related id '(.+)' does not exist$", "相关内容的编号 {0} 不存在"),
        (r"^an entry cannot be related to itself$", "不能把这条内容列为它自己的相关内容"),
        (r"^review_by must come after reviewed$", "下次核对日期要晚于最后核对日期"),
        (r"^reviewed (\S+) is in the future$", "最后核对日期 {0} 还没到"),
        (r"^past its review date (\S+): check it again$", "已过核对期（{0}），请重新核对"),
        (r"^effective_to comes before effective_from$", "失效日期早于生效日期"),
        (r"^answer has (\d+) 汉字; at most (\d+)$", "回答有 {0} 个汉字，最多 {1} 个"),
        (r"^answer has (\d+) numbered steps; at most (\d+)$", "回答有 {0} 个步骤，最多 {1} 个"),
        (r"^'(.+)' looks like a phone number: is it sure\?$", "“{0}”像是电话号码：确定无误吗？"),
        (r"^'(.+)' is an amount: is it sure and current\?$", "“{0}”是金额：确定是现行标准吗？"),
        (r"^the same question is listed twice$", "同一个问法写了两次"),
        (r"^question '(.+)' is also under (.+)$", "问法“{0}”也在 {1} 里"),
        (
            r"^question '(.+)' is nearly the same as '(.+)' under (.+)$",
            "问法“{0}”和 {2} 里的“{1}”几乎一样",
        ),
    )
)


def in_chinese(message: str) -> str:
    for pattern, text in _RULES:
        found = pattern.match(message)
        if found:
            return text.format(*found.groups())
    return message
