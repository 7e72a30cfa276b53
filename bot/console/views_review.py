"""待审核 and an entry's life: submit, approve (another person), send back, schedule, archive,
history with a side-by-side diff, rollback to an earlier version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import keys
from bot.console import audit, entry_form
from bot.console.diff import field_diffs
from bot.console.views_kb import NOT_FOUND, record
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, render, route, whole_number
from jobs import rule_editing
from knowledge import editing
from knowledge.models import DraftState, KbDraft, KbEntry

NOTIFY_NOT_LATER = (
    "定时发布时不能同时通知订阅者：要通知，请不填发布时间、马上发布；或者不勾选“通知订阅者”。"
)


async def review_queue(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[keys.SESSIONS]() as session:
        drafts = list(
            (
                await session.execute(
                    select(KbDraft)
                    .where(col(KbDraft.state) != DraftState.editing.value)
                    .order_by(col(KbDraft.updated_at))
                )
            ).scalars()
        )
        unreviewed = list(
            (
                await session.execute(
                    select(KbEntry)
                    .where(col(KbEntry.approved_by).is_(None), col(KbEntry.status) == "published")
                    .order_by(col(KbEntry.category), col(KbEntry.id))
                )
            ).scalars()
        )
    return render(
        request,
        "review.html",
        {
            "drafts": drafts,
            "unreviewed": unreviewed,
            "tz": request.config_dict[keys.SETTINGS].tz,
        },
    )


def _publish_at(raw: str, request: web.Request) -> datetime | str | None:
    """The time a scheduled publish was asked for (Shanghai time), None for now, or an error."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return "发布时间请写成 2026-12-31 09:00 这样。"
    tz = request.config_dict[keys.SETTINGS].tz
    moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
    return moment if moment > now(request) else None


async def _notify_subscribers(
    session: AsyncSession, actor: str, published: editing.Published, moment: datetime
) -> None:
    """通知订阅者 ticked: the change rules pointing at the entry send (``jobs`` turns the notice
    into reminders), in the transaction that publishes it."""
    await rule_editing.record_change_notice(
        session, ref=published.entry.id, version=published.entry.version, by=actor, now=moment
    )
    audit.record(
        session,
        actor=actor,
        action="change_notice_recorded",
        target_type="entry",
        target_id=published.entry.id,
        after={"version": published.entry.version},
    )


async def act(request: web.Request) -> web.StreamResponse:
    """One POST per action on an entry: /admin/kb/{id}/{action}."""
    staff = request[STAFF]
    entry_id, action = request.match_info["entry_id"], request.match_info["action"]
    fields = await form(request) or {}
    moment = now(request)
    published = notified = False
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            if action == "submit":
                change: Any = await editing.submit(
                    session, entry_id=entry_id, actor=staff.name, now=moment
                )
            elif action == "approve":
                when = _publish_at(fields.get("publish_at", ""), request)
                if isinstance(when, str):
                    raise editing.EditError(when)
                notify = fields.get("notify") == "1"
                if notify and when is not None:
                    raise editing.EditError(NOTIFY_NOT_LATER)
                result = await editing.approve(
                    session, entry_id=entry_id, actor=staff.name, now=moment, publish_at=when
                )
                published = isinstance(result, editing.Published)
                change = result.change if isinstance(result, editing.Published) else result
                if notify and isinstance(result, editing.Published):
                    await _notify_subscribers(session, staff.name, result, moment)
                    notified = True
            elif action == "send-back":
                change = await editing.send_back(
                    session,
                    entry_id=entry_id,
                    actor=staff.name,
                    comment=fields.get("comment", ""),
                    now=moment,
                )
            elif action == "withdraw":
                change = await editing.withdraw(session, entry_id=entry_id, actor=staff.name)
            elif action == "confirm-review":
                change = await editing.confirm_review(
                    session, entry_id=entry_id, actor=staff.name, today=moment.date(), now=moment
                )
            elif action in {"archive", "restore"}:
                change = await editing.set_archived(
                    session,
                    entry_id=entry_id,
                    archived=action == "archive",
                    actor=staff.name,
                    now=moment,
                )
                published = True
            elif action == "rollback":
                version = whole_number(fields.get("version"), 0)
                if not version:
                    raise editing.EditError("请选择要恢复的版本。")
                _, change = await editing.rollback(
                    session, entry_id=entry_id, version=version, actor=staff.name, now=moment
                )
            else:
                return page(request, 404, NOT_FOUND, title="找不到")
            record(session, staff.name, change)
    except editing.EditError as exc:
        return page(request, 400, str(exc), title="无法完成")
    except editing.Conflict:
        return page(
            request,
            409,
            "这条内容在草稿开始之后已经更新过了。请打开草稿重新保存一次（会显示两个版本对照），再提交审核。",
            title="内容已更新",
        )
    if published or action == "confirm-review":
        # Residents get the change within seconds: rebuild now, not at the next poll.
        request.config_dict[keys.KNOWLEDGE].refresh_soon()
    return redirect(f"/admin/kb/{entry_id}?done={'notified' if notified else action}")


async def publish_scheduled(sessions: Any, now: datetime) -> int:
    """Publish approved drafts whose time has come, each with its audit row (the server's
    content loop calls this as it polls)."""
    async with sessions() as session, session.begin():
        done = await editing.publish_due(session, now=now)
        for item in done:
            record(session, item.entry.approved_by or "system", item.change)
    return len(done)


async def history(request: web.Request) -> web.StreamResponse:
    entry_id = request.match_info["entry_id"]
    async with request.config_dict[keys.SESSIONS]() as session:
        versions = await editing.versions(session, entry_id)
        draft = await editing.draft_of(session, entry_id)
        if not versions:
            return page(request, 404, NOT_FOUND, title="找不到")
        numbers = [v.version for v in versions]
        query = request.query
        newest = numbers[0]
        left = _version(query.get("a"), numbers, numbers[1] if len(numbers) > 1 else newest)
        right = _version(query.get("b"), numbers, newest)
        a = await editing.version_values(session, entry_id, left)
        b = await editing.version_values(session, entry_id, right)
    shown_a, shown_b = entry_form.to_form(a), entry_form.to_form(b)
    return render(
        request,
        "kb_history.html",
        {
            "entry_id": entry_id,
            "versions": versions,
            "draft": draft,
            "left": left,
            "right": right,
            "diffs": field_diffs(entry_form.FIELDS, shown_a, shown_b),
            "tz": request.config_dict[keys.SETTINGS].tz,
        },
    )


def _version(raw: str | None, numbers: list[int], default: int) -> int:
    version = whole_number(raw, default)
    return version if version in numbers else default


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/review", review_queue, roles=CONTENT)
    route(app, "GET", "/kb/{entry_id}/history", history, roles=CONTENT)
    route(app, "POST", "/kb/{entry_id}/{action}", act, roles=CONTENT)
