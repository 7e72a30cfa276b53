"""提醒 in Chromium: a staff member writes a rule (a mistake first), sees its preview exactly as
residents will, a colleague approves it; a bind code is made for a resident. Every 提醒 page
passes axe-core at WCAG 2.1 A and AA."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.async_api import expect

from jobs import texts
from tests.bot.console.test_console_browser import (  # noqa: F401 (the module's fixtures)
    OpenDesk,
    browser,
    console_server,
    open_desk,
)
from tests.support.axe import assert_accessible

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser, pytest.mark.db]

NAME = "2026 年冬至祭扫预约"
MESSAGE = "{街镇}的居民：冬至祭扫请提前预约，错峰出行。"


async def test_a_rule_is_written_previewed_and_approved_and_every_page_passes_axe(
    open_desk: OpenDesk,  # noqa: F811
) -> None:
    wang = await open_desk("小王")
    page = wang.page
    await wang.open_menu("提醒", "提醒规则")
    await expect(page.get_by_role("status")).to_contain_text("还没有提醒规则")
    await assert_accessible(page, "提醒规则, none yet", strict=True)

    await wang.link("新建规则").click()
    await expect(wang.heading).to_have_text("新建提醒规则")
    await assert_accessible(page, "a new rule's form, fresh", strict=True)
    await wang.field("规则名称").fill(NAME)
    await wang.field("主题").select_option(label="祭扫安排")
    await wang.field("提醒内容").fill("您今年{年龄}岁了")
    await page.get_by_role("checkbox", name="岳阳街道").check()
    await wang.button("保存草稿").click()
    # Neither a date nor a cron, and {年龄} in a campaign: said in Chinese, nothing lost.
    await expect(page.get_by_role("alert")).to_contain_text("只能用在“个人到期”或“年龄节点”")
    await expect(wang.field("规则名称")).to_have_value(NAME)
    await expect(page.get_by_role("checkbox", name="岳阳街道")).to_be_checked()
    await expect(wang.field("提醒内容")).to_have_accessible_description(re.compile("只能用在"))
    await assert_accessible(page, "a rule's form with a mistake", strict=True)

    await wang.field("提醒内容").fill(MESSAGE)
    await wang.field("日期").fill("2026-12-18")
    await wang.field("发送时间").fill("09:30")
    await wang.button("保存并提交审核").click()
    await expect(page.get_by_role("status")).to_have_text("已提交审核，请另一位同事审核。")
    await expect(wang.heading).to_have_text(NAME)
    preview = wang.region("预览")
    await expect(preview).to_contain_text("会收到的居民：0 位")
    await expect(preview.locator(".telegram .bubble")).to_have_text(
        MESSAGE.replace("{街镇}", "岳阳街道")
    )
    await expect(preview.locator(".telegram .tg-button")).to_have_text(
        [texts.UNSUBSCRIBE, texts.SETTINGS]
    )
    await expect(wang.button("批准")).to_have_count(0)
    await assert_accessible(page, "a rule under review with its preview", strict=True)

    li = await open_desk("小李")
    await li.open_menu("提醒", "提醒规则")
    rules = li.page.get_by_role("table", name="提醒规则（归档的在最后）")
    await expect(rules).to_contain_text("待审核")
    await assert_accessible(li.page, "提醒规则 with a rule", strict=True)
    await li.link(NAME, within=rules).click()
    await li.button("批准").click()
    await expect(li.page.get_by_role("status")).to_have_text("已批准：规则生效，到时间就会发送。")
    await expect(li.button("暂停")).to_be_visible()
    await assert_accessible(li.page, "an active rule", strict=True)
    await li.link("修改").click()
    await expect(li.heading).to_have_text(f"修改规则：{NAME}")
    await expect(li.page.get_by_text("保存修改后它会停止发送")).to_be_visible()
    await assert_accessible(li.page, "an active rule's form", strict=True)

    await li.open_menu("提醒", "提醒规则")
    for tab, heading in (
        ("发送记录", "提醒发送记录"),
        ("退订情况", "提醒退订情况"),
        ("绑定码", "提醒绑定码"),
    ):
        await li.link(tab, within=li.page.get_by_role("navigation", name="提醒页面")).click()
        await expect(li.heading).to_have_text(heading)
        await assert_accessible(li.page, heading, strict=True)


async def test_a_bind_code_is_made_for_a_resident(open_desk: OpenDesk) -> None:  # noqa: F811
    wang = await open_desk("小王")
    page = wang.page
    await page.goto("/admin/reminders/bind")
    await expect(wang.heading).to_have_text("提醒绑定码")
    await wang.field("类别").select_option(label="辅具租赁到期")
    await wang.field("到期日期").fill((date.today() - timedelta(days=3)).isoformat())
    await wang.field("是什么").fill("轮椅")
    await wang.button("生成绑定码").click()
    await expect(page.get_by_role("alert")).to_contain_text("有 1 处需要改")
    await expect(wang.field("到期日期")).to_have_accessible_description(
        re.compile("这个日期已经过了")
    )
    await assert_accessible(page, "提醒绑定码 with a mistake", strict=True)
    await wang.field("到期日期").fill((date.today() + timedelta(days=60)).isoformat())
    await wang.button("生成绑定码").click()
    shown = page.get_by_role("status")
    await expect(shown).to_contain_text(re.compile(r"绑定码 \d{4} \d{4}"))
    code = re.search(r"\d{4} \d{4}", await shown.inner_text())
    assert code
    await expect(page.get_by_text(f"/bind {code.group(0)}")).to_be_visible()
    codes = page.get_by_role("table", name="最近生成的绑定码（不显示码本身）")
    await expect(codes).to_contain_text("轮椅")
    await expect(codes).not_to_contain_text(code.group(0))
    await assert_accessible(page, "提醒绑定码 with a new code", strict=True)
