"""``POST /api/ask``: the plain contract of DESIGN.md over HTTP."""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.web.body import TOO_LONG, BadBody, bad_request, clean_text, dumps, read_json
from knowledge.service import KnowledgeNotReady

MAX_BODY_BYTES = 64 * 1024
# Questions over the API come from no one in particular: logged under one key, for staff.
API_USER_KEY = "api"
QUESTION_TOO_LONG = "问题太长了，请用一两句话说明您想问的事。"


async def ask(request: web.Request) -> web.Response:
    try:
        body = await read_json(request, MAX_BODY_BYTES)
    except BadBody as exc:
        message = (
            "问题太长了，请用一两句话说明您想问的事。" if exc.message == TOO_LONG else exc.message
        )
        return bad_request(message, exc.status)
    if not isinstance(body, dict) or "question" not in body:
        return bad_request('缺少问题：请发送 {"question": "您的问题"}')
    question = body["question"]
    if not isinstance(question, str):
        return bad_request("问题应当是一段文字。")
    question = clean_text(question)
    try:
        answer = request.config_dict[keys.KNOWLEDGE].ask(question)
    except KnowledgeNotReady:
        return bad_request("系统正在启动，请稍等几秒再问。", 503, error="starting")
    if not answer.empty:
        request.config_dict[keys.CONVERSATION].question_log.add(
            user_key=API_USER_KEY,
            channel="api",
            text=question,
            entry_id=None if answer.fallback or not answer.entry else answer.entry.id,
            score=answer.score,
            fallback=answer.fallback,
        )
    return web.json_response(answer.as_contract(), dumps=dumps)
