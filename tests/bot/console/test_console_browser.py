"""The staff console /admin in a real browser: Debian's headless Chromium, driven by Playwright,
against a real server with console accounts, on the shipped content.

What bureau staff who are not developers see and do, by pressing links and buttons and typing:
sign in and out (a wrong password, the lockout, signing out everywhere), correct an entry and
have a colleague approve it until residents get the new answer, a conflict between two
colleagues, a rollback, a scheduled publish, a synonym's impact preview; and what an advisor may
not reach. And what the console promises: every page passes axe-core at WCAG 2.1 A and AA, the
focus always shows with enough contrast, and at 400% zoom nothing scrolls sideways except a wide
table inside its own scroller.

Most tests share one server (each on its own entry); the sign-in failures get a fresh one, since
they slow down every later sign-in from the same address. Without Chromium these tests skip;
under CI=true they fail instead (tests/support/browser.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    expect,
)

from bot import keys
from bot.console import accounts
from bot.console.models import Role
from bot.console.views_review import publish_scheduled
from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.settings import Settings
from bot.web.app import create_app
from tests.bot.console.conftest import ACCOUNTS, PASSWORD
from tests.conftest import TEST_SECRET_KEY, fresh_database
from tests.support.axe import assert_accessible
from tests.support.browser import WatchedPage, launched_chromium
from tests.support.contrast import contrast, opaque

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser, pytest.mark.db]

# The server answers in milliseconds; the margin is for a busy CI machine.
expect.set_options(timeout=10_000)

# The console's accounts, and one more staff member for signing out everywhere.
PEOPLE = {**ACCOUNTS, "小陈": Role.staff}
DESKTOP = {"width": 1280, "height": 900}
# A 1280×1024 window zoomed to 400% (WCAG 1.4.10 Reflow): 320×256 CSS pixels, each drawn 4×4.
ZOOMED = {"viewport": {"width": 320, "height": 256}, "device_scale_factor": 4}
# The server looks for scheduled drafts and changed content this often (30 s in service).
CONTENT_POLL_S = 0.2

# The entry residents reach with 老年食堂在哪里, and entries of their own for the other tests.
MEAL_POINT = "elder-meal-point"
MEAL_POINT_TITLE = "老年助餐点（老年食堂）在哪里、怎么吃"
CONFLICT_ENTRY = "marriage-papers"
ROLLBACK_ENTRY = "marriage-certificate-replace"
SCHEDULED_ENTRY = "marriage-where"
TIMES_ENTRY = "marriage-conditions"
UNTOUCHED_ENTRY = "assist-dibao-apply"


async def start_console(database_url: str, var_dir: Path) -> TestServer:
    """A server on a new installation (it seeds the shipped content) with PEOPLE's accounts,
    ready: the knowledge index built."""
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            for name, role in PEOPLE.items():
                await accounts.add_user(
                    session, name=name, role=role, password=PASSWORD, actor="test"
                )
    settings = Settings(
        database_url=database_url, var_dir=var_dir, secret_key=TEST_SECRET_KEY, http_port=0
    )
    server = TestServer(create_app(settings, content_poll_s=CONTENT_POLL_S))
    await server.start_server()
    async with asyncio.timeout(60):
        while not server.app[keys.KNOWLEDGE].ready:
            await asyncio.sleep(0.05)
    return server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestServer]:
    """The module's server: tests that do not get in each other's way share it."""
    server = await start_console(module_database_url, tmp_path_factory.mktemp("var"))
    try:
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_server(tmp_path: Path, postgres_server: str | None) -> AsyncIterator[TestServer]:
    """A server of the test's own, on a fresh database."""
    async with fresh_database(tmp_path, postgres_server) as url:
        server = await start_console(url, tmp_path / "var")
        try:
            yield server
        finally:
            await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


