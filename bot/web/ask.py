"""``POST /api/ask``: the plain contract of DESIGN.md over HTTP."""

from __future__ import annotations

import json

from aiohttp import web

from bot import keys
from knowledge.service import KnowledgeNotReady

MAX_BODY_BYTES = 64 * 1024


def _bad_request(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": "bad_request", "message": message}, status=status)


async def ask(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _bad_request("问题太长了，请用一两句话说明您想问的事。", status=413)
    try:
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return _bad_request("问题太长了，请用一两句话说明您想问的事。", status=413)
        body = json.loads(raw.decode("utf-8", errors="replace") or "null")
    except json.JSONDecodeError:
        return _bad_request('请求格式不对：请发送 JSON，例如 {"question": "怎么申请低保"}')
    if not isinstance(body, dict) or "question" not in body:
        return _bad_request('缺少问题：请发送 {"question": "您的问题"}')
    question = body["question"]
    if not isinstance(question, str):
        return _bad_request("问题应当是一段文字。")
    try:
        answer = request.app[keys.KNOWLEDGE].ask(question)
    except KnowledgeNotReady:
        return web.json_response(
            {"error": "starting", "message": "系统正在启动，请稍等几秒再问。"}, status=503
        )
    return web.json_response(answer.as_contract(), dumps=_dumps)


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)
