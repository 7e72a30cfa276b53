"""How a case reads, on each side: the card in the advisors' group, and each transcript
message as the resident or the group sees it. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.conversation import texts
from bot.conversation.buttons import (
    AskCallback,
    CalledBack,
    Claim,
    CloseCase,
    EndAdvisor,
    OfferCallback,
    Reopen,
    Resolved,
)
from bot.conversation.messages import Button, Reply
from bot.escalations.callbacks import CALL_RESULTS, window_text
from bot.escalations.models import Author, CaseState, Escalation, EscalationMessage
from bot.escalations.ports import Card, DeskPost

MAX_TURNS = 10
MEDIA_NAMES = {
    "photo": "照片",
    "voice": "语音",
    "audio": "音频",
    "document": "文件",
    "video": "视频",
    "video_note": "视频",
    "sticker": "表情",
    "location": "位置",
    "contact": "名片",
}


NEED_CHARS = 800
CARD_CHARS = 3000


def _cut(text: str | None, limit: int) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def guesses_text(guesses: list[dict[str, Any]]) -> str:
    """The bot's guesses as people read them: 标题（0.62）；…"""
    return "；".join(f"{g.get('title')}（{float(g.get('score') or 0):.2f}）" for g in guesses)


def case_number(case: Escalation) -> str:
    return f"#{case.id}"


def topic_name(case: Escalation) -> str:
    """Case number, town and topic: never a name or a phone number."""
    return f"{case_number(case)} {case.town or '街镇未知'} {case.topic or '咨询'}"[:128]


def _minutes(start: datetime, now: datetime) -> int:
    return max(0, int((now - start).total_seconds() // 60))


def context_of(case: Escalation) -> dict[str, Any]:
    try:
        data = json.loads(case.context or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class CardFacts:
    """What the card shows that the case row alone does not say."""

    phone: str | None = None
    now: datetime | None = None


def card(case: Escalation, tz: ZoneInfo, facts: CardFacts) -> Card:
    assert case.id is not None
    now = facts.now or case.opened_at
    opened = case.opened_at.astimezone(tz)
    status = {
        CaseState.open: "等待顾问认领",
        CaseState.claimed: f"工号 {case.advisor_id} 处理中",
        CaseState.closed: "已结案",
    }[CaseState(case.state)]
    lines = [f"案件 {topic_name(case)}", f"状态：{status}"]
    waiting = ""
    if case.state == CaseState.open:
        waiting = f"（已等待 {_minutes(case.waiting_since or case.opened_at, now)} 分钟）"
    lines.append(f"提出时间：{opened.month}月{opened.day}日 {opened:%H:%M}{waiting}")
    lines.append(f"渠道：{'Telegram' if case.channel == 'telegram' else '网页'}")
    lines.append(f"居民说：{_cut(case.need, NEED_CHARS) or '（没有留言，请直接问居民）'}")
    context = context_of(case)
    guesses = [g for g in context.get("guesses", []) if isinstance(g, dict)]
    if guesses:
        lines.append(f"助手猜测：{guesses_text(guesses[:3])}")
    turns = [t for t in context.get("turns", []) if isinstance(t, dict)][-MAX_TURNS:]
    if turns:
        lines.append(f"之前的对话（最近 {len(turns)} 条）：")
        for n, turn in enumerate(turns, start=1):
            question, answer = str(turn.get("q", "")), str(turn.get("a", ""))
            lines.append(f"{n}. 居民：{_cut(question, 80)} → 助手：{_cut(answer, 40)}")
    if case.callback_requested_at is not None:
        today = now.astimezone(tz).date()
        when = window_text(case.callback_day, case.callback_afternoon, today)
        number = facts.phone or "（号码已删除）"
        lines.append(f"电话回访：{number}，{when}")
        if case.call_result:
            lines.append(f"回电结果：{CALL_RESULTS.get(case.call_result, case.call_result)}")
    rows: list[tuple[Button, ...]] = []
    if case.state == CaseState.open:
        rows.append((Claim(case.id).button("认领"), CloseCase(case.id).button("结案")))
    elif case.state == CaseState.claimed:
        rows.append((CloseCase(case.id).button("结案"),))
    if case.state != CaseState.closed:
        if case.phone_sealed is None:
            rows.append((OfferCallback(case.id).button("转电话回访"),))
        elif case.called_at is None:
            rows.append(
                tuple(CalledBack(case.id, key).button(label) for key, label in _CALLED.items())
            )
    # Under Telegram's 4,096 with room for escaping: the whole need is in the transcript.
    return Card(case.id, topic_name(case), _cut("\n".join(lines), CARD_CHARS), tuple(rows))


_CALLED = {"solved": "已回电·解决", "more": "已回电·再跟进", "missed": "没人接"}


def digest(card_: Card) -> str:
    raw = json.dumps([card_.title, card_.text, [[b.data for b in r] for r in card_.buttons]])
    return hashlib.sha256(raw.encode()).hexdigest()


# To the resident ------------------------------------------------------------------------------

CASE_BUTTONS = (
    (EndAdvisor().button(texts.END_ADVISOR),),
    (AskCallback().button(texts.ASK_CALLBACK),),
)


def to_resident(message: EscalationMessage, case_id: int) -> Reply:
    """A transcript message as the resident reads it (Telegram, or the web chat's poll)."""
    if message.author == Author.advisor:
        return Reply(f"养老顾问（工号 {message.staff_id}）：{message.text or ''}")
    if message.kind == "claimed":
        return Reply(message.text or "", buttons=CASE_BUTTONS)
    if message.kind == "callback_offer":
        return Reply(message.text or "", request_contact=True)
    if message.kind == "closed":
        return Reply(f"{message.text}\n{texts.ASK_SOLVED}", buttons=solved_buttons(case_id))
    return Reply(message.text or "")


def solved_buttons(case_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Resolved(case_id, True).button("解决了"),
            Resolved(case_id, False).button("没解决"),
        ),
    )


def reopen_buttons(case_id: int) -> tuple[tuple[Button, ...], ...]:
    return ((Reopen(case_id).button(texts.REOPEN),),)


# To the group ---------------------------------------------------------------------------------


def to_desk(message: EscalationMessage) -> DeskPost:
    """A transcript message as the advisors' group sees it."""
    if message.author == Author.resident:
        who = "居民" if message.via == "telegram" else "居民（网页）"
        if message.kind != "text" and message.source_chat_id and message.source_message_id:
            name = MEDIA_NAMES.get(message.kind, "消息")
            caption = f"{who}发来的{name}" + (f"：{message.text}" if message.text else "")
            return DeskPost(caption, copy_from=(message.source_chat_id, message.source_message_id))
        return DeskPost(f"{who}：{message.text or ''}")
    if message.author == Author.advisor:
        return DeskPost(f"工号 {message.staff_id}（控制台）：{message.text or ''}")
    if message.kind == "alert":
        return DeskPost(message.text or "")
    return DeskPost(f"ℹ️ {message.text or ''}")