@dataclass
class Desk(WatchedPage):
    """One person's browser window on the console, with its own cookies."""

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def menu(self) -> Locator:
        return self.page.get_by_role("navigation", name="主菜单")

    def button(self, name: str | re.Pattern[str], within: Locator | None = None) -> Locator:
        return (within or self.page).get_by_role("button", name=name, exact=True)

    def link(self, name: str | re.Pattern[str], within: Locator | None = None) -> Locator:
        return (within or self.page).get_by_role("link", name=name, exact=True)

    def field(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

    def region(self, heading: str | re.Pattern[str]) -> Locator:
        return self.page.get_by_role("region", name=heading)

    async def sign_in(self, name: str, password: str = PASSWORD) -> None:
        """Type the name and password on the sign-in page and press 登录."""
        await expect(self.heading).to_have_text("工作人员登录")
        await self.field("账号").fill(name)
        await self.field("密码").fill(password)
        await self.button("登录").click()

    async def open_menu(self, item: str, heading: str | re.Pattern[str]) -> None:
        """Press an item of the main menu and wait for its page."""
        await self.link(item, within=self.menu).click()
        await expect(self.heading).to_have_text(heading)

    async def open_entry(self, entry_id: str) -> None:
        """An entry's page, as from a bookmark or a colleague's link."""
        await self.page.goto(f"/admin/kb/{entry_id}")
        await expect(self.page.get_by_text(f"编号：{entry_id}")).to_be_visible()

    async def edit_entry(self, entry_id: str) -> None:
        """Open the entry and press 修改 (or 继续编辑草稿)."""
        await self.open_entry(entry_id)
        await self.link(re.compile("^(修改|继续编辑草稿)$")).click()
        await expect(self.heading).to_contain_text("修改：")

    async def ask(self, question: str) -> dict[str, Any]:
        """What a resident gets from ``POST /api/ask``."""
        response = await self.page.request.post("/api/ask", data={"question": question})
        assert response.ok, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def answer_changes(self, question: str, to_contain: str) -> None:
        """Ask until the answer contains ``to_contain`` (the index is rebuilt in the
        background after a publish)."""
        async with asyncio.timeout(10):
            while to_contain not in str((await self.ask(question))["answer"]):
                await asyncio.sleep(0.1)


OpenDesk = Callable[..., Awaitable[Desk]]


@pytest_asyncio.fixture(loop_scope="module")
async def open_desk(browser: Browser, console_server: TestServer) -> AsyncIterator[OpenDesk]:
    """Open the console in a new browser profile and sign in as ``name`` (None: stay on the
    sign-in page); ``server`` picks another server than the module's, other keyword arguments
    go to the browser context.

    Whatever a test does, no page may open a dialog, run or break a script, break its
    Content-Security-Policy, or fetch anything from anywhere but the service itself."""
    desks: list[Desk] = []
    contexts: list[BrowserContext] = []

    async def open_(
        name: str | None = None, *, server: TestServer | None = None, **options: Any
    ) -> Desk:
        origin = str((server or console_server).make_url("")).rstrip("/")
        options.setdefault("viewport", DESKTOP)
        context = await browser.new_context(base_url=origin, locale="zh-CN", **options)
        contexts.append(context)
        page = await context.new_page()
        desk = Desk(page, origin)
        desks.append(desk)
        desk.watch(console_errors=True)
        # Signed out, the console sends everyone to its sign-in page.
        await page.goto("/admin/")
        await expect(page).to_have_url(re.compile(r"/admin/login\b"))
        if name is not None:
            await desk.sign_in(name)
            await expect(desk.heading).to_have_text(f"您好，{name}")
        return desk

    yield open_
    for context in contexts:
        await context.close()
    for desk in desks:
        assert desk.dialogs == []
        assert desk.outside_requests() == []
        # A page answered 403 or 404 on purpose logs "Failed to load resource": nothing else.
        assert [e for e in desk.script_errors if "Failed to load resource" not in e] == []


async def submit_a_change(desk: Desk, entry_id: str, answer: str) -> None:
    """Open the entry, 修改, type a new 回答 and press 保存并提交审核."""
    await desk.edit_entry(entry_id)
    await desk.field("回答").fill(answer)
    await desk.button("保存并提交审核").click()
    await expect(desk.page.get_by_role("status")).to_have_text("已提交审核，请另一位同事审核。")


# --- signing in and out ------------------------------------------------------------------------


async def test_signing_in_a_wrong_password_and_the_lockout(
    open_desk: OpenDesk, fresh_server: TestServer
) -> None:
    desk = await open_desk(server=fresh_server)
    page = desk.page
    # The cursor waits in the name box.
    await expect(desk.field("账号")).to_be_focused()
    await assert_accessible(page, "sign-in page, fresh", strict=True)
    await desk.sign_in("小王")
    await expect(desk.heading).to_have_text("您好，小王")
    await expect(desk.link("知识库", within=desk.menu)).to_be_visible()
    await desk.button("退出").click()
    await expect(desk.heading).to_have_text("工作人员登录")

    await desk.sign_in("小李", "not-the-password")
    error = page.get_by_role("alert")
    await expect(error).to_have_text("账号或密码不对，请再试一次。")
    # What was typed as the name stays, and the name box is described by the error.
    await expect(desk.field("账号")).to_have_value("小李")
    await expect(desk.field("账号")).to_have_accessible_description(re.compile("账号或密码不对"))
    await expect(desk.field("密码")).to_have_value("")
    await assert_accessible(page, "sign-in page with a wrong password", strict=True)
    for attempt in range(2, accounts.MAX_FAILURES + 1):
        await desk.sign_in("小李", f"wrong-password-{attempt}")
        await expect(error).to_be_visible()
    await expect(error).to_contain_text("锁定 15 分钟")
    # The right password does not help while the lock lasts.
    await desk.sign_in("小李")
    await expect(error).to_contain_text("锁定")
    await expect(desk.heading).to_have_text("工作人员登录")


async def test_sign_out_and_sign_out_everywhere(open_desk: OpenDesk) -> None:
    office, home = await open_desk("小陈"), await open_desk("小陈")
    await office.button("退出").click()
    await expect(office.heading).to_have_text("工作人员登录")
    await home.page.reload()
    await expect(home.heading).to_have_text("您好，小陈")  # the other browser is still in

    await office.sign_in("小陈")
    await office.link("小陈（工作人员）").click()
    await expect(office.heading).to_have_text("我的账号")
    await office.button("退出所有设备").click()
    await expect(office.heading).to_have_text("工作人员登录")
    await home.page.reload()
    await expect(home.heading).to_have_text("工作人员登录")
    await expect(home.page).to_have_url(re.compile(r"/admin/login\b"))


# --- content: edit, review, publish ------------------------------------------------------------


async def test_a_correction_is_approved_by_a_colleague_and_residents_get_it(
    open_desk: OpenDesk,
) -> None:
    wang, li = await open_desk("小王"), await open_desk("小李")
    question, corrected = "老年食堂在哪里", "离您最近的老年助餐点，可以发送位置查找。（已更正）"
    before = await wang.ask(question)
    assert before["entry_id"] == MEAL_POINT

    await wang.open_menu("知识库", "知识库")
    await wang.page.get_by_role("searchbox", name=re.compile("^搜索")).fill("助餐")
    await wang.button("查找").click()
    results = wang.page.get_by_role("table", name="知识库内容")
    await wang.link(MEAL_POINT_TITLE, within=results).click()
    await expect(wang.heading).to_have_text(MEAL_POINT_TITLE)
    await wang.link("修改").click()
    await expect(wang.heading).to_have_text(f"修改：{MEAL_POINT_TITLE}")
    await wang.field("回答").fill(corrected)
    await wang.button("保存并提交审核").click()
    await expect(wang.page.get_by_role("status")).to_have_text("已提交审核，请另一位同事审核。")
    await expect(wang.page.get_by_text("要由另一位同事审核批准")).to_be_visible()
    await expect(wang.button("批准发布")).to_have_count(0)  # not by the one who changed it
    # Submitted, not approved: residents still read the published answer.
    assert (await wang.ask(question))["answer"] == before["answer"]

    await li.open_menu("待审核", "待审核")
    waiting = li.page.get_by_role("table", name="等待批准的草稿")
    await expect(waiting).to_contain_text("小王")
    await assert_accessible(li.page, "待审核 with a draft waiting", strict=True)
    await li.link(MEAL_POINT_TITLE, within=waiting).click()
    draft = li.region("草稿（待审核）")
    await expect(draft).to_contain_text("（已更正）")
    await assert_accessible(li.page, "an entry with a draft to review", strict=True)
    await li.button("批准发布").click()
    await expect(li.page.get_by_role("status")).to_have_text("已批准。")
    await expect(li.region("居民现在看到的")).to_contain_text("（已更正）")
    await expect(li.region(re.compile("^草稿"))).to_have_count(0)

    await wang.answer_changes(question, "（已更正）")


async def test_two_colleagues_saving_one_entry_get_the_conflict_page(
    open_desk: OpenDesk,
) -> None:
    wang, li = await open_desk("小王"), await open_desk("小李")
    await wang.edit_entry(CONFLICT_ENTRY)
    await li.edit_entry(CONFLICT_ENTRY)
    await wang.field("标题").fill("小王改的标题")
    await li.field("标题").fill("小李改的标题")
    await wang.button("保存草稿").click()
    await expect(wang.page.get_by_role("status")).to_contain_text("草稿已保存")

    await li.button("保存草稿").click()
    await expect(li.heading).to_have_text("同事刚才也改了这条内容")
    await expect(li.page.get_by_role("alert")).to_contain_text("您的修改没有丢")
    title_row = li.page.get_by_role("row").filter(
        has=li.page.get_by_role("rowheader", name=re.compile("^标题"))
    )
    await expect(title_row).to_contain_text("小王改的标题")  # theirs
    await expect(li.field("标题")).to_have_value("小李改的标题")  # mine, still editable
    await assert_accessible(li.page, "the conflict page", strict=True)

    await li.button("用我的版本保存").click()
    await expect(li.page.get_by_role("status")).to_contain_text("草稿已保存")
    draft = li.region("草稿（编辑中）")
    await expect(draft).to_contain_text("小李改的标题")
    await expect(draft).not_to_contain_text("小王改的标题")
    await expect(draft).to_contain_text("最后修改：小李")


async def test_history_shows_the_differences_and_rolls_back_to_a_draft(
    open_desk: OpenDesk,
) -> None:
    wang, li = await open_desk("小王"), await open_desk("小李")
    await submit_a_change(wang, ROLLBACK_ENTRY, "第二版的回答：补领结婚证去婚姻登记处。")
    await li.open_entry(ROLLBACK_ENTRY)
    await li.button("批准发布").click()
    await expect(li.page.get_by_role("status")).to_have_text("已批准。")
    await expect(li.page.get_by_text("第 2 版")).to_be_visible()

    await li.link("历史版本").click()
    await expect(li.heading).to_have_text(f"历史版本：{ROLLBACK_ENTRY}")
    diff = li.page.get_by_role("table", name=re.compile("第 1 版与第 2 版对比"))
    answer_row = diff.get_by_role("row").filter(
        has=li.page.get_by_role("rowheader", name=re.compile("^回答"))
    )
    await expect(answer_row).to_contain_text("有改动")
    await expect(answer_row.locator("del").first).to_be_visible()
    await expect(answer_row.locator("ins").first).to_be_visible()
    await expect(answer_row.locator("ins").first).to_contain_text("第二版的回答")
    await assert_accessible(li.page, "history with a diff", strict=True)

    versions = li.page.get_by_role("table", name="所有发布过的版本")
    first = versions.get_by_role("row").filter(
        has=li.page.get_by_role("rowheader", name="第 1 版", exact=True)
    )
    await li.button("用这一版做草稿", within=first).click()
    await expect(li.page.get_by_role("status")).to_have_text("已完成。")
    draft = li.region("草稿（编辑中）")
    await expect(draft).to_be_visible()
    await expect(draft).not_to_contain_text("第二版的回答")
    # Residents still read version 2 until the draft is approved.
    await expect(li.region("居民现在看到的")).to_contain_text("第二版的回答")
    await assert_accessible(li.page, "an entry with a rolled-back draft", strict=True)


async def test_an_approval_for_later_is_shown_and_publishes_only_at_its_time(
    open_desk: OpenDesk, console_server: TestServer
) -> None:
    """The 定时发布 box takes minutes only, and a time already past publishes at once: so the
    test picks a time ten minutes ahead, checks the scheduled state and that residents still get
    the old answer, then runs the server's own publishing step (what its content poll does)
    with a clock past that time, instead of waiting ten minutes for the real clock."""
    wang, li = await open_desk("小王"), await open_desk("小李")
    question = "婚姻登记处怎么走"
    before = await wang.ask(question)
    assert before["entry_id"] == SCHEDULED_ENTRY
    await submit_a_change(wang, SCHEDULED_ENTRY, "在松江，去松江区婚姻登记处。（定时更新）")

    tz = console_server.app[keys.SETTINGS].tz
    publish_at = (datetime.now(tz) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    await li.open_entry(SCHEDULED_ENTRY)
    await li.field("定时发布（不填就马上发布）").fill(f"{publish_at:%Y-%m-%dT%H:%M}")
    await li.button("批准发布").click()
    await expect(li.page.get_by_role("status")).to_have_text("已批准。")
    # (Which time it shows: test_a_scheduled_time_is_shown_as_it_was_typed.)
    await expect(
        li.region(re.compile(r"^草稿（已批准，将于 [\d-]{10} [\d:]{5} 发布）$"))
    ).to_be_visible()
    await assert_accessible(li.page, "an entry approved for later", strict=True)
    await li.open_menu("待审核", "待审核")
    await expect(li.page.get_by_role("table", name="等待批准的草稿")).to_contain_text(
        re.compile(r"已批准，[\d-]{10} [\d:]{5} 发布")
    )
    # Several content polls later, before its time: residents get the old answer.
    await asyncio.sleep(CONTENT_POLL_S * 3)
    assert (await wang.ask(question))["answer"] == before["answer"]

    published = await publish_scheduled(
        console_server.app[keys.SESSIONS], publish_at + timedelta(minutes=1)
    )
    assert published == 1
    await wang.answer_changes(question, "（定时更新）")
    await li.open_entry(SCHEDULED_ENTRY)
    await expect(li.region("居民现在看到的")).to_contain_text("（定时更新）")
    await expect(li.region(re.compile("^草稿"))).to_have_count(0)


async def test_a_scheduled_time_is_shown_as_it_was_typed(
    open_desk: OpenDesk, console_server: TestServer
) -> None:
    """Staff type 定时发布 in Shanghai time and read it back as typed; 最后修改 shows the
    time of the save."""
    wang, li = await open_desk("小王"), await open_desk("小李")
    tz = console_server.app[keys.SETTINGS].tz
    saved = datetime.now(tz)
    await submit_a_change(wang, TIMES_ENTRY, "结婚登记要双方自愿，并且到法定年龄。")
    shown = wang.region("草稿（待审核）").get_by_text("最后修改：小王，")
    times = {f"最后修改：小王，{t:%Y-%m-%d %H:%M}" for t in (saved, saved + timedelta(minutes=1))}
    assert (await shown.inner_text()).split("；")[0] in times
    publish_at = (saved + timedelta(minutes=10)).replace(second=0, microsecond=0)
    await li.open_entry(TIMES_ENTRY)
    await li.field("定时发布（不填就马上发布）").fill(f"{publish_at:%Y-%m-%dT%H:%M}")
    await li.button("批准发布").click()
    await expect(li.page.get_by_role("status")).to_have_text("已批准。")
    await expect(li.region(re.compile("^草稿"))).to_have_accessible_name(
        f"草稿（已批准，将于 {publish_at:%Y-%m-%d %H:%M} 发布）", timeout=2_000
    )


async def test_a_synonym_draft_shows_which_answers_would_change(
    open_desk: OpenDesk, console_server: TestServer
) -> None:
    wang = await open_desk("小王")
    question = "饭堂子在哪里"
    assert (await wang.ask(question))["entry_id"] != MEAL_POINT
    await console_server.app[keys.CONVERSATION].flush()  # the question log, written

    await wang.open_menu("同义词与线索", "同义词、线索和非民政事项")
    await assert_accessible(wang.page, "同义词 overview", strict=True)
    groups = wang.page.get_by_role("table", name="内容里用的词和居民的说法")
    meal = groups.get_by_role("row").filter(
        has=wang.page.get_by_role("rowheader", name="助餐点", exact=True)
    )
    await wang.link("修改", within=meal).click()
    await expect(wang.heading).to_have_text("修改同义词：助餐点")
    await assert_accessible(wang.page, "a synonym group's form", strict=True)
    variants = wang.field("居民的说法")
    typed = await variants.input_value()
    assert "老年食堂" in typed
    await variants.fill(typed + "\n饭堂子")
    await wang.button("保存草稿，看影响").click()

    await expect(wang.heading).to_have_text("同义词草稿：助餐点")
    await expect(wang.page.get_by_text("把“")).to_contain_text("饭堂子")
    impact = wang.region(re.compile(r"^影响：\d+ 个问题的回答会改变"))
    await expect(impact).to_be_visible()
    changed = impact.get_by_role("table", name="回答会改变的问题")
    await expect(changed.get_by_role("rowheader", name=question, exact=True)).to_be_visible()
    await assert_accessible(wang.page, "a synonym draft with its impact", strict=True)
    # A draft only: residents' answers stay as they are.
    assert (await wang.ask(question))["entry_id"] != MEAL_POINT
    await wang.button("撤回草稿").click()
    await expect(wang.heading).to_have_text("同义词、线索和非民政事项")


# --- roles -------------------------------------------------------------------------------------


async def test_an_advisor_neither_sees_nor_reaches_the_content_pages(open_desk: OpenDesk) -> None:
    advisor = await open_desk("顾问张")
    page = advisor.page
    await expect(page.get_by_text("您的角色：养老顾问")).to_be_visible()
    await expect(advisor.link("人工服务", within=advisor.menu)).to_be_visible()
    for item in ("知识库", "待审核", "同义词与线索", "测试问答", "操作记录", "账号"):
        await expect(advisor.link(item)).to_have_count(0)
    await assert_accessible(page, "home page of an advisor", strict=True)
    for path in (
        "/admin/kb",
        f"/admin/kb/{MEAL_POINT}",
        f"/admin/kb/{MEAL_POINT}/edit",
        "/admin/review",
        "/admin/synonyms",
        "/admin/test?q=低保",
        "/admin/audit",
        "/admin/users",
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 403, path
        await expect(advisor.heading).to_have_text("没有权限")
        await expect(page.get_by_role("alert")).to_have_text("您的账号没有权限打开这个页面。")
    await assert_accessible(page, "没有权限 (403)", strict=True)
    # The way back still works.
    await advisor.link("回到工作台首页").click()
    await expect(advisor.heading).to_have_text("您好，顾问张")


# --- every other page, checked by axe-core -----------------------------------------------------


async def test_axe_finds_nothing_on_the_pages_of_each_role(open_desk: OpenDesk) -> None:
    """The pages the flows above do not check, in each state staff get them into."""
    admin = await open_desk("管理员甲")
    await assert_accessible(admin.page, "home page of an admin", strict=True)
    await admin.open_menu("账号", "账号")
    await assert_accessible(admin.page, "账号", strict=True)
    await admin.field("账号名（汉字、字母或数字）").fill("新同事")
    await admin.page.get_by_label("角色", exact=True).select_option(label="工作人员")
    await admin.button("新建，并生成初始密码").click()
    await expect(admin.page.get_by_role("status")).to_contain_text("已新建账号 新同事")
    await assert_accessible(admin.page, "账号 after creating one (its password shown)", strict=True)
    await admin.field("账号名（汉字、字母或数字）").fill("新同事")
    await admin.button("新建，并生成初始密码").click()
    await expect(admin.page.get_by_role("alert")).to_contain_text("已经有了")
    await assert_accessible(admin.page, "账号 with an error", strict=True)

    wang = await open_desk("小王")
    page = wang.page
    await assert_accessible(page, "home page of a staff member", strict=True)
    await wang.link("小王（工作人员）").click()
    await expect(wang.heading).to_have_text("我的账号")
    await assert_accessible(page, "我的账号", strict=True)
    await wang.field("现在的密码").fill("not-my-password")
    await wang.field("新密码（至少 10 个字符）").fill("a-new-password-2027")
    await wang.field("再输一次新密码").fill("a-new-password-2027")
    await wang.button("修改密码").click()
    await expect(page.get_by_role("alert")).to_have_text("现在的密码不对。")
    await assert_accessible(page, "我的账号 with an error", strict=True)

    await wang.open_menu("操作记录", "操作记录")
    await assert_accessible(page, "操作记录", strict=True)
    await wang.field("操作人").select_option("管理员甲")
    await wang.field("操作").select_option(label="新建账号")
    await wang.button("筛选").click()
    log = page.get_by_role("table", name="操作记录（最新的在前）")
    await expect(log).to_contain_text("user：新同事")
    await expect(page.get_by_text("共 1 条。")).to_be_visible()
    await assert_accessible(page, "操作记录 filtered", strict=True)

    await wang.open_menu("知识库", "知识库")
    await assert_accessible(page, "知识库, the whole list", strict=True)
    await wang.field("筛选").select_option(label="等待首次审核")
    await wang.field("类别").select_option("婚姻")
    await wang.button("查找").click()
    await expect(page.get_by_role("table", name="知识库内容")).to_contain_text("marriage-")
    await assert_accessible(page, "知识库 filtered", strict=True)
    await wang.open_entry(UNTOUCHED_ENTRY)
    await expect(wang.region("居民现在看到的")).to_be_visible()
    await assert_accessible(page, "an entry without a draft", strict=True)
    await wang.link("修改").click()
    await assert_accessible(page, "the edit form, fresh", strict=True)

    await wang.open_menu("测试问答", "测试问答")
    await assert_accessible(page, "测试问答, fresh", strict=True)
    await wang.field("居民的问题").fill("老年食堂在哪里")
    await wang.button("试一试").click()
    await expect(page.get_by_role("table", name="考虑过的内容（把握从高到低）")).to_be_visible()
    await expect(page.get_by_text("“老年食堂”当作“助餐点”")).to_be_visible()
    await assert_accessible(page, "测试问答 with an answer", strict=True)
    await wang.field("居民的问题").fill("护照怎么办")
    await wang.button("试一试").click()
    await expect(page.get_by_text("不归民政管")).to_be_visible()
    await assert_accessible(page, "测试问答 outside civil affairs", strict=True)

    await wang.open_menu("同义词与线索", "同义词、线索和非民政事项")
    await wang.link("新增一组同义词").click()
    await wang.field("内容里用的词").fill("新词")
    await wang.field("居民的说法").fill("老年食堂")
    await wang.button("保存草稿，看影响").click()
    await expect(page.get_by_role("alert")).to_contain_text("已经是“助餐点”的说法")
    await assert_accessible(page, "a synonym form with an error", strict=True)
    await wang.page.goto("/admin/synonyms")
    await wang.link("新增一项").click()
    await expect(wang.heading).to_have_text("新增非民政事项")
    await assert_accessible(page, "a new out-of-scope matter's form", strict=True)
    await wang.page.goto("/admin/synonyms")
    await wang.link("新增一组线索").click()
    await expect(wang.heading).to_have_text("新增线索")
    await assert_accessible(page, "a new cue group's form", strict=True)
    await wang.field("需要（名称）").fill("想找人说说心里话")
    await wang.field("指向的条目（每行一个编号）").fill("no-such-entry")
    await wang.field("线索说法（每行一条）").fill("心里话没处讲")
    await wang.button("保存草稿，看影响").click()
    await expect(page.get_by_role("alert")).to_have_text("没有编号为“no-such-entry”的已发布条目。")
    await expect(wang.field("线索说法（每行一条）")).to_have_value("心里话没处讲")
    await assert_accessible(page, "a cue form with an error", strict=True)

    for path, heading in (
        ("/admin/kb/no-such-entry", "找不到"),
        ("/admin/no-such-page", re.compile(".")),
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 404, path
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await assert_accessible(page, f"404 at {path}", strict=True)


async def test_a_new_entry_with_mistakes_then_a_lint_note(open_desk: OpenDesk) -> None:
    """The edit form with a field error, then (once saved) with a note of ``kb lint`` beside the
    field: each is read out with its field, and the pages pass axe."""
    wang = await open_desk("小王")
    page = wang.page
    await wang.open_menu("知识库", "知识库")
    await wang.link("新建一条内容").click()
    await expect(wang.heading).to_have_text("新建内容")
    await assert_accessible(page, "a new entry's form, fresh", strict=True)
    await wang.field("编号").fill("elder-browser-test")
    await wang.field("标题").fill("浏览器测试用的新内容")
    await wang.field("类别").select_option("养老")
    await wang.field("居民的问法").fill("问法一\n问法二\n问法三\n问法四")  # one too few
    await wang.field("回答").fill("先打电话问清楚。")
    await wang.field("咨询电话").fill("021-12345678")
    await wang.field("来源").fill("测试")
    await wang.button("保存草稿").click()

    await expect(page.get_by_role("alert")).to_have_text(re.compile("有 1 处需要改"))
    questions = wang.field("居民的问法")
    await expect(questions).to_have_accessible_description(re.compile("至少要 5 个"))
    await expect(questions).to_have_value("问法一\n问法二\n问法三\n问法四")  # nothing lost
    await assert_accessible(page, "the edit form with a field error", strict=True)

    await questions.fill("问法一\n问法二\n问法三\n问法四\n问法五")
    await wang.button("保存草稿").click()
    await expect(page.get_by_role("status")).to_contain_text("草稿已保存")
    await expect(wang.heading).to_have_text("浏览器测试用的新内容")
    await assert_accessible(page, "a new entry's page: a draft, nothing published", strict=True)
    await wang.link("继续编辑草稿").click()
    contacts = wang.field("咨询电话")
    await expect(contacts).to_have_accessible_description(re.compile("021-12345678"))
    await expect(page.get_by_text(re.compile("请确认：.*021-12345678"))).to_be_visible()
    await assert_accessible(page, "the edit form with a lint note", strict=True)


# --- focus, zoom -------------------------------------------------------------------------------


# Records each control that gets the focus: its focus ring and the backgrounds around it.
_WATCH_FOCUS = """() => {
    window.rings = [];
    const backgrounds = (e) => {
        const found = [];
        for (let at = e; at; at = at.parentElement) {
            found.push(getComputedStyle(at).backgroundColor);
        }
        return found;
    };
    document.addEventListener("focusin", (event) => {
        const e = event.target, style = getComputedStyle(e);
        window.rings.push({
            element: e,
            name: e.tagName + " " + (e.textContent || e.id || e.name).trim().slice(0, 16),
            style: style.outlineStyle, width: parseFloat(style.outlineWidth),
            offset: parseFloat(style.outlineOffset), colour: style.outlineColor,
            own: backgrounds(e), around: backgrounds(e.parentElement),
        });
    });
    document.activeElement?.blur();
}"""
_FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex='0']"
_NOT_REACHED = f"""() => {{
    const reached = new Set(window.rings.map((r) => r.element));
    return [...document.querySelectorAll({_FOCUSABLE!r})]
        .filter((e) => !reached.has(e) && !e.disabled)
        .map((e) => e.tagName + " " + (e.textContent || e.id).trim().slice(0, 16));
}}"""


async def test_every_control_is_reached_with_tab_and_shows_its_focus(open_desk: OpenDesk) -> None:
    """WCAG 2.1.1, 2.4.7 and 1.4.11: with Tab alone every control on a page gets the focus,
    and the focus ring is at least 3px wide with 3:1 against the page around it (it stands
    off the control, so the control's own colour does not touch it)."""
    wang = await open_desk("小王")
    page = wang.page
    for path in (
        "/admin/",
        "/admin/kb",
        f"/admin/kb/{UNTOUCHED_ENTRY}",
        f"/admin/kb/{UNTOUCHED_ENTRY}/edit",
        f"/admin/kb/{MEAL_POINT}/history",
        "/admin/test?q=低保怎么申请",
        "/admin/audit",
    ):
        await page.goto(path)
        await page.evaluate(_WATCH_FOCUS)
        controls: int = await page.evaluate(f"document.querySelectorAll({_FOCUSABLE!r}).length")
        # A date box takes one Tab for each of its parts: go round until all are reached.
        for _ in range(4):
            for _ in range(controls + 1):
                await page.keyboard.press("Tab")
            missed: list[str] = await page.evaluate(_NOT_REACHED)
            if not missed:
                break
        assert missed == [], f"{path}: not reached with Tab: {missed}"
        rings: list[dict[str, Any]] = await page.evaluate(
            "window.rings.map(({element, ...ring}) => ring)"
        )
        for ring in rings:
            assert ring["style"] != "none" and ring["width"] >= 3, (path, ring)
            colour = opaque([ring["colour"]])
            around = opaque(ring["around"])
            assert contrast(colour, around) >= 3, (path, ring)
            if ring["offset"] <= 0:  # a ring touching the control must stand out from it too
                assert contrast(colour, opaque(ring["own"])) >= 3, (path, ring)


# Everything that sticks out past the right edge of the screen and is not inside an element
# that scrolls sideways by itself (a wide table's scroller).
_STICKING_OUT = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
    .filter((e) => {
        for (let at = e.parentElement; at && at !== document.body; at = at.parentElement) {
            const x = getComputedStyle(at).overflowX;
            const inside = at.getBoundingClientRect().right <= innerWidth + 0.5;
            if ((x === "auto" || x === "scroll") && inside) return false;
        }
        return true;
    })
    .map((e) => e.tagName + "." + e.className + " " + (e.textContent || "").trim().slice(0, 20))"""


async def _reflows(desk: Desk, what: str) -> None:
    """No sideways scrolling of the page, nothing sticking out of it, and the top of the page
    (the header with the menu) does not stay over the content when it scrolls."""
    page = desk.page
    width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1] + 1 and width[1] == 320, (what, width)
    assert await page.evaluate(_STICKING_OUT) == [], what
    # Scrolled to the main heading, the heading is on top: nothing fixed covers it.
    heading = desk.heading
    await heading.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    covered: bool = await heading.evaluate(
        """(e) => { const box = e.getBoundingClientRect();
            const hit = document.elementFromPoint(box.left + 4, box.top + box.height / 2);
            return !(hit === e || e.contains(hit)); }"""
    )
    assert not covered, f"{what}: the heading is covered when scrolled to"
    for element in ("header", "nav"):
        position = await page.evaluate(
            f"[...document.querySelectorAll('{element}')].map((e) => getComputedStyle(e).position)"
        )
        assert not {"fixed", "sticky"} & set(position), (what, element, position)


async def test_at_400_percent_zoom_nothing_scrolls_sideways_but_a_wide_table(
    open_desk: OpenDesk,
) -> None:
    """WCAG 1.4.10 Reflow and 1.4.4 Resize text: at 320 CSS pixels wide the pages fit the
    width; a table too wide for it scrolls inside its own box, which the keyboard can reach."""
    desk = await open_desk(**ZOOMED)
    page = desk.page
    await _reflows(desk, "sign-in page")
    await assert_accessible(page, "sign-in page at 400%", strict=True)
    await desk.sign_in("小王", "not-the-password")
    await expect(page.get_by_role("alert")).to_be_visible()
    await _reflows(desk, "sign-in page with an error")
    await desk.sign_in("小王")
    await expect(desk.heading).to_have_text("您好，小王")
    await _reflows(desk, "home page")
    await desk.open_menu("知识库", "知识库")
    await _reflows(desk, "知识库")
    table = page.get_by_role("table", name="知识库内容")
    scroller = page.get_by_role("region", name="知识库内容")
    await expect(scroller).to_be_visible()
    sizes = await scroller.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] > sizes[1], "the table fits: this page no longer shows the scroller"
    # Not strict: the cells scrolled out of the table's box are clipped, and axe leaves their
    # contrast (plain text on white) for a person to review.
    await assert_accessible(page, "知识库 at 400%")
    # The table's own box scrolls sideways; its last column can be brought into sight.
    last = table.get_by_role("columnheader", name="没帮助")
    await last.scroll_into_view_if_needed()
    await expect(last).to_be_in_viewport()
    assert await page.evaluate("document.documentElement.scrollLeft") == 0
    for path in (
        f"/admin/kb/{UNTOUCHED_ENTRY}",
        f"/admin/kb/{UNTOUCHED_ENTRY}/edit",
        f"/admin/kb/{MEAL_POINT}/history",
        "/admin/review",
        "/admin/test?q=老年食堂在哪里",
        "/admin/synonyms",
        "/admin/audit",
        "/admin/account",
    ):
        await page.goto(path)
        await _reflows(desk, path)
    await assert_accessible(page, "我的账号 at 400%", strict=True)


# --- what residents asked that found no answer ---------------------------------------------------


async def test_a_cluster_of_unanswered_questions_becomes_a_new_entry_draft(
    open_desk: OpenDesk, fresh_server: TestServer
) -> None:
    wang = await open_desk("小王", server=fresh_server)
    for question in ["我家的猫丢了怎么办", "我家的猫丢了怎么办", "我家猫丢了咋办？", "护照怎么办"]:
        await wang.ask(question)
    await fresh_server.app[keys.CONVERSATION].flush()
    await wang.open_menu("未解答问题", "未解答问题")
    cluster = wang.region("我家的猫丢了怎么办")
    await expect(cluster).to_contain_text("3 次")
    await assert_accessible(wang.page, "未解答问题", strict=True)
    await wang.button("新建内容", within=cluster).click()
    await expect(wang.heading).to_have_text("新建内容")
    await expect(wang.field("标题")).to_have_value("我家的猫丢了怎么办")
    await expect(wang.field("居民的问法")).to_have_value(re.compile("我家猫丢了咋办"))
    await wang.field("编号").fill("lost-pet-advice")
    await wang.field("类别").select_option("社区")
    await wang.field("居民的问法").fill(
        "我家的猫丢了怎么办\n我家猫丢了咋办\n宠物走丢了找谁\n狗丢了去哪里问\n小区里猫丢了"
    )
    await wang.field("回答").fill("宠物走失不归民政部门管，可以拨打12345询问。")
    await wang.field("来源").fill("市民服务热线 12345")
    await wang.button("保存草稿").click()
    await expect(wang.page.get_by_role("status")).to_contain_text("草稿已保存")
    # Still a draft: residents are not answered from it.
    assert (await wang.ask("我家的猫丢了怎么办"))["fallback"] is True
    await wang.open_menu("数据", "数据")
    await expect(wang.page.get_by_text("个没答上")).to_be_visible()
    await expect(wang.page.get_by_role("img", name=re.compile("每天的提问"))).to_be_visible()
    # Not strict: axe leaves the chart's axis labels "to review" (it computes no background
    # inside an SVG, and one-digit labels are too short for it); they are #111 on white, 18.9:1.
    await assert_accessible(wang.page, "数据")
