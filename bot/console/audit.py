"""The audit log: every change staff make, written in the same transaction as the change.

``record`` only adds a row to the caller's session; the caller's commit writes both or neither.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console.models import AuditEvent

# What each action is called on the audit page.
ACTION_NAMES = {
    "login": "登录",
    "login_failed": "登录失败",
    "login_locked": "账号被锁定",
    "logout": "退出",
    "logout_everywhere": "退出所有设备",
    "user_created": "新建账号",
    "user_disabled": "停用账号",
    "user_enabled": "启用账号",
    "user_role_changed": "更改角色",
    "password_reset": "重设密码",
    "password_changed": "修改密码",
    "telegram_linked": "绑定 Telegram",
    "draft_saved": "保存草稿",
    "draft_submitted": "提交审核",
    "draft_sent_back": "退回修改",
    "draft_withdrawn": "撤回草稿",
    "draft_scheduled": "批准定时发布",
    "draft_rollback": "用旧版本做草稿",
    "entry_published": "发布内容",
    "entry_reviewed": "核对内容",
    "entry_archived": "归档内容",
    "entry_restored": "恢复内容",
    "synonym_draft_saved": "保存同义词草稿",
    "synonym_draft_submitted": "提交同义词审核",
    "synonym_draft_sent_back": "退回同义词草稿",
    "synonym_draft_withdrawn": "撤回同义词草稿",
    "synonym_published": "同义词生效",
    "cue_draft_saved": "保存线索草稿",
    "cue_draft_submitted": "提交线索审核",
    "cue_draft_sent_back": "退回线索草稿",
    "cue_draft_withdrawn": "撤回线索草稿",
    "cue_published": "线索生效",
    "out_of_scope_draft_saved": "保存非民政事项草稿",
    "out_of_scope_draft_submitted": "提交非民政事项审核",
    "out_of_scope_draft_sent_back": "退回非民政事项草稿",
    "out_of_scope_draft_withdrawn": "撤回非民政事项草稿",
    "out_of_scope_published": "非民政事项生效",
    "questions_dismissed": "未解答问题放一边",
    "escalation_opened": "居民请求人工服务",
    "escalation_claimed": "认领案件",
    "escalation_closed": "结案",
    "escalation_reopened": "重新打开案件",
    "escalation_called_back": "电话回访",
    "escalation_draft": "案件转知识库草稿",
    "advisor_link_code": "生成 Telegram 绑定码",
    "reminder_rule_saved": "保存提醒规则",
    "reminder_rule_submitted": "提交提醒规则审核",
    "reminder_rule_approved": "批准提醒规则",
    "reminder_rule_sent_back": "退回提醒规则",
    "reminder_rule_paused": "暂停提醒规则",
    "reminder_rule_resumed": "恢复提醒规则",
    "reminder_rule_archived": "归档提醒规则",
    "bind_code_created": "生成提醒绑定码",
    "change_notice_recorded": "通知订阅者",
}


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id[:128],
        before=before,
        after=after,
        note=note,
    )
    if at is not None:
        event.at = at
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Any, where: AuditFilter) -> Any:
    if where.actor:
        query = query.where(col(AuditEvent.actor) == where.actor)
    if where.action:
        query = query.where(col(AuditEvent.action) == where.action)
    if where.target:
        query = query.where(col(AuditEvent.target_id).contains(where.target, autoescape=True))
    if where.since:
        query = query.where(col(AuditEvent.at) >= where.since)
    if where.until:
        query = query.where(col(AuditEvent.at) < where.until)
    return query


async def find(
    session: AsyncSession, where: AuditFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """The events matching ``where``, newest first, and how many match in all."""
    query = _filtered(select(AuditEvent), where)
    total = await session.scalar(_filtered(select(func.count()).select_from(AuditEvent), where))
    rows = await session.execute(
        query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total or 0)


async def actors(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(col(AuditEvent.actor)).distinct().order_by("actor"))
    return [row for row in rows.scalars()]


CSV_COLUMNS = ("时间", "操作人", "操作", "对象类型", "对象", "修改前", "修改后", "说明")


def to_csv(events: Iterable[AuditEvent], tz: ZoneInfo) -> str:
    """A CSV Excel opens correctly (BOM, CRLF); cells that a spreadsheet would run as a formula
    are quoted with a leading apostrophe."""
    import json

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        cells: Sequence[str] = (
            e.at.astimezone(tz).isoformat(timespec="seconds"),
            e.actor,
            ACTION_NAMES.get(e.action, e.action),
            e.target_type,
            e.target_id,
            json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
            json.dumps(e.after, ensure_ascii=False) if e.after is not None else "",
            e.note or "",
        )
        writer.writerow([_safe_cell(c) for c in cells])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
