"""人工服务 (/admin/escalations) over real HTTP: cases opened through the real conversation, the
real service behind the pages, the audit log and the knowledge base's drafts. Then the inbox and
a case's page in Chromium, checked by axe-core."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from aiohttp.web import Application
from playwright.async_api import expect
from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.console import accounts
from bot.console.models import Role
from bot.conversation.messages import Text
from bot.escalations import advisors, callbacks, queries
from bot.escalations.models import CaseState, Escalation
from knowledge.models import KbDraft
from tests.bot.console.conftest import Console, StaffBrowser
from tests.bot.console.test_console_browser import (  # noqa: F401 (the module's fixtures)
    OpenDesk,
    browser,
    console_server,
    open_desk,
)
from tests.bot.escalations.test_telegram_e2e import (  # noqa: F401 (the module's fixture)
    ADVISOR,
    GROUP,
    Desk,
    _buttons,
    _open_case,
    _until,
    desk,
)
from tests.support.axe import assert_accessible

TZ = ZoneInfo("Asia/Shanghai")
NEED = "我一个人住，腿脚不便，想找人帮忙做饭"
ANSWER = "您好，我是养老顾问。您所在的街镇有社区长者食堂，可以送餐上门，我帮您登记。"


async def open_case(app: Application, token: str = "tok1", need: str = NEED) -> int:
    """A resident of the web chat asks for an advisor and says what they need."""
    key = app[keys.KEYRING].pseudonym("web", token)
    conversation = app[keys.CONVERSATION]
    await conversation.handle("web", key, Text("联系养老顾问"))
    replies = await conversation.handle("web", key, Text(need))
    assert "案件号" in replies[0].text
    await conversation.settled()
    async with app[keys.SESSIONS]() as session:
        case = await app[keys.CASES].current(session, "web", key)
    assert case is not None and case.id is not None
    return case.id


async def staff_id(console: Console, name: str) -> int:
    async with console.sessions() as session:
        user = await accounts.by_name(session, name)
    assert user is not None and user.id is not None
    return user.id


async def case_of(console: Console, case_id: int) -> Escalation:
    async with console.sessions() as session:
        case = await session.get(Escalation, case_id)
    assert case is not None
    return case


async def on_case(browser_: StaffBrowser, case_id: int, action: str, **fields: str) -> int:
    """Press a button on the case's page (its form's CSRF token), as the browser would."""
    await browser_.get(f"/admin/escalations/{case_id}")
    response = await browser_.post(f"/admin/escalations/{case_id}/{action}", fields)
    return response.status


async def test_an_advisor_sees_the_waiting_case_claims_it_and_replies(console: Console) -> None:
    case_id = await open_case(console.client.app)
    zhang = await console.browser("顾问张")
    zhang_id = await staff_id(console, "顾问张")

    await zhang.get("/admin/")
    assert "1 位居民在等待认领" in zhang.last_page
    assert 'href="/admin/escalations"' in zhang.last_page
    response = await zhang.get("/admin/escalations")
    assert response.status == 200
    inbox = zhang.last_page
    assert "等待认领（1）" in inbox and f'href="/admin/escalations/{case_id}">#{case_id}' in inbox
    assert "腿脚不便" in inbox and "网页" in inbox and "分钟" in inbox
    assert "<script" not in inbox

    response = await zhang.get(f"/admin/escalations/{case_id}")
    assert response.status == 200
    assert NEED in zhang.last_page and "认领</button>" in zhang.last_page
    response = await zhang.post(f"/admin/escalations/{case_id}/claim")
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/escalations/{case_id}?done=claim"
    await zhang.get(response.headers["Location"])
    assert "已认领" in zhang.last_page and f"工号 {zhang_id}（您）" in zhang.last_page

    assert await on_case(zhang, case_id, "reply", text=ANSWER) == 303
    async with console.sessions() as session:
        messages = await queries.transcript(session, case_id)
    mine = [m for m in messages if m.author == "advisor"]
    assert [(m.text, m.staff_id, m.via) for m in mine] == [(ANSWER, zhang_id, "console")]
    # The web chat reads the transcript itself: nothing waits to be sent to it.
    assert mine[0].to_resident is None
    await zhang.get(f"/admin/escalations/{case_id}")
    assert ANSWER in zhang.last_page and f"工号 {zhang_id}（工作台）" in zhang.last_page
    assert "回复已发出" not in zhang.last_page  # the notice is for the redirect only
    await zhang.get("/admin/escalations?view=mine")
    assert "我负责的（1）" in zhang.last_page and f"#{case_id}</a>" in zhang.last_page
    await zhang.get("/admin/escalations")
    assert "现在没有等待认领的居民" in zhang.last_page


async def test_a_second_advisor_is_told_who_has_the_case(console: Console) -> None:
    case_id = await open_case(console.client.app)
    zhang = await console.browser("顾问张")
    zhang_id = await staff_id(console, "顾问张")
    assert await on_case(zhang, case_id, "claim") == 303
    admin = await console.browser("管理员甲")
    assert await on_case(admin, case_id, "claim") == 409
    assert f"已由工号 {zhang_id} 认领" in admin.last_page
    assert await on_case(admin, case_id, "reply", text="我来回答") == 409
    assert f"由工号 {zhang_id} 负责" in admin.last_page
    # What was typed is kept, so nothing is lost.
    assert '<p class="said">我来回答</p>' in admin.last_page
    # An advisor who is no admin (an account made as conftest makes them) reads the same.
    async with console.sessions() as session, session.begin():
        await accounts.add_user(
            session, name="顾问李", role=Role.advisor, password="songjiang-console-2026", actor="t"
        )
    li = await console.browser("顾问李")
    assert await on_case(li, case_id, "claim") == 409
    assert f"已由工号 {zhang_id} 认领" in li.last_page
    await li.get("/admin/escalations?view=mine")
    assert "我负责的（0）" in li.last_page and "您现在没有负责的案件" in li.last_page
    assert (await case_of(console, case_id)).advisor_id == zhang_id
    assert await console.audit_count("escalation_claimed") == 1


async def test_staff_see_and_close_then_the_case_becomes_a_draft(console: Console) -> None:
    case_id = await open_case(console.client.app)
    zhang = await console.browser("顾问张")
    assert await on_case(zhang, case_id, "reply", text=ANSWER) == 303  # a reply claims it
    wang = await console.browser("小王")
    await wang.get("/admin/escalations?view=active")
    assert f"#{case_id}</a>" in wang.last_page and "处理中" in wang.last_page
    # Staff are not advisors: what residents read is signed 养老顾问.
    assert await on_case(wang, case_id, "claim") == 403
    assert "只有养老顾问" in wang.last_page
    assert await on_case(wang, case_id, "draft") == 409
    assert "结案以后" in wang.last_page
    assert await on_case(wang, case_id, "close", note="已登记助餐") == 303
    case = await case_of(console, case_id)
    assert (case.state, case.closed_by, case.close_note) == (
        CaseState.closed,
        "staff",
        "已登记助餐",
    )
    assert await on_case(wang, case_id, "close") == 409
    assert "已经结案" in wang.last_page

    await wang.get(f"/admin/escalations/{case_id}")
    assert "转为知识库草稿</button>" in wang.last_page and "回复居民" not in wang.last_page
    response = await wang.post(f"/admin/escalations/{case_id}/draft")
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/kb/case-{case_id}/edit"
    response = await wang.get(response.headers["Location"])
    assert response.status == 200
    assert NEED in wang.last_page and ANSWER in wang.last_page
    async with console.sessions() as session:
        draft = await session.scalar(
            select(KbDraft).where(col(KbDraft.entry_id) == f"case-{case_id}")
        )
    assert draft is not None
    assert draft.snapshot["questions"] == [NEED] and draft.snapshot["answer"] == ANSWER
    assert draft.snapshot["category"] in {"养老", case.topic}
    assert draft.created_by == "小王" and draft.state == "editing"
    await wang.get("/admin/kb")
    assert "还没发布的新内容" in wang.last_page and f"case-{case_id}" in wang.last_page
    # Once is enough: pressed again (here by the advisor), it says so.
    response = await zhang.post(f"/admin/escalations/{case_id}/draft")
    assert response.headers["Location"] == f"/admin/escalations/{case_id}?done=draft_exists"
    assert await console.audit_count("escalation_draft") == 1

    await wang.get("/admin/audit")
    audit_page = wang.last_page
    for name in ("居民请求人工服务", "认领案件", "结案", "案件转知识库草稿"):
        assert name in audit_page, name
    for action in ("escalation_opened", "escalation_claimed", "escalation_closed"):
        assert await console.audit_count(action) == 1, action


async def test_a_reopened_case_is_waiting_again_and_audited(console: Console) -> None:
    app = console.client.app
    case_id = await open_case(app)
    zhang = await console.browser("顾问张")
    assert await on_case(zhang, case_id, "close") == 303
    key = app[keys.KEYRING].pseudonym("web", "tok1")
    async with app[keys.SESSIONS]() as session, session.begin():
        reopened = await app[keys.CASES].reopen(
            session, case_id, channel="web", user_key=key, chat_id=None, now=datetime.now(TZ)
        )
    assert reopened is not None
    await zhang.get("/admin/escalations")
    assert f"#{case_id}</a>" in zhang.last_page
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "居民重新打开过 1 次" in zhang.last_page
    assert "居民重新打开了这个案件" in zhang.last_page
    assert await console.audit_count("escalation_reopened") == 1


async def test_a_callback_number_shows_while_the_case_runs(console: Console) -> None:
    app = console.client.app
    case_id = await open_case(app)
    cases = app[keys.CASES]
    now = datetime.now(TZ)
    async with app[keys.SESSIONS]() as session, session.begin():
        case = await cases.get(session, case_id)
        assert case is not None
        await callbacks.share_phone(cases, session, case, "13912345678", now=now)
        await callbacks.choose_window(cases, session, case, day=now.date(), afternoon=True, now=now)
    zhang = await console.browser("顾问张")
    await zhang.get("/admin/escalations")
    assert "13912345678" not in zhang.last_page  # the list never shows it
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "13912345678" in zhang.last_page and "今天下午" in zhang.last_page
    assert "已回电，问题已解决</button>" in zhang.last_page
    assert await on_case(zhang, case_id, "called", result="nonsense") == 409
    assert "回电的结果" in zhang.last_page
    assert await on_case(zhang, case_id, "called", result="solved") == 303
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "回电结果：已回电，问题已解决" in zhang.last_page
    assert "已回电，问题已解决</button>" not in zhang.last_page
    assert await console.audit_count("escalation_called_back") == 1
    assert await on_case(zhang, case_id, "close") == 303
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "13912345678" not in zhang.last_page and "号码已删除" in zhang.last_page


async def test_replies_too_long_empty_or_with_markup(console: Console) -> None:
    case_id = await open_case(console.client.app)
    zhang = await console.browser("顾问张")
    assert await on_case(zhang, case_id, "reply", text="字" * 5000) == 400
    assert "最多 4000 个字" in zhang.last_page and "5000" in zhang.last_page
    assert await on_case(zhang, case_id, "reply", text="   \n ") == 400
    assert "回复是空的" in zhang.last_page
    async with console.sessions() as session:
        messages = await queries.transcript(session, case_id)
    assert [m.author for m in messages] == ["resident"]
    assert (await case_of(console, case_id)).state == CaseState.open  # nothing was claimed

    assert await on_case(zhang, case_id, "reply", text="字" * 4000) == 303
    markup = '<script>alert("x")</script><b>好的</b>'
    assert await on_case(zhang, case_id, "reply", text=markup) == 303
    await zhang.get(f"/admin/escalations/{case_id}")
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;好的&lt;/b&gt;" in zhang.last_page
    )
    assert "<script>" not in zhang.last_page and "<b>好的" not in zhang.last_page


async def test_unknown_cases_are_a_chinese_404_and_signed_out_visitors_sign_in(
    console: Console,
) -> None:
    case_id = await open_case(console.client.app)
    zhang = await console.browser("顾问张")
    for path in (
        "/admin/escalations/abc",
        "/admin/escalations/999999",
        "/admin/escalations/0",
        "/admin/escalations/１２",
        "/admin/escalations/" + "9" * 40,
    ):
        response = await zhang.get(path)
        assert response.status == 404, path
        assert "没有这个案件" in zhang.last_page, path
    await zhang.get(f"/admin/escalations/{case_id}")
    for path in (
        "/admin/escalations/abc/claim",
        "/admin/escalations/999999/claim",
        "/admin/escalations/999999/draft",
        f"/admin/escalations/{case_id}/no-such-action",
    ):
        response = await zhang.post(path)
        assert response.status == 404, path
        assert "没有这个案件" in zhang.last_page, path
    # Tabs and pages typed by hand fall back to something sensible.
    for query in ("view=nonsense", "page=abc", "page=99999", "view=all&page=-1"):
        response = await zhang.get(f"/admin/escalations?{query}")
        assert response.status == 200, query

    visitor = await console.browser()
    response = await visitor.get("/admin/escalations")
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login?next=/admin/escalations")
    response = await visitor.get(f"/admin/escalations/{case_id}")
    assert response.status == 303
    response = await visitor.post_raw(f"/admin/escalations/{case_id}/claim", {"csrf": "x"})
    assert response.status == 403
    assert (await case_of(console, case_id)).state == CaseState.open
    # Signed in, a form without this session's CSRF token is refused too.
    response = await zhang.post_raw(f"/admin/escalations/{case_id}/claim", {"csrf": "forged"})
    assert response.status == 403
    assert (await case_of(console, case_id)).state == CaseState.open


async def test_an_advisor_makes_a_telegram_link_code(console: Console) -> None:
    zhang = await console.browser("顾问张")
    await zhang.get("/admin/account")
    assert "还没有绑定 Telegram" in zhang.last_page
    response = await zhang.post("/admin/account/telegram")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    found = re.search(r'<strong class="secret">([A-Z0-9]{8})</strong>', zhang.last_page)
    assert found, zhang.last_page
    code = found.group(1)
    assert f"用您自己的 Telegram 私聊本助手，发送 /link {code}，15 分钟内有效" in zhang.last_page
    assert await console.audit_count("advisor_link_code") == 1
    async with console.sessions() as session, session.begin():
        linked = await advisors.redeem_link_code(session, code, 4242, now=datetime.now(TZ))
    assert linked is not None and linked.name == "顾问张"
    await zhang.get("/admin/account")
    assert "已绑定一个 Telegram 账号" in zhang.last_page and code not in zhang.last_page

    wang = await console.browser("小王")
    await wang.get("/admin/account")
    assert "绑定 Telegram" not in wang.last_page
    response = await wang.post("/admin/account/telegram")
    assert response.status == 403


async def test_claimed_on_the_phone_answered_on_the_pc(desk: Desk) -> None:  # noqa: F811
    """The advisors' Telegram group and the console are one service: 顾问张 claims on the
    card in the group, answers from the console; the resident gets it on Telegram, the case's
    topic shows it, and closing on the console reaches both."""
    card = await _open_case(desk)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["认领"])
    await desk.resident_gets(3)  # the claim notice
    case = await desk.case()
    assert case.state == CaseState.claimed and case.id is not None
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        zhang = StaffBrowser(f"http://127.0.0.1:{desk.client.server.port}", http)
        assert (await zhang.sign_in("顾问张")).status == 303
        await zhang.get("/admin/escalations?view=mine")
        assert f"#{case.id}</a>" in zhang.last_page and "Telegram" in zhang.last_page
        assert await on_case(zhang, case.id, "reply", text=ANSWER) == 303
        replies = await desk.resident_gets(4)
        assert replies[3]["text"] == f"养老顾问（工号 {case.advisor_id}）：{ANSWER}"
        await _until(lambda: any(ANSWER in m.get("text", "") for m in desk.in_topic()), timeout=10)
        assert f"工号 {case.advisor_id}（控制台）：{ANSWER}" in [
            m.get("text") for m in desk.in_topic()
        ]
        assert await on_case(zhang, case.id, "close") == 303
    replies = await desk.resident_gets(5)
    assert "养老顾问已结束本次服务" in replies[4]["text"]
    assert (await desk.case()).topic_closed


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.browser
@pytest.mark.db
async def test_axe_finds_nothing_on_the_inbox_and_a_case(
    open_desk: OpenDesk,  # noqa: F811
    console_server: TestServer,  # noqa: F811
) -> None:
    case_id = await open_case(console_server.app, token="browser-resident")
    zhang = await open_desk("顾问张")
    page = zhang.page
    await expect(page.get_by_text("位居民在等待认领")).to_be_visible()
    await zhang.open_menu("人工服务", "人工服务")
    await expect(page.get_by_role("table", name=re.compile("等待认领"))).to_contain_text("腿脚不便")
    await assert_accessible(page, "人工服务, the waiting cases", strict=True)
    await zhang.link(f"#{case_id}").click()
    await expect(zhang.heading).to_have_text(f"案件 #{case_id}（等待中）")
    await assert_accessible(page, "a waiting case", strict=True)
    await zhang.button("认领").click()
    await expect(page.get_by_role("status")).to_have_text("已认领：这个案件由您负责。")
    await zhang.field("回复（最多 4000 个字）").fill(ANSWER)
    await zhang.button("发送").click()
    await expect(page.get_by_role("status")).to_have_text("回复已发出。")
    await expect(zhang.region("对话记录")).to_contain_text(ANSWER)
    await assert_accessible(page, "a claimed case with a reply", strict=True)
    await zhang.button("结案").click()
    await expect(zhang.heading).to_have_text(f"案件 #{case_id}（已结案）")
    await assert_accessible(page, "a closed case", strict=True)
    await zhang.link("← 人工服务").click()
    await zhang.link(re.compile("^已结案")).click()
    await assert_accessible(page, "人工服务, the closed cases", strict=True)
    await zhang.link("顾问张（养老顾问）").click()
    await zhang.button("生成绑定码").click()
    await expect(page.get_by_role("status")).to_contain_text("15 分钟内有效")
    await assert_accessible(page, "我的账号 with a Telegram link code", strict=True)


async def test_the_console_offers_a_callback_and_the_resident_leaves_a_number(
    console: Console,
) -> None:
    app = console.client.app
    case_id = await open_case(app)
    zhang = await console.browser("顾问张")
    assert await on_case(zhang, case_id, "claim") == 303
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "转电话回访" in zhang.last_page
    assert await on_case(zhang, case_id, "offer-callback") == 303
    # The resident (web chat) is now asked for a number and types it.
    key = app[keys.KEYRING].pseudonym("web", "tok1")
    [when] = await app[keys.CONVERSATION].handle("web", key, Text("138 1234 5678"))
    assert "方便接电话" in when.text
    await zhang.get(f"/admin/escalations/{case_id}")
    assert "13812345678" in zhang.last_page
