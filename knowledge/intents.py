"""What a question asks for, whatever its subject: where, how to apply, whether one qualifies,
how much is paid … Entries of one topic share its words (助餐点, 送餐 and 助餐补贴 all say 助餐)
and differ in what they answer: the place, the procedure, the money. A resident's story names
the topic in passing (我每天在社区食堂吃) and asks at the end (怎么才能享受到补贴).

Each entry has a profile, the share of its title and sample questions that ask each way; a
question's own asks are found in its clauses, the last clause counting most. The ``intent``
feature is how well the two agree. The forms are of the language, not of any entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_FORMS = {
    "where": "哪里 哪儿 哪个地方 哪些地方 在哪 什么地方 附近 最近的 离.{0,4}近 地址 哪家 几个点",
    "how": "怎么(?:办|申请|弄|登记|预约|报名|订|租|领|还|退|开|做|找|走|处理|操作) 如何 流程 手续 "
    "步骤 程序 要带 带什么 带哪些 材料 证件 证明 替.{0,3}办 代.{0,2}(?:办|申请|领) 网上 线上 "
    "要去哪办 办理",
    "qualify": "条件 资格 够不够 符合 算不算 能不能(?:领|享受|申请|拿|办|评) "
    "可不可以(?:领|申请|享受) 有没有份 能享受 能领 领得到 够格 轮得到 我这(?:样|种)",
    "amount": "多少钱 标准 金额 发多少 补多少 给多少 领多少 多少 几百 按什么算 怎么算 算法 涨 调整",
    "cost": "收费 费用 要钱 付钱 花钱 免费 押金 价格 价钱 自费 便宜",
    "time": "多久 多长时间 什么时候 几点 几号 期限 几天 到期 截止 时间",
    "change": "要不要(?:说|报|告诉|讲) 主动 申报 复核 年审 核查 变了 变化 停发 取消 被查",
    "appeal": "不服 被拒 不批 没批 投诉 举报 复议 申诉 没通过 退回 不合理 告",
    "contact": "电话 热线 联系 打给谁 找谁 哪个部门 谁管 有人管",
    "items": "有什么 有哪些 什么东西 种类 品种 区别 哪几种 哪种",
    "first": "先做什么 先办什么 第一步 先打 先干 怎么办 咋办",
}
# One pattern of every form, each a named group: a question is read in one pass.
_PATTERN = re.compile("|".join(f"(?P<{name}>{'|'.join(p.split())})" for name, p in _FORMS.items()))
# Earlier clauses of a story say what happened more than what is asked.
EARLIER_CLAUSE = 0.4


def is_form(word: str) -> bool:
    """The word is itself a form of asking (多少钱, 在哪, 条件), whatever it asks about."""
    return _PATTERN.fullmatch(word) is not None


def forms(text: str) -> set[str]:
    """The forms of asking in a text."""
    return {m.lastgroup for m in _PATTERN.finditer(text) if m.lastgroup}


def asks(text: str) -> dict[str, float]:
    """The forms of asking in a question: 1 in its last clause, ``EARLIER_CLAUSE`` before."""
    last = text.rfind(" ") + 1  # clauses are separated by spaces once normalised
    found: dict[str, float] = {}
    for match in _PATTERN.finditer(text):
        name = match.lastgroup
        if name:
            weight = 1.0 if match.start() >= last else EARLIER_CLAUSE
            if weight > found.get(name, 0.0):
                found[name] = weight
    return found


def profile(texts: Sequence[str]) -> dict[str, float]:
    """An entry's profile: the share of its questions asking each way."""
    if not texts:
        return {}
    counts: dict[str, float] = {}
    for text in texts:
        for name in forms(text):
            counts[name] = counts.get(name, 0.0) + 1.0
    return {name: count / len(texts) for name, count in counts.items()}


def agreement(question: dict[str, float], entry: dict[str, float]) -> float:
    """How much of the question's asking the entry answers, in [0, 1] (0 when it asks no way)."""
    total = sum(question.values())
    if not total:
        return 0.0
    return sum(w * entry.get(name, 0.0) for name, w in question.items()) / total
