"""同义词, 线索 (cue groups) and out-of-scope matters in the console: a draft per group, an impact
preview (the development, held-out and recently asked questions whose answer would change), and
approval by a second person."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.console.views_kb import record
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, render, route, whole_number
from bot.conversation.models import QuestionLog
from knowledge import vocabulary
from knowledge.editing import EditError
from knowledge.store import load_published
from knowledge.vocabulary import CUE, OUT_OF_SCOPE, SYNONYM

ROOT = Path(__file__).resolve().parents[2]
# Question sets kept beside the code (absent in an installed image: then only logged ones).
QUESTION_FILES = (
    ROOT.parent / "shared" / "eval" / "qa_dev.jsonl",
    ROOT / "tests" / "knowledge" / "heldout_questions.jsonl",
)
RECENT_DAYS = 30
MAX_RECENT = 3000
KIND_NAMES = {SYNONYM: "同义词", CUE: "线索", OUT_OF_SCOPE: "非民政事项"}
# The field of a draft's value that is its key (it cannot change once saved), and its label.
KEY_FIELDS = {SYNONYM: "canonical", CUE: "need", OUT_OF_SCOPE: "id"}
KEY_LABELS = {SYNONYM: "内容里用的词", CUE: "需要（名称）", OUT_OF_SCOPE: "编号"}


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.replace("\r\n", "\n").split("\n") if line.strip()]


async def overview(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[keys.SESSIONS]() as session:
        synonyms = await vocabulary.current_synonyms(session)
        cues = await vocabulary.current_cues(session)
        matters = await vocabulary.current_out_of_scope(session)
        drafts = await vocabulary.drafts(session)
    return render(
        request,
        "vocabulary.html",
        {
            "synonyms": synonyms,
            "cues": cues,
            "matters": matters,
            "drafts": drafts,
            "kinds": KIND_NAMES,
        },
    )


async def edit_form(request: web.Request) -> web.StreamResponse:
    kind = request.query.get("kind", SYNONYM)
    key = request.query.get("key", "")[:100]
    if kind not in KIND_NAMES:
        return page(request, 404, "没有这个地址。", title="找不到")
    async with request.config_dict[keys.SESSIONS]() as session:
        existing = next(
            (d for d in await vocabulary.drafts(session) if d.kind == kind and d.key == key), None
        )
        if existing is not None:
            value, revision = existing.value, existing.revision
        elif kind == SYNONYM:
            groups = await vocabulary.current_synonyms(session)
            value = {"canonical": key, "variants": groups[key]} if key in groups else None
            revision = 0
        elif kind == CUE:
            value, revision = (await vocabulary.current_cues(session)).get(key), 0
        else:
            value, revision = (await vocabulary.current_out_of_scope(session)).get(key), 0
    if value is None and kind == OUT_OF_SCOPE:
        # Prefilled from a cluster of unanswered questions (未解答问题 → 不归民政管).
        value = {
            "title": request.query.get("title", "")[:200],
            "questions": [q for q in request.query.get("questions", "").split("\n") if q][:50],
        }
    return _form(request, kind=kind, key=key, value=value or {}, revision=revision)


def _form(
    request: web.Request,
    *,
    kind: str,
    key: str,
    value: dict[str, Any],
    revision: int,
    error: str | None = None,
    theirs: dict[str, Any] | None = None,
    theirs_by: str = "",
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "vocabulary_edit.html",
        {
            "kind": kind,
            "kind_name": KIND_NAMES[kind],
            "key": key,
            "value": value,
            "revision": revision,
            "error": error,
            "theirs": theirs,
            "theirs_by": theirs_by,
        },
        status=status,
    )


def _submitted(kind: str, fields: dict[str, str]) -> dict[str, Any]:
    if kind == SYNONYM:
        return {
            "canonical": fields.get("canonical", ""),
            "variants": _lines(fields.get("variants", "")),
        }
    if kind == CUE:
        return {
            "need": fields.get("need", "").strip(),
            "entries": _lines(fields.get("entries", "")),
            "signs": _lines(fields.get("signs", "")),
        }
    return {
        "id": fields.get("id", "").strip(),
        "title": fields.get("title", "").strip(),
        "questions": _lines(fields.get("questions", "")),
        "keywords": _lines(fields.get("keywords", "")),
        "advice": fields.get("advice", "").strip(),
    }


async def save(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    fields = await form(request) or {}
    kind = fields.get("kind", "")
    if kind not in KIND_NAMES:
        return page(request, 400, "不认识的类型。", title="无法保存")
    key = fields.get("key", "").strip()[:100]
    raw = fields.get("revision", "0")
    revision = whole_number(raw, 0, digits=8)
    submitted = _submitted(kind, fields)
    remove = fields.get("remove") == "1"
    try:
        if remove:
            value = None
        elif kind == SYNONYM:
            value = vocabulary.synonym_value(submitted["canonical"], submitted["variants"])
        elif kind == CUE:
            value = vocabulary.cue_value(
                submitted["need"], submitted["entries"], submitted["signs"]
            )
        else:
            value = vocabulary.out_of_scope_value(submitted)
        if value is None and not key:
            raise vocabulary.VocabularyInvalid("请先选择要删除的一条。")
        target = key if value is None else key or value[KEY_FIELDS[kind]]
        if key and value and value[KEY_FIELDS[kind]] != key:
            raise vocabulary.VocabularyInvalid(f"{KEY_LABELS[kind]}不能修改；请新增一条。")
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            draft, change = await vocabulary.save(
                session,
                kind=kind,
                key=target,
                value=value,
                revision=revision or None,
                actor=staff.name,
                now=now(request),
            )
            record(session, staff.name, change)
    except vocabulary.VocabularyInvalid as exc:
        return _form(
            request,
            kind=kind,
            key=key,
            value=submitted,
            revision=revision,
            error=str(exc),
            status=400,
        )
    except vocabulary.VocabularyConflict as conflict:
        return _form(
            request,
            kind=kind,
            key=key,
            value=submitted,
            revision=conflict.revision,
            error="同事刚才也改了这份草稿。您填的内容在下面，没有丢；请对照同事的版本再保存。",
            theirs=conflict.theirs,
            theirs_by=conflict.theirs_by,
            status=409,
        )
    except EditError as exc:
        return page(request, 400, str(exc), title="无法保存")
    return redirect(f"/admin/synonyms/drafts/{draft.id}")


async def _questions(request: web.Request) -> list[str]:
    found: list[str] = []
    for path in QUESTION_FILES:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    found.append(str(json.loads(line).get("q", "")))
    since = now(request) - timedelta(days=RECENT_DAYS)
    async with request.config_dict[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(col(QuestionLog.text))
            .where(col(QuestionLog.asked_at) >= since)
            .distinct()
            .limit(MAX_RECENT)
        )
        found.extend(rows.scalars())
    return [q for q in found if q]


async def draft_page(request: web.Request) -> web.StreamResponse:
    draft_id = whole_number(request.match_info["draft_id"], 0, digits=9)
    if not draft_id:
        return page(request, 404, "没有这份草稿。", title="找不到")
    async with request.config_dict[keys.SESSIONS]() as session:
        try:
            draft = await vocabulary.draft_by_id(session, draft_id)
        except EditError as exc:
            return page(request, 404, str(exc), title="找不到")
        snapshot = await load_published(session)
    questions = await _questions(request)
    changed = await asyncio.to_thread(
        vocabulary.impact,
        snapshot,
        vocabulary.with_change(snapshot, draft),
        questions,
        today=now(request).date(),
    )
    return render(
        request,
        "vocabulary_draft.html",
        {
            "draft": draft,
            "kind_name": KIND_NAMES.get(draft.kind, draft.kind),
            "changed": changed,
            "asked": len(set(questions)),
        },
    )


async def act(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    action = request.match_info["action"]
    draft_id = whole_number(request.match_info["draft_id"], 0, digits=9)
    if not draft_id:
        return page(request, 404, "没有这份草稿。", title="找不到")
    fields = await form(request) or {}
    moment = now(request)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            if action == "submit":
                change = await vocabulary.submit(
                    session, draft_id=draft_id, actor=staff.name, now=moment
                )
            elif action == "approve":
                change = await vocabulary.approve(
                    session, draft_id=draft_id, actor=staff.name, now=moment
                )
            elif action == "send-back":
                change = await vocabulary.send_back(
                    session,
                    draft_id=draft_id,
                    actor=staff.name,
                    comment=fields.get("comment", ""),
                    now=moment,
                )
            elif action == "withdraw":
                change = await vocabulary.withdraw(session, draft_id=draft_id)
            else:
                return page(request, 404, "没有这个地址。", title="找不到")
            record(session, staff.name, change)
    except EditError as exc:
        return page(request, 400, str(exc), title="无法完成")
    if action == "approve":
        request.config_dict[keys.KNOWLEDGE].refresh_soon()
    if action in {"approve", "withdraw"}:
        return redirect("/admin/synonyms?done=" + action)
    return redirect(f"/admin/synonyms/drafts/{draft_id}")


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/synonyms", overview, roles=CONTENT)
    route(app, "GET", "/synonyms/edit", edit_form, roles=CONTENT)
    route(app, "POST", "/synonyms/edit", save, roles=CONTENT)
    route(app, "GET", "/synonyms/drafts/{draft_id}", draft_page, roles=CONTENT)
    route(app, "POST", "/synonyms/drafts/{draft_id}/{action}", act, roles=CONTENT)
