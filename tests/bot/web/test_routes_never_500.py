"""Property: whatever arrives at any route — body, headers, cookies, query, form fields — the
answer is never a 500. Routes are read from the application's router, so a new route is fuzzed
from the day it is added."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.support.threaded_server import ThreadedServer

# Requests that change something are fuzzed harder: their bodies have more to get wrong.
EXAMPLES = {"read": 80, "write": 400}


async def _ready(app: web.Application) -> None:
    async with asyncio.timeout(60):
        while not (app[keys.KNOWLEDGE].ready and app[keys.DIRECTORY].ready):
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'fuzz.db'}",
        var_dir=folder / "var",
        secret_key=TEST_SECRET_KEY,
        http_port=0,
    )
    threaded = ThreadedServer(create_app(settings_), ready=_ready)
    threaded.start()
    try:
        yield threaded
    finally:
        threaded.stop()


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path template), the console's sub-application included."""
    found = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            # Its resources already carry the prefix.
            found.update(_routes(resource._app))
            continue
        for route in resource:
            info = resource.get_info()
            template = info.get("path") or info.get("formatter") or info.get("prefix")
            if template and route.method != "HEAD":
                found.add((route.method, str(template)))
    return sorted(found)


@dataclass(frozen=True)
class SignedIn:
    """A staff session the fuzz may send, so console routes are reached past the sign-in."""

    cookie: str
    csrf: str


async def _fuzzing_account(app: web.Application) -> int:
    from bot.console import accounts
    from bot.console.models import Role

    async with app[keys.SESSIONS]() as session, session.begin():
        user = await accounts.add_user(
            session, name="fuzzer", role=Role.admin, password="fuzzing-password-1", actor="test"
        )
    assert user.id is not None
    return user.id


async def _new_session(app: web.Application, user_id: int) -> SignedIn:
    """A fresh session for each example: one that signs out must not sign out the next."""
    from bot.console import staff_sessions
    from bot.console.models import StaffUser
    from bot.conversation.models import utcnow
    from bot.keyring import KeyRing

    async with app[keys.SESSIONS]() as session, session.begin():
        user = await session.get(StaffUser, user_id)
        assert user is not None
        user.disabled, user.role = False, "admin"  # whatever the fuzz did to it
        token = await staff_sessions.start(session, user, utcnow())
    session_id = hashlib.sha256(token.encode()).hexdigest()
    csrf = staff_sessions.csrf_token(KeyRing(TEST_SECRET_KEY), session_id)
    return SignedIn(f"mz_console={token}", csrf)


@pytest.fixture(scope="module")
def fuzzing_account(server: ThreadedServer) -> int:
    return server.run_coroutine(_fuzzing_account(server.app))


