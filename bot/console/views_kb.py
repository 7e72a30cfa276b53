"""知识库: the list, an entry's page, and editing (a draft, with the lint beside each field and
a preview exactly as residents see it)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keys
from bot.console import audit, entry_form, kb_queries
from bot.console.lint_zh import in_chinese
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, render, route, whole_number
from bot.conversation.messages import Reply
from bot.conversation.render import entry_reply
from knowledge import editing
from knowledge.lint import lint
from knowledge.loader import Content
from knowledge.models import KbDraft, KbEntry
from knowledge.schema import EntryIn
from knowledge.store import published_view

NOT_FOUND = "没有这条内容。"


def record(session: AsyncSession, actor: str, change: editing.Change) -> None:
    """The audit row of a knowledge-base change, in the caller's transaction."""
    audit.record(
        session,
        actor=actor,
        action=change.action,
        target_type="entry",
        target_id=change.entry_id,
        before=change.before,
        after=change.after,
        note=change.note,
    )


def _page_number(raw: str) -> int:
    return whole_number(raw, 1, digits=5)


async def entry_list(request: web.Request) -> web.StreamResponse:
    query = request.query
    search, category = query.get("q", "")[:100], query.get("category", "")
    which = query.get("which", "")
    if which not in kb_queries.FILTERS:
        which = ""
    async with request.config_dict[keys.SESSIONS]() as session:
        listing = await kb_queries.find_entries(
            session,
            search=search,
            category=category if category in entry_form.CHOICES["category"] else "",
            which=which,
            today=now(request).date(),
            page=_page_number(query.get("page", "1")),
        )
        new = await kb_queries.new_drafts(session)
    return render(
        request,
        "kb_list.html",
        {
            "listing": listing,
            "new_drafts": new,
            "q": search,
            "category": category,
            "which": which,
            "filters": kb_queries.FILTERS,
            "categories": entry_form.CHOICES["category"],
            "today": now(request).date(),
        },
    )


def preview(values: dict[str, Any], today: date) -> Reply | None:
    """The draft as residents would read it, or None while it is not a valid entry."""
    try:
        entry = EntryIn.model_validate(values)
    except ValueError:
        return None
    return entry_reply(published_view(entry, version=0), entry.review_by < today)


async def findings_by_field(
    request: web.Request, values: dict[str, Any], today: date
) -> dict[str, list[str]]:
    """What ``kb lint`` says of this entry among the published ones, by field. Linted in a
    thread: with 10,000 entries the near-same question check takes about a second."""
    knowledge = request.config_dict[keys.KNOWLEDGE]
    published = list(knowledge.index.entries.values()) if knowledge.ready else []
    return await asyncio.to_thread(_findings, values, published, today)


def _findings(values: dict[str, Any], published: list[Any], today: date) -> dict[str, list[str]]:
    try:
        entry = EntryIn.model_validate(values)
    except ValueError:
        return {}
    others = [EntryIn.model_validate(_as_values(e)) for e in published if e.id != entry.id]
    found: dict[str, list[str]] = {}
    for finding in lint(Content(entries=[*others, entry]), today=today):
        if finding.entry_id == entry.id or f"under {entry.id}" in finding.message:
            label = "错误" if finding.level == "error" else "请确认"
            found.setdefault(finding.field or "id", []).append(
                f"{label}：{in_chinese(finding.message)}"
            )
    return found


def _as_values(entry: Any) -> dict[str, Any]:
    values = {
        "id": entry.id,
        "title": entry.title,
        "category": entry.category,
        "questions": list(entry.questions),
        "keywords": list(entry.keywords),
        "answer": entry.answer,
        "related": list(entry.related),
        "facility_category": entry.facility_category,
        "source": entry.source,
        "reviewed": entry.reviewed,
        "review_by": entry.review_by,
        "effective_from": entry.effective_from,
        "effective_to": entry.effective_to,
        **entry.details,
    }
    return {k: v for k, v in values.items() if v not in (None, [])}


async def _load(
    session: AsyncSession, entry_id: str
) -> tuple[KbEntry | None, list[str], KbDraft | None]:
    row = await session.get(KbEntry, entry_id)
    questions = await editing.questions_of(session, entry_id) if row else []
    return row, questions, await editing.draft_of(session, entry_id)


