"""测试问答: type a question as a resident would and see what the bot answers, how sure it is,
the runner-up entries and which words matched."""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.console.web import CONTENT, now, render, route
from bot.web.body import clean_text
from knowledge.explain import explain
from knowledge.service import KnowledgeNotReady


async def test_pane(request: web.Request) -> web.StreamResponse:
    question = clean_text(request.query.get("q", ""))[:500].strip()
    context: dict[str, object] = {"q": question, "explanation": None}
    if question:
        try:
            index = request.config_dict[keys.KNOWLEDGE].index
        except KnowledgeNotReady:
            context["not_ready"] = True
        else:
            context["explanation"] = explain(index, question, today=now(request).date())
    return render(request, "test.html", context)


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/test", test_pane, roles=CONTENT)
