"""未解答问题: clusters of what residents asked that found no answer (or got 没帮助), and what
staff do with one — a new entry, more questions for an entry, an out-of-scope matter (each a
draft that goes through review), or set it aside."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web

from bot import keys
from bot.console import audit
from bot.console.models import DismissedQuestion
from bot.console.stats import PERIODS
from bot.console.unanswered_queries import dismissed, unanswered, without_dismissed
from bot.console.views_kb import record
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, render, route, whole_number
from knowledge import editing
from knowledge.matcher import Suggestion
from knowledge.models import KbEntry
from knowledge.normalize import normalize
from knowledge.service import KnowledgeNotReady
from knowledge.unanswered import Asked, Cluster, cluster_questions

PAGE_SIZE = 20
CACHE_S = 120.0


@dataclass
class _Cached:
    made: float
    clusters: list[Cluster]


CLUSTERS: web.AppKey[dict[int, _Cached]] = web.AppKey("unanswered_clusters", dict)


def _days(request: web.Request) -> int:
    days = whole_number(request.query.get("days"), 30, digits=3)
    return days if days in PERIODS else 30


async def clusters_for(request: web.Request, days: int, *, fresh: bool = False) -> list[Cluster]:
    """The period's clusters, computed in a thread (the event loop keeps serving residents)
    and kept for two minutes."""
    cache = request.app[CLUSTERS]
    cached = cache.get(days)
    if cached is not None and not fresh and time.monotonic() - cached.made < CACHE_S:
        return cached.clusters
    since = now(request) - timedelta(days=days)
    async with request.config_dict[keys.SESSIONS]() as session:
        items = await unanswered(session, since=since)
        hidden = await dismissed(session)
    clusters = await asyncio.to_thread(_clusters, items, hidden)
    cache[days] = _Cached(time.monotonic(), clusters)
    return clusters


def _clusters(items: list[Asked], hidden: set[str]) -> list[Cluster]:
    return cluster_questions(without_dismissed(items, hidden))


def _guesses(request: web.Request, question: str) -> tuple[Suggestion, ...]:
    try:
        answer = request.config_dict[keys.KNOWLEDGE].ask(question, now=now(request))
    except KnowledgeNotReady:
        return ()
    if not answer.fallback and answer.entry is not None:
        best = Suggestion(answer.entry.id, answer.entry.title, answer.score)
        return (best, *answer.suggestions)[:3]
    return answer.suggestions[:3]


async def overview(request: web.Request) -> web.StreamResponse:
    days = _days(request)
    clusters = await clusters_for(request, days, fresh=request.query.get("fresh") == "1")
    number = whole_number(request.query.get("page"), 1, digits=5)
    pages = max(1, -(-len(clusters) // PAGE_SIZE))
    number = min(max(number, 1), pages)
    shown = clusters[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    return render(
        request,
        "unanswered.html",
        {
            "clusters": [(c, _guesses(request, c.label)) for c in shown],
            "total": len(clusters),
            "asked": sum(c.count for c in clusters),
            "days": days,
            "periods": PERIODS,
            "page": number,
            "pages": pages,
            "tz": request.config_dict[keys.SETTINGS].tz,
            "done": request.query.get("done"),
        },
    )


async def _cluster(request: web.Request, days: int, key: str) -> Cluster | None:
    return next((c for c in await clusters_for(request, days) if c.key == key), None)


async def act(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    fields = await form(request) or {}
    action = request.match_info["action"]
    days = whole_number(fields.get("days"), 30, digits=3)
    cluster = await _cluster(request, days if days in PERIODS else 30, fields.get("key", ""))
    if cluster is None:
        return page(
            request, 404, "这组问题已经变了（可能有同事处理过），请回到列表刷新。", title="找不到"
        )
    examples = list(cluster.examples)
    if action == "new-entry":
        query = urlencode({"title": cluster.label, "questions": "\n".join(examples)})
        return redirect(f"/admin/kb/new?{query}")
    if action == "out-of-scope":
        query = urlencode(
            {"kind": "out_of_scope", "title": cluster.label, "questions": "\n".join(examples)}
        )
        return redirect(f"/admin/synonyms/edit?{query}")
    if action == "add-to-entry":
        return await _add_to_entry(request, fields.get("entry_id", "").strip(), examples)
    if action == "dismiss":
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            for text in cluster.members:
                if await session.get(DismissedQuestion, text[:500]) is None:
                    session.add(DismissedQuestion(text=text[:500], dismissed_by=staff.name))
            audit.record(
                session,
                actor=staff.name,
                action="questions_dismissed",
                target_type="questions",
                target_id=cluster.label[:128],
                after={"texts": list(cluster.members)[:50], "count": cluster.count},
            )
        request.app[CLUSTERS].clear()
        return redirect(f"/admin/unanswered?days={days}&done=dismissed")
    return page(request, 404, "没有这个地址。", title="找不到")


async def _add_to_entry(
    request: web.Request, entry_id: str, examples: list[str]
) -> web.StreamResponse:
    """The cluster's questions added to an entry's draft (one is started from the published
    entry if there is none); the editor opens on it to check and submit."""
    staff = request[STAFF]
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        draft = await editing.draft_of(session, entry_id)
        if draft is not None:
            values, revision = dict(draft.snapshot), draft.revision
        else:
            row = await session.get(KbEntry, entry_id)
            if row is None:
                return page(request, 400, "请选择一条已有的内容。", title="无法添加")
            values = editing.entry_values(row, await editing.questions_of(session, entry_id))
            revision = None
        known = {normalize(q) for q in values.get("questions", [])}
        added = [q for q in examples if normalize(q) not in known]
        values["questions"] = [*values.get("questions", []), *added]
        try:
            _, change = await editing.save(
                session,
                entry_id=entry_id,
                values=values,
                revision=revision,
                actor=staff.name,
                now=now(request),
            )
        except (editing.Invalid, editing.Conflict):
            return page(request, 400, "这条内容正在被修改，请稍后再试。", title="无法添加")
        record(session, staff.name, change)
    return redirect(f"/admin/kb/{entry_id}/edit")


def add_routes(app: web.Application) -> None:
    app[CLUSTERS] = {}
    route(app, "GET", "/unanswered", overview, roles=CONTENT)
    route(app, "POST", "/unanswered/{action}", act, roles=CONTENT)
