"""提醒, what happened to them: the send history (counts by state per rule and occurrence, the
latest outbox rows), the opt-outs per topic, and the bind codes staff give residents for a fact
of their case (a rental due back, a review month).

No page names a resident: they are counts, or the first characters of a pseudonymous key. A
bind code is shown once, on the page that created it; only its hash is kept.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from bot import keys
from bot.console import audit, reminder_queries
from bot.console.views_reminders import TABS
from bot.console.web import CONTENT, STAFF, form, now, render, route, whole_number
from jobs import codes
from jobs.models import FACT_KIND_NAMES, OUTBOX_STATE_NAMES, FactKind
from jobs.topics import BY_CODE

MAX_LABEL = 40


async def history(request: web.Request) -> web.StreamResponse:
    raw = request.query.get("rule", "")
    rule_id = whole_number(raw, 0, digits=9) or None
    async with request.config_dict[keys.SESSIONS]() as session:
        groups = await reminder_queries.send_groups(session, rule_id=rule_id)
        latest = await reminder_queries.latest_rows(session, rule_id=rule_id)
        names = await reminder_queries.rule_names(session)
    return render(
        request,
        "reminder_history.html",
        {
            "groups": groups,
            "latest": latest,
            "names": sorted(names.items()),
            "rule_id": rule_id,
            "states": [
                (state.value, OUTBOX_STATE_NAMES[state]) for state in reminder_queries.STATES
            ],
            "tabs": TABS,
            "tz": request.config_dict[keys.SETTINGS].tz,
        },
    )


async def optouts(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[keys.SESSIONS]() as session:
        topics = await reminder_queries.topic_counts(session)
        consented = await reminder_queries.consented(session)
    return render(
        request,
        "reminder_optouts.html",
        {"topics": topics, "consented": consented, "tabs": TABS},
    )


async def _bind_page(request: web.Request, status: int = 200, **extra: object) -> web.Response:
    async with request.config_dict[keys.SESSIONS]() as session:
        rows = await reminder_queries.bind_codes(session)
    response = render(
        request,
        "reminder_bind.html",
        {
            "codes": rows,
            "kinds": [(kind.value, name) for kind, name in FACT_KIND_NAMES.items()],
            "kind_names": {kind.value: name for kind, name in FACT_KIND_NAMES.items()},
            "now": now(request),
            "valid_days": codes.BIND_VALID.days,
            "max_label": MAX_LABEL,
            "shown": {"kind": "", "due_on": "", "label": ""},
            "problems": {},
            "tabs": TABS,
            "tz": request.config_dict[keys.SETTINGS].tz,
            **extra,
        },
        status=status,
    )
    # The page that shows a new code once must not be kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


async def bind_codes(request: web.Request) -> web.StreamResponse:
    return await _bind_page(request)


def _read_bind(
    fields: dict[str, str], today: date
) -> tuple[dict[str, str], dict[str, str], tuple[FactKind, date, str] | None]:
    shown = {name: fields.get(name, "").strip() for name in ("kind", "due_on", "label")}
    problems: dict[str, str] = {}
    try:
        kind = FactKind(shown["kind"])
    except ValueError:
        problems["kind"] = "请选择类别。"
    try:
        due_on = date.fromisoformat(shown["due_on"])
    except ValueError:
        problems["due_on"] = "日期请写成 2026-12-21 这样。"
    else:
        if due_on < today:
            problems["due_on"] = "这个日期已经过了，请核对。"
    if not shown["label"]:
        problems["label"] = "请写明是什么，如“轮椅”“2026年低保复核”。"
    elif len(shown["label"]) > MAX_LABEL:
        problems["label"] = f"不要超过 {MAX_LABEL} 个字。"
    if problems:
        return shown, problems, None
    return shown, problems, (kind, due_on, shown["label"])


async def create_bind_code(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    moment = now(request)
    shown, problems, fact = _read_bind(await form(request) or {}, moment.date())
    if fact is None:
        return await _bind_page(request, 400, shown=shown, problems=problems)
    kind, due_on, label = fact
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        code = await codes.create_bind_code(
            session, kind=kind, due_on=due_on, label=label, by=staff.name, now=moment
        )
        # Neither the code nor its hash goes into the log: eight digits are quickly guessed
        # back from a hash.
        audit.record(
            session,
            actor=staff.name,
            action="bind_code_created",
            target_type="bind_code",
            target_id=label,
            after={
                "kind": kind.value,
                "label": label,
                "due_on": due_on.isoformat(),
                "expires_at": (moment + codes.BIND_VALID).isoformat(),
            },
        )
    return await _bind_page(
        request,
        created=codes.shown(code),
        created_kind=FACT_KIND_NAMES[kind],
        created_label=label,
        created_sensitive=BY_CODE[codes.FACT_TOPICS[kind]].sensitive,
    )


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/reminders/history", history, roles=CONTENT)
    route(app, "GET", "/reminders/optouts", optouts, roles=CONTENT)
    route(app, "GET", "/reminders/bind", bind_codes, roles=CONTENT)
    route(app, "POST", "/reminders/bind", create_bind_code, roles=CONTENT)
