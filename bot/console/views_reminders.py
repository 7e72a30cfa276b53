"""提醒: the rules, a rule's form, its page with the preview exactly as residents see it, and the
review flow (提交审核 → 批准 by another person, 退回, 暂停/恢复, 归档). Each action is one POST
through ``jobs.rule_editing`` with its audit row in the same transaction.

Send history, opt-outs and bind codes are in ``views_reminder_history``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keys
from bot.console import audit, reminder_queries, rule_form
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, render, route, whole_number
from bot.reminders.render import details, notification
from jobs import rule_editing, rule_preview
from jobs.models import ReminderRule, RuleState
from jobs.rules import Rule
from jobs.topics import label

NO_RULE = "没有这条规则。请回到提醒规则的列表查看。"
# What the rule's page says after an action succeeded (``?done=…``).
DONE = {
    "saved": "草稿已保存。提交审核、由另一位同事批准之后，才会发送。",
    "unchanged": "没有改动，规则保持原样。",
    "submit": "已提交审核，请另一位同事审核。",
    "approve": "已批准：规则生效，到时间就会发送。",
    "send-back": "已退回给编辑人。",
    "pause": "已暂停：不再发送。",
    "resume": "已恢复：规则重新生效。",
    "archive": "已归档：这条规则不再发送。",
}
# …and what it says when the action withdrew queued reminders (``&withdrawn=N``).
AGAIN = "已收到的居民不会重复收到。"
WITHDRAWN = {
    "saved": "已排队还没发出的 {n} 条提醒已撤回：规则重新批准后，会按新内容重新排队。" + AGAIN,
    "submit": "已排队还没发出的 {n} 条提醒已撤回：规则重新批准后，会按新内容重新排队。" + AGAIN,
    "pause": "已排队还没发出的 {n} 条提醒已撤回：恢复后会重新排队。" + AGAIN,
    "archive": "已排队还没发出的 {n} 条提醒已撤回，不会再发送。",
}
# Tabs of the 提醒 pages: (path, label).
TABS = (
    ("/admin/reminders", "规则"),
    ("/admin/reminders/history", "发送记录"),
    ("/admin/reminders/optouts", "退订情况"),
    ("/admin/reminders/bind", "绑定码"),
)


def record(session: AsyncSession, actor: str, change: rule_editing.Change) -> None:
    """The audit row of a rule's change, in the caller's transaction."""
    audit.record(
        session,
        actor=actor,
        action=change.action,
        target_type="reminder_rule",
        target_id=str(change.rule_id),
        before=change.before,
        after=change.after,
        note=change.note,
    )


def _rule_id(request: web.Request) -> int:
    return whole_number(request.match_info.get("rule_id"), 0, digits=9)


def _done_at(rule_id: int | None, done: str, withdrawn: int = 0) -> web.Response:
    more = f"&withdrawn={withdrawn}" if withdrawn else ""
    return redirect(f"/admin/reminders/{rule_id}?done={done}{more}")


def _done_message(request: web.Request) -> str | None:
    done = request.query.get("done", "")
    message = DONE.get(done)
    withdrawn = whole_number(request.query.get("withdrawn"), 0)
    if message is not None and withdrawn and done in WITHDRAWN:
        message += WITHDRAWN[done].format(n=withdrawn)
    return message


async def rule_list(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[keys.SETTINGS]
    async with request.config_dict[keys.SESSIONS]() as session:
        rows = await reminder_queries.rule_rows(session, now=now(request), tz=settings.tz)
    return render(
        request,
        "reminders.html",
        {"rows": rows, "tabs": TABS, "tz": settings.tz},
    )


async def _form_page(
    request: web.Request,
    filled: rule_form.Filled,
    *,
    rule: ReminderRule | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "reminder_edit.html",
        {
            "rule": rule,
            "shown": filled.shown,
            "ticked": filled.towns,
            "problems": filled.problems,
            "error": error,
            "labels": rule_form.LABELS,
            "kinds": rule_form.KINDS,
            "topics": rule_form.TOPIC_CHOICES,
            "fact_kinds": rule_form.FACT_KINDS,
            "towns": rule_form.TOWN_NAMES,
            "placeholders": rule_form.PLACEHOLDER_HINTS,
            "max_message": rule_editing.MAX_MESSAGE,
        },
        status=status,
    )


async def edit_form(request: web.Request) -> web.StreamResponse:
    if "rule_id" not in request.match_info:
        entry_id = request.query.get("entry", "").strip()[:64]
        return await _form_page(request, rule_form.blank(entry_id))
    async with request.config_dict[keys.SESSIONS]() as session:
        row = await session.get(ReminderRule, _rule_id(request))
    if row is None:
        return page(request, 404, NO_RULE, title="找不到")
    if row.state == RuleState.archived:
        return page(request, 400, "已归档的规则不能再修改：请新建一条。", title="无法修改")
    return await _form_page(request, rule_form.shown_of(rule_editing.values_of(row)), rule=row)


async def save(request: web.Request) -> web.StreamResponse:
    staff, settings = request[STAFF], request.config_dict[keys.SETTINGS]
    rule_id = _rule_id(request) if "rule_id" in request.match_info else None
    fields = await form(request) or {}
    filled = rule_form.read(fields)
    row: ReminderRule | None = None
    async with request.config_dict[keys.SESSIONS]() as session:
        if rule_id is not None and (row := await session.get(ReminderRule, rule_id)) is None:
            return page(request, 404, NO_RULE, title="找不到")
    if filled.values is None:
        return await _form_page(request, filled, rule=row, status=400)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            saved, change = await rule_editing.save(
                session,
                rule_id=rule_id,
                values=filled.values,
                actor=staff.name,
                now=now(request),
                tz=settings.tz,
            )
            if change is not None:
                record(session, staff.name, change)
            if fields.get("then") == "submit" and saved.state == RuleState.draft:
                record(
                    session,
                    staff.name,
                    await rule_editing.submit(
                        session, rule_id=saved.id or 0, actor=staff.name, now=now(request)
                    ),
                )
                done = "submit"
            else:
                done = "saved" if change is not None else "unchanged"
            saved_id = saved.id
    except rule_editing.RuleError as exc:
        if exc.field:
            filled.problems[exc.field] = str(exc)
        return await _form_page(request, filled, rule=row, error=str(exc), status=400)
    return _done_at(saved_id, done, change.withdrawn if change is not None else 0)


async def rule_page(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[keys.SETTINGS]
    moment = now(request)
    async with request.config_dict[keys.SESSIONS]() as session:
        row = await session.get(ReminderRule, _rule_id(request))
        if row is None:
            return page(request, 404, NO_RULE, title="找不到")
        rule = Rule.of(row)
        preview = await rule_preview.preview(session, rule=rule, now=moment, tz=settings.tz)
        events = await reminder_queries.rule_events(session, _rule_id(request))
        runs = await reminder_queries.last_runs(session)
    sent_back = next((e.note for e in events if e.action == "reminder_rule_sent_back"), None)
    return render(
        request,
        "reminder_rule.html",
        {
            "rule": row,
            "values": rule_editing.values_of(row),
            "kind_name": reminder_queries.kind_name(row.kind),
            "state_name": reminder_queries.state_name(row.state),
            "topic": label(row.topic),
            "fact_kinds": dict(rule_form.FACT_KINDS),
            "preview": preview,
            "reply": notification(preview.sample),
            "details_reply": details(preview.sample) if preview.sample.sensitive else None,
            "events": events,
            "actions": audit.ACTION_NAMES,
            "sent_back": sent_back if row.state == RuleState.draft else None,
            "last_run": runs.get(row.id or 0),
            "done": _done_message(request),
            "tabs": TABS,
            "tz": settings.tz,
        },
    )


Act = Callable[..., Awaitable[rule_editing.Change]]
ACTIONS: dict[str, Act] = {
    "submit": rule_editing.submit,
    "approve": rule_editing.approve,
    "pause": rule_editing.pause,
    "resume": rule_editing.resume,
    "archive": rule_editing.archive,
}
# Pausing withdraws what the rule queued, to queue it again on resuming: by the service's days.
WITH_ZONE = ("pause",)


async def act(request: web.Request) -> web.StreamResponse:
    """One POST per action on a rule: /admin/reminders/{id}/{action}."""
    staff, settings = request[STAFF], request.config_dict[keys.SETTINGS]
    rule_id, action = _rule_id(request), request.match_info["action"]
    if action not in ACTIONS and action != "send-back":
        return page(request, 404, NO_RULE, title="找不到")
    fields = await form(request) or {}
    moment = now(request)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            if action == "send-back":
                change = await rule_editing.send_back(
                    session,
                    rule_id=rule_id,
                    actor=staff.name,
                    comment=fields.get("comment", ""),
                    now=moment,
                )
            else:
                zone = {"tz": settings.tz} if action in WITH_ZONE else {}
                change = await ACTIONS[action](
                    session, rule_id=rule_id, actor=staff.name, now=moment, **zone
                )
            record(session, staff.name, change)
    except rule_editing.RuleError as exc:
        return page(request, 400, str(exc), title="无法完成")
    return _done_at(rule_id, action, change.withdrawn)


def add_routes(app: web.Application) -> None:
    rule = "/reminders/{rule_id:[0-9]+}"
    route(app, "GET", "/reminders", rule_list, roles=CONTENT)
    route(app, "GET", "/reminders/new", edit_form, roles=CONTENT)
    route(app, "POST", "/reminders/new", save, roles=CONTENT)
    route(app, "GET", rule, rule_page, roles=CONTENT)
    route(app, "GET", rule + "/edit", edit_form, roles=CONTENT)
    route(app, "POST", rule + "/edit", save, roles=CONTENT)
    route(app, "POST", rule + "/{action}", act, roles=CONTENT)