text = st.text(max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
# Bodies shaped like ours (so the fuzz reaches past the first checks), and anything at all.
action = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "press", "location", "command"]) | text},
    optional={
        "text": json_values,
        "data": json_values,
        "name": st.sampled_from(["start", "stop", "help"]) | json_values,
        "latitude": json_values,
        "longitude": json_values,
    },
)
shaped = st.one_of(
    st.fixed_dictionaries({"action": action}),
    st.fixed_dictionaries({"question": json_values}),
    st.dictionaries(text, json_values, max_size=5),
)
bodies = st.one_of(
    shaped.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    shaped.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.dictionaries(text, text, max_size=5).map(lambda d: urlencode(d).encode()),
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
        )
        | header_text,
        "Cookie": st.builds(
            lambda name, value: f"{name}={value}",
            st.sampled_from(["mz_chat", "mz_console", "mz_csrf"]) | header_text,
            header_text,
        ),
        "Origin": st.sampled_from(["http://127.0.0.1:9", "null"]) | header_text,
        "Sec-Fetch-Site": st.sampled_from(["same-origin", "cross-site", "none"]) | header_text,
        "Accept": header_text,
        "X-Telegram-Bot-Api-Secret-Token": header_text,
    },
)
queries = st.dictionaries(
    st.sampled_from(
        [
            "lat",
            "lon",
            "category",
            "limit",
            "q",
            "page",
            "per_page",
            "search",
            "next",
            "id",
            "after",
            "view",
        ]
    )
    | text,
    text,
    max_size=4,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "route" in metafunc.fixturenames:
        app = create_app(Settings(secret_key=TEST_SECRET_KEY, database_url="sqlite:///unused"))
        kind = "read" if metafunc.function.__name__.startswith("test_no_read") else "write"
        routes = [r for r in _routes(app) if (r[0] in {"GET", "HEAD"}) == (kind == "read")]
        metafunc.parametrize("route", routes, ids=[f"{m} {p}" for m, p in routes])


def _fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", quote(value, safe="") or "x", template)


_FUZZ = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
_GIVEN = {
    "body": bodies,
    "sent_headers": headers,
    "query": queries,
    "part": text,
    "as_json": st.booleans(),
    "as_staff": st.booleans(),
}


@settings(max_examples=EXAMPLES["read"], **_FUZZ)  # type: ignore[arg-type]
@given(**_GIVEN)
def test_no_read_route_answers_500(
    server: ThreadedServer, fuzzing_account: int, route: tuple[str, str], **drawn: Any
) -> None:
    _check(server, fuzzing_account, route, **drawn)


@settings(max_examples=EXAMPLES["write"], **_FUZZ)  # type: ignore[arg-type]
@given(**_GIVEN)
def test_no_write_route_answers_500(
    server: ThreadedServer, fuzzing_account: int, route: tuple[str, str], **drawn: Any
) -> None:
    _check(server, fuzzing_account, route, **drawn)


def _check(
    server: ThreadedServer,
    fuzzing_account: int,
    route: tuple[str, str],
    body: bytes,
    sent_headers: dict[str, str],
    query: dict[str, str],
    part: str,
    as_json: bool,
    as_staff: bool,
) -> None:
    method, template = route
    if as_staff and template.startswith("/admin"):
        # Signed in, with the form's token: the fuzz reaches the views themselves.
        signed_in = server.run_coroutine(_new_session(server.app, fuzzing_account))
        sent_headers = {**sent_headers, "Cookie": signed_in.cookie}
        sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        sent_headers.pop("Origin", None)
        sent_headers.pop("Sec-Fetch-Site", None)
        fields = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        body = urlencode({**fields, "csrf": signed_in.csrf}).encode()
    elif as_json:  # half the time past the content-type check, to reach the parsing
        sent_headers = {**sent_headers, "Content-Type": "application/json"}
        sent_headers.pop("Origin", None)
        sent_headers.pop("Sec-Fetch-Site", None)
    path = _fill(template, part)
    if query:
        path += "?" + urlencode(query)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        encoded: dict[str, Any] = {k: v.encode("latin-1") for k, v in sent_headers.items()}
        connection.request(method, path, body=body if method != "GET" else None, headers=encoded)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    assert response.status < 500 or response.status == 503, (method, path, answer[:300])


def test_every_route_is_fuzzed(server: ThreadedServer) -> None:
    # The test above is parametrized from a router built alike: it is the running one's.
    routes = _routes(server.app)
    assert ("POST", "/api/chat") in routes and ("POST", "/api/ask") in routes
    assert ("GET", "/chat") in routes and ("GET", "/healthz") in routes
    assert ("POST", "/admin/login") in routes and ("POST", "/admin/users/{name}/{what}") in routes
    reminders = {
        ("GET", "/admin/reminders"),
        ("GET", "/admin/reminders/new"),
        ("POST", "/admin/reminders/new"),
        ("GET", "/admin/reminders/{rule_id}"),
        ("GET", "/admin/reminders/{rule_id}/edit"),
        ("POST", "/admin/reminders/{rule_id}/edit"),
        ("POST", "/admin/reminders/{rule_id}/{action}"),
        ("GET", "/admin/reminders/history"),
        ("GET", "/admin/reminders/optouts"),
        ("GET", "/admin/reminders/bind"),
        ("POST", "/admin/reminders/bind"),
    }
    assert reminders <= set(routes)


# The vocabulary form's fields, shaped like a cue group's, so the fuzz gets past "which kind".
lines = st.lists(
    st.sampled_from(["elder-old-partner", "assist-dibao-apply", "no-such-entry", "想找人说说话"])
    | text,
    max_size=5,
).map("\n".join)
cue_form = st.fixed_dictionaries(
    {"kind": st.sampled_from(["cue", "synonym", "out_of_scope"]) | text},
    optional={
        "key": st.sampled_from(["", "一个人住孤单、想有人陪"]) | text,
        "revision": st.sampled_from(["0", "1", "²", "-1"]) | text,
        "need": st.sampled_from(["想找人说说话", ""]) | st.text(max_size=80),
        "entries": lines,
        "signs": lines,
        "remove": st.sampled_from(["1", ""]) | text,
    },
)


@settings(max_examples=150, **_FUZZ)  # type: ignore[arg-type]
@given(fields=cue_form, query_key=text)
def test_the_cue_form_never_answers_500(
    server: ThreadedServer, fuzzing_account: int, fields: dict[str, str], query_key: str
) -> None:
    signed_in = server.run_coroutine(_new_session(server.app, fuzzing_account))
    sent = {
        "Cookie": signed_in.cookie,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = urlencode({**fields, "csrf": signed_in.csrf}).encode()
    for method, path, data in (
        ("POST", "/admin/synonyms/edit", body),
        ("GET", "/admin/synonyms/edit?" + urlencode({"kind": "cue", "key": query_key}), None),
        ("GET", "/admin/synonyms", None),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        assert response.status < 500, (method, path, fields, answer[:300])
