"""How ``minzheng escalations`` prints cases for people: tables and lines in Chinese."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

CHANNEL_NAMES = {"telegram": "Telegram", "web": "网页"}
CLOSED_BY_NAMES = {
    "advisor": "顾问",
    "staff": "工作人员",
    "cli": "命令行",
    "resident": "居民",
    "stop": "居民删除了数据",
    "blocked": "居民屏蔽了助手",
}
KIND_NAMES = {
    "photo": "图片",
    "voice": "语音",
    "audio": "音频",
    "document": "文件",
    "video": "视频",
    "sticker": "贴纸",
    "location": "位置",
    "contact": "名片",
}
NO_VALUE = "—"


def shown_width(text: str) -> int:
    """Columns on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if shown_width(flat) <= width:
        return flat
    out, used = "", 0
    for ch in flat:
        if used + shown_width(ch) > width - 1:
            break
        out += ch
        used += shown_width(ch)
    return out + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(shown_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell + " " * (widths[i] - shown_width(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def moment(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else NO_VALUE


def staff(staff_id: int | None, names: dict[int, str]) -> str:
    if staff_id is None:
        return NO_VALUE
    name = names.get(staff_id)
    return f"{name}（工号 {staff_id}）" if name else f"工号 {staff_id}"


def channel(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def row(case: dict[str, Any], names: dict[int, str]) -> list[str]:
    return [
        f"#{case['id']}",
        case["state_name"],
        case["town"] or NO_VALUE,
        clip(case["need"], 24) if case["need"] else NO_VALUE,
        moment(case["opened_at"]),
        staff(case["advisor_id"], names),
        channel(case["channel"]),
    ]


def case_lines(case: dict[str, Any], names: dict[int, str]) -> list[str]:
    lines = [
        f"案件 #{case['id']}  {case['state_name']}",
        f"渠道：{channel(case['channel'])}    街镇：{case['town'] or NO_VALUE}    "
        f"话题：{case['topic'] or NO_VALUE}",
        f"事由：{case['need'] or NO_VALUE}",
        f"负责人：{staff(case['advisor_id'], names)}",
        f"提出：{moment(case['opened_at'])}    认领：{moment(case['claimed_at'])}    "
        f"首次回复：{moment(case['first_reply_at'])}",
    ]
    if case["closed_at"]:
        by = CLOSED_BY_NAMES.get(case["closed_by"] or "", case["closed_by"] or NO_VALUE)
        lines.append(f"结案：{moment(case['closed_at'])}（{by}）")
    if case["solved"] is not None:
        lines.append(f"居民反馈：{'问题已解决' if case['solved'] else '问题没有解决'}")
    if case["reopened"]:
        lines.append(f"重新打开：{case['reopened']} 次")
    if case["guesses"]:
        # Imported here: `minzheng --help` loads no escalation module.
        from bot.escalations.cards import guesses_text

        lines.append(f"助手的猜测：{guesses_text(case['guesses'])}")
    callback = case["callback"]
    if callback is not None:
        done = f"，{callback['result']}" if callback["result"] else ""
        lines.append(f"电话回访：{callback['when']}{done}（号码不在命令行显示）")
    return lines


def author(message: dict[str, Any], names: dict[int, str]) -> str:
    if message["author"] == "resident":
        return "居民"
    if message["author"] == "advisor":
        return f"顾问 {staff(message['staff_id'], names)}"
    return "系统"


def message_line(message: dict[str, Any], names: dict[int, str]) -> str:
    text = message["text"]
    kind = KIND_NAMES.get(message["kind"])
    if kind is not None:
        text = f"[{kind}] {text}" if text else f"[{kind}]"
    undelivered = [
        side
        for side, key in (("居民", "to_resident"), ("顾问群", "to_desk"))
        if message[key] in {"pending", "sending"}
    ]
    failed = [
        side
        for side, key in (("居民", "to_resident"), ("顾问群", "to_desk"))
        if message[key] == "failed"
    ]
    marks = ""
    if undelivered:
        marks += f"（待发给{'、'.join(undelivered)}）"
    if failed:
        marks += f"（没能发给{'、'.join(failed)}）"
    return f"{moment(message['at'])}  {author(message, names)}：{text or ''}{marks}"