async def entry_page(request: web.Request) -> web.StreamResponse:
    entry_id = request.match_info["entry_id"]
    async with request.config_dict[keys.SESSIONS]() as session:
        row, questions, draft = await _load(session, entry_id)
        if row is None and draft is None:
            return page(request, 404, NOT_FOUND, title="找不到")
        feedback = await kb_queries.feedback_for(session, entry_id)
    today = now(request).date()
    published = editing.entry_values(row, questions) if row else None
    return render(
        request,
        "kb_entry.html",
        {
            "entry_id": entry_id,
            "row": row,
            "published": published,
            "published_reply": preview(published, today) if published else None,
            "draft": draft,
            "draft_reply": preview(draft.snapshot, today) if draft else None,
            "feedback": feedback,
            "labels": entry_form.LABELS,
            "tz": request.config_dict[keys.SETTINGS].tz,
            "done": request.query.get("done"),
        },
    )


async def _edit_page(
    request: web.Request,
    *,
    entry_id: str | None,
    values: dict[str, Any],
    revision: int,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    today = now(request).date()
    return render(
        request,
        "kb_edit.html",
        {
            "entry_id": entry_id,
            "fields": entry_form.FIELDS,
            "long_text": entry_form.LONG_TEXT,
            "list_fields": editing.LIST_FIELDS,
            "date_fields": editing.DATE_FIELDS,
            "choices": entry_form.CHOICES,
            "shown": entry_form.to_form(values),
            "revision": revision,
            "problems": problems or {},
            "findings": await findings_by_field(request, values, today),
            "reply": preview(values, today),
        },
        status=status,
    )


async def edit_form(request: web.Request) -> web.StreamResponse:
    entry_id = request.match_info.get("entry_id")
    if entry_id is None:
        today = now(request).date()
        values: dict[str, Any] = {
            "reviewed": str(today),
            "review_by": str(today + timedelta(days=365)),
        }
        # Prefilled from a cluster of unanswered questions (未解答问题 → 新建内容).
        if title := request.query.get("title", "").strip()[:200]:
            values["title"] = title
        if asked := request.query.get("questions", ""):
            values["questions"] = [q.strip() for q in asked.split("\n") if q.strip()][:50]
        return await _edit_page(request, entry_id=None, values=values, revision=0)
    async with request.config_dict[keys.SESSIONS]() as session:
        row, questions, draft = await _load(session, entry_id)
    if draft is not None:
        return await _edit_page(
            request, entry_id=entry_id, values=dict(draft.snapshot), revision=draft.revision
        )
    if row is None:
        return page(request, 404, NOT_FOUND, title="找不到")
    return await _edit_page(
        request, entry_id=entry_id, values=editing.entry_values(row, questions), revision=0
    )


async def save(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    entry_id = request.match_info.get("entry_id")
    fields = await form(request) or {}
    values = entry_form.from_form(fields)
    if entry_id is not None:
        values["id"] = entry_id
    raw_revision = fields.get("revision", "0")
    revision = whole_number(raw_revision, 0, digits=8)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            draft, change = await editing.save(
                session,
                entry_id=entry_id,
                values=values,
                revision=revision or None,
                actor=staff.name,
                now=now(request),
            )
            record(session, staff.name, change)
    except editing.Invalid as exc:
        return await _edit_page(
            request,
            entry_id=entry_id,
            values=values,
            revision=revision,
            problems=exc.problems,
            status=400,
        )
    except editing.Conflict as conflict:
        return render(
            request,
            "kb_conflict.html",
            {
                "entry_id": entry_id or values.get("id", ""),
                "theirs": entry_form.to_form(conflict.theirs),
                "theirs_by": conflict.theirs_by,
                "yours": entry_form.to_form(conflict.yours),
                "fields": entry_form.FIELDS,
                "revision": conflict.revision,
            },
            status=409,
        )
    target = draft.entry_id
    if fields.get("then") == "submit":
        return await _submit_after_save(request, target)
    return redirect(f"/admin/kb/{target}?done=saved")


async def _submit_after_save(request: web.Request, entry_id: str) -> web.StreamResponse:
    staff = request[STAFF]
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            record(
                session,
                staff.name,
                await editing.submit(
                    session, entry_id=entry_id, actor=staff.name, now=now(request)
                ),
            )
    except editing.EditError as exc:
        return page(request, 400, str(exc), title="无法提交")
    return redirect(f"/admin/kb/{entry_id}?done=submitted")


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/kb", entry_list, roles=CONTENT)
    route(app, "GET", "/kb/new", edit_form, roles=CONTENT)
    route(app, "POST", "/kb/new", save, roles=CONTENT)
    route(app, "GET", "/kb/{entry_id}", entry_page, roles=CONTENT)
    route(app, "GET", "/kb/{entry_id}/edit", edit_form, roles=CONTENT)
    route(app, "POST", "/kb/{entry_id}/edit", save, roles=CONTENT)
