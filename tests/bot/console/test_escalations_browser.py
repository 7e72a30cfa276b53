"""In Chromium, two people: a resident on the web chat and an eldercare advisor in the console
inbox, talking to each other through a case."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from tests.bot.console.test_console_browser import (  # noqa: F401 (the module's fixtures)
    OpenDesk,
    browser,
    console_server,
    open_desk,
)
from tests.support.axe import assert_accessible

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser, pytest.mark.db]


async def test_a_web_resident_and_an_advisor_in_the_console_talk(
    open_desk: OpenDesk,  # noqa: F811
    console_server: TestServer,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    origin = str(console_server.make_url("")).rstrip("/")
    context = await browser.new_context(base_url=origin, locale="zh-CN")
    try:
        resident = await context.new_page()
        await resident.goto("/chat")
        log = resident.get_by_role("list", name="对话记录")
        box = resident.get_by_label("您的问题")
        await resident.get_by_role("button", name="联系养老顾问", exact=True).first.click()
        await expect(log).to_contain_text("请先用一两句话说说")
        await box.fill("我八十岁了，一个人住，想请人每周来打扫两次")
        await box.press("Enter")
        opened = log.get_by_role("listitem").filter(has_text="已为您转给养老顾问")
        await expect(opened).to_have_count(1)
        found = re.search(r"案件号 #(\d+)", await opened.inner_text())
        assert found
        case_id = found.group(1)

        zhang = await open_desk("顾问张")
        await zhang.open_menu("人工服务", "人工服务")
        await zhang.link(f"#{case_id}").click()
        await expect(zhang.page.get_by_text("想请人每周来打扫两次").first).to_be_visible()
        await zhang.button("认领").click()
        await zhang.field("回复（最多 4000 个字）").fill(
            "您好！可以申请居家养老服务，您住哪个街镇？"
        )
        await zhang.button("发送").click()
        await expect(zhang.page.get_by_role("status")).to_have_text("回复已发出。")

        # The resident's page shows it within a few seconds (it polls while the case runs).
        answer = log.get_by_role("listitem").filter(has_text="您住哪个街镇")
        await expect(answer).to_have_count(1, timeout=8_000)
        await expect(answer).to_contain_text("养老顾问（工号")
        await assert_accessible(resident, "the web chat with the advisor's answer", strict=True)
        await box.fill("我住在九亭镇")
        await box.press("Enter")

        # The advisor sees it on refreshing the case.
        await zhang.link("刷新").click()
        await expect(zhang.region("对话记录")).to_contain_text("我住在九亭镇")
        await zhang.button("结案").click()
        closed = log.get_by_role("listitem").filter(has_text="问题解决了吗")
        await expect(closed).to_have_count(1, timeout=8_000)
        await resident.get_by_role("button", name="解决了", exact=True).click()
        await expect(log).to_contain_text("谢谢您")
    finally:
        await context.close()
