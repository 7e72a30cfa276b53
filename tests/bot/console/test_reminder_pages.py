"""提醒 in the console, over real HTTP: the rules, their form, the review flow by two people,
and the preview exactly as residents read it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import unescape

from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.console.models import AuditEvent
from bot.reminders.render import details, notification
from jobs import preferences, texts
from jobs.models import OutboxRow, ReminderFact, ReminderRule, RuleState
from jobs.sender import Outgoing
from tests.bot.console.conftest import Console, StaffBrowser

PAGES = (
    "/admin/reminders",
    "/admin/reminders/new",
    "/admin/reminders/history",
    "/admin/reminders/optouts",
    "/admin/reminders/bind",
)
MEMORIAL = "{街镇}的居民：冬至祭扫请提前在“松江民政”预约，错峰出行。"


def rule_fields(**changes: str) -> dict[str, str]:
    """A calendar rule's form as staff fill it in."""
    return {
        "name": "2026 年冬至祭扫预约",
        "kind": "calendar",
        "topic": "memorial",
        "message": MEMORIAL,
        "on_date": "2026-12-18",
        "send_at": "10:00",
        "town-1": "岳阳街道",
        "town-3": "方松街道",
        "then": "save",
        **changes,
    }


def rule_id_of(location: str) -> int:
    found = re.fullmatch(r"/admin/reminders/(\d+)\?done=\w[\w-]*", location)
    assert found, location
    return int(found.group(1))


async def new_rule(browser: StaffBrowser, **changes: str) -> int:
    await browser.get("/admin/reminders/new")
    response = await browser.post("/admin/reminders/new", rule_fields(**changes))
    assert response.status == 303, browser.last_page
    return rule_id_of(response.headers["Location"])


async def stored(console: Console, rule_id: int) -> ReminderRule:
    async with console.sessions() as session:
        row = await session.get(ReminderRule, rule_id)
    assert row is not None
    return row


async def actions_of(console: Console, rule_id: int) -> list[tuple[str, str]]:
    async with console.sessions() as session:
        rows = await session.execute(
            select(col(AuditEvent.action), col(AuditEvent.actor))
            .where(
                col(AuditEvent.target_type) == "reminder_rule",
                col(AuditEvent.target_id) == str(rule_id),
            )
            .order_by(col(AuditEvent.id))
        )
    return [(action, actor) for action, actor in rows]


def moment(console: Console) -> datetime:
    return datetime.now(console.client.app[keys.SETTINGS].tz)


async def resident(
    console: Console,
    key: str,
    *,
    town: str | None = None,
    topics: tuple[str, ...] = (),
    sensitive: bool = False,
    fact: tuple[str, str, date] | None = None,
) -> None:
    """A resident who consented to reminders on Telegram and chose ``topics``."""
    now = moment(console)
    async with console.sessions() as session, session.begin():
        await preferences.consent(session, "telegram", key, now)
        if sensitive:
            await preferences.consent_sensitive(session, "telegram", key, now)
        if town:
            await preferences.set_town(session, "telegram", key, town, now)
        for topic in topics:
            await preferences.set_topic(session, "telegram", key, topic, True, now)
        if fact:
            kind, topic, due_on = fact
            session.add(
                ReminderFact(
                    channel="telegram",
                    user_key=key,
                    kind=kind,
                    topic=topic,
                    due_on=due_on,
                    label="低保复核",
                    code_id="test",
                )
            )


async def queue_one(console: Console, rule_id: int) -> None:
    """A reminder the rule queued that has not gone yet."""
    async with console.sessions() as session, session.begin():
        session.add(
            OutboxRow(
                rule_id=rule_id,
                occurrence="2026-12-18",
                channel="telegram",
                recipient_key="k" * 32,
                topic="memorial",
                text="queued",
                not_before=moment(console),
                expires_at=moment(console) + timedelta(days=3),
            )
        )


def shown_text(html: str) -> str:
    return unescape(html)


async def test_the_reminder_pages_are_staffs_and_refuse_advisors_and_the_signed_out(
    console: Console,
) -> None:
    wang, admin = await console.browser("小王"), await console.browser("管理员甲")
    for path in PAGES:
        for person in (wang, admin):
            response = await person.get(path)
            assert response.status == 200, (path, person.last_page)
            assert 'lang="zh-CN"' in person.last_page
    assert '<a href="/admin/reminders" aria-current="page">提醒</a>' in wang.last_page
    advisor = await console.browser("顾问张")
    await advisor.get("/admin/")
    assert 'href="/admin/reminders"' not in advisor.last_page
    for path in PAGES:
        response = await advisor.get(path)
        assert response.status == 403 and "没有权限" in advisor.last_page, path
    response = await advisor.post("/admin/reminders/new", rule_fields())
    assert response.status == 403
    response = await advisor.post("/admin/reminders/bind", {"kind": "rental_due"})
    assert response.status == 403
    signed_out = await console.browser()
    for path in PAGES:
        response = await signed_out.get(path)
        assert response.status == 303 and response.headers["Location"].startswith("/admin/login")
    rule_id = await new_rule(wang)
    response = await signed_out.post_raw(f"/admin/reminders/{rule_id}/submit", {"csrf": "x"})
    assert response.status == 403
    assert (await stored(console, rule_id)).state == RuleState.draft


async def test_a_rule_is_approved_by_a_colleague_never_by_its_last_editor(
    console: Console,
) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    rule_id = await new_rule(wang, then="submit")
    assert (await stored(console, rule_id)).state == RuleState.in_review
    await wang.get(f"/admin/reminders/{rule_id}")
    assert "要由另一位同事审核批准" in wang.last_page and ">批准<" not in wang.last_page
    response = await wang.post(f"/admin/reminders/{rule_id}/approve")
    assert response.status == 400 and "不能批准自己最后修改的规则" in wang.last_page
    assert (await stored(console, rule_id)).state == RuleState.in_review

    await li.get("/admin/reminders")
    assert f'href="/admin/reminders/{rule_id}"' in li.last_page and "待审核" in li.last_page
    await li.get(f"/admin/reminders/{rule_id}")
    response = await li.post(f"/admin/reminders/{rule_id}/approve")
    assert response.status == 303
    await li.get(response.headers["Location"])
    assert "已批准：规则生效" in li.last_page
    row = await stored(console, rule_id)
    assert row.state == RuleState.active and row.approved_by == "小李" and row.version == 1
    assert row.approved_at is not None

    # Paused, it sends nothing: what it had queued is withdrawn, to go again on resuming.
    await queue_one(console, rule_id)
    response = await li.post(f"/admin/reminders/{rule_id}/pause")
    assert response.status == 303
    assert response.headers["Location"].endswith("?done=pause&withdrawn=1")
    assert (await stored(console, rule_id)).state == RuleState.paused
    async with console.sessions() as session:
        queued = await session.scalar(select(OutboxRow).where(col(OutboxRow.rule_id) == rule_id))
    assert queued is None
    await li.get(response.headers["Location"])
    assert "已暂停：不再发送。已排队还没发出的 1 条提醒已撤回：恢复后会重新排队。" in li.last_page
    assert (await li.post(f"/admin/reminders/{rule_id}/resume")).status == 303
    assert (await stored(console, rule_id)).state == RuleState.active

    # Editing an active rule: a draft again, its next version, until someone approves it.
    await queue_one(console, rule_id)
    await wang.get(f"/admin/reminders/{rule_id}/edit")
    assert "保存修改后它会停止发送" in wang.last_page
    response = await wang.post(
        f"/admin/reminders/{rule_id}/edit", rule_fields(on_date="2026-12-19", then="submit")
    )
    assert response.status == 303
    assert response.headers["Location"].endswith("?done=submit&withdrawn=1")
    await wang.get(response.headers["Location"])
    assert (
        "已排队还没发出的 1 条提醒已撤回：规则重新批准后，会按新内容重新排队。"
        "已收到的居民不会重复收到。"
    ) in wang.last_page
    row = await stored(console, rule_id)
    assert (row.state, row.version, row.approved_by) == (RuleState.in_review, 2, None)
    assert row.on_date == date(2026, 12, 19)
    # Sent back, with the reason shown to the editor.
    await li.get(f"/admin/reminders/{rule_id}")
    response = await li.post(f"/admin/reminders/{rule_id}/send-back", {"comment": "  "})
    assert response.status == 400 and "退回时请写明原因" in li.last_page
    await li.get(f"/admin/reminders/{rule_id}")
    response = await li.post(
        f"/admin/reminders/{rule_id}/send-back", {"comment": "冬至是 12 月 21 日，请提前三天"}
    )
    assert response.status == 303
    await wang.get(f"/admin/reminders/{rule_id}")
    assert "审核意见：冬至是 12 月 21 日，请提前三天" in wang.last_page
    assert (await stored(console, rule_id)).state == RuleState.draft
    # Saving what is there already changes nothing and writes no audit row.
    await wang.get(f"/admin/reminders/{rule_id}/edit")
    response = await wang.post(
        f"/admin/reminders/{rule_id}/edit", rule_fields(on_date="2026-12-19")
    )
    assert response.headers["Location"].endswith("?done=unchanged")
    assert (await wang.post(f"/admin/reminders/{rule_id}/archive")).status == 303
    assert (await stored(console, rule_id)).state == RuleState.archived
    assert (await wang.get(f"/admin/reminders/{rule_id}/edit")).status == 400
    response = await wang.post(f"/admin/reminders/{rule_id}/submit")
    assert response.status == 400 and "只有草稿才能提交审核" in wang.last_page

    assert await actions_of(console, rule_id) == [
        ("reminder_rule_saved", "小王"),
        ("reminder_rule_submitted", "小王"),
        ("reminder_rule_approved", "小李"),
        ("reminder_rule_paused", "小李"),
        ("reminder_rule_resumed", "小李"),
        ("reminder_rule_saved", "小王"),
        ("reminder_rule_submitted", "小王"),
        ("reminder_rule_sent_back", "小李"),
        ("reminder_rule_archived", "小王"),
    ]
    await li.get("/admin/audit?action=reminder_rule_approved")
    assert "批准提醒规则" in li.last_page


async def test_mistakes_are_said_in_chinese_and_what_was_typed_stays(console: Console) -> None:
    wang = await console.browser("小王")
    await wang.get("/admin/reminders/new")
    cases = [
        (rule_fields(on_date=""), "on_date", "日历活动要填一个日期，或一个 cron 表达式"),
        (rule_fields(on_date="", cron="0 10 * *"), "cron", "cron 表达式有误"),
        (rule_fields(message="您今年{年龄}岁了"), "message", "只能用在“个人到期”或“年龄节点”"),
        (rule_fields(message="{姓名}您好"), "message", "不认识"),
        (rule_fields(kind="change"), "entry_id", "内容变化的规则要选一个条目"),
        (rule_fields(entry_id="no-such-entry"), "entry_id", "知识库里没有编号为 no-such-entry"),
        (rule_fields(send_at="25:00"), "send_at", "发送时间请写成 10:00 这样"),
        (rule_fields(name=""), "name", "请给规则起个名字"),
        (rule_fields(age_min="80", age_max="65"), "age_min", "起始岁数不能大于结束岁数"),
        (
            rule_fields(kind="due", fact_kind="rental_due", days_before="7"),
            "topic",
            "主题要选“辅具租赁到期”",
        ),
    ]
    for fields, field, message in cases:
        response = await wang.post("/admin/reminders/new", fields)
        page = shown_text(wang.last_page)
        assert response.status == 400, (field, page[-2000:])
        assert 'role="alert"' in page and message in page, (field, message)
        assert f'id="e-{field}"' in page, field
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', page), field
        # Nothing typed is lost: the name, the message, the towns ticked.
        assert fields["message"] in page
        assert 'value="岳阳街道" checked' in page and 'value="九亭镇">' in page
    async with console.sessions() as session:
        assert list(await session.scalars(select(ReminderRule))) == []
    assert await console.audit_count("reminder_rule_saved") == 0


async def test_the_preview_counts_who_gets_it_and_shows_the_very_text(console: Console) -> None:
    await resident(console, "a" * 32, town="岳阳街道", topics=("memorial",))
    await resident(console, "b" * 32, town="方松街道", topics=("memorial", "policy"))
    await resident(console, "c" * 32, town="九亭镇", topics=("memorial",))  # another town
    await resident(console, "d" * 32, town="岳阳街道", topics=("policy",))  # another topic
    wang = await console.browser("小王")
    rule_id = await new_rule(wang, entry_id="elder-meal-point")
    await wang.get(f"/admin/reminders/{rule_id}")
    page = shown_text(wang.last_page)
    assert "会收到的居民：<strong>2 位</strong>" in page
    expected = notification(
        Outgoing(
            id=0,
            channel="telegram",
            recipient_key="preview",
            text=MEMORIAL.replace("{街镇}", "岳阳街道"),
            topic="memorial",
            entry_id="elder-meal-point",
        )
    )
    assert f'<div class="bubble">{expected.text}</div>' in page
    for row in expected.buttons:
        for button in row:
            assert f'<span class="tg-button">{button.label}</span>' in page
    assert texts.SHOW_ENTRY in page and texts.UNSUBSCRIBE in page
    # The list shows the same audience.
    await wang.get("/admin/reminders")
    assert re.search(
        r"2026 年冬至祭扫预约</a></th>\s*<td>日历活动</td>\s*<td>祭扫安排", wang.last_page
    )
    assert "<td>2 位</td>" in wang.last_page


async def test_a_sensitive_reminder_is_not_spelled_out_in_the_notification(
    console: Console,
) -> None:
    due_on = moment(console).date() + timedelta(days=20)
    await resident(
        console, "e" * 32, sensitive=True, fact=("review_due", "review", due_on), topics=("review",)
    )
    await resident(console, "f" * 32, sensitive=True, topics=("review",))  # no review date bound
    wang = await console.browser("小王")
    message = "您的{物品}在{到期日}，还有{天数}天，请带好材料到社区事务受理服务中心。"
    rule_id = await new_rule(
        wang,
        kind="due",
        topic="review",
        fact_kind="review_due",
        days_before="30",
        message=message,
        on_date="",
        **{"town-1": "", "town-3": ""},
    )
    row = await stored(console, rule_id)
    assert row.on_date is None and row.towns == ""  # a due rule keeps no calendar fields
    await wang.get(f"/admin/reminders/{rule_id}")
    page = shown_text(wang.last_page)
    assert "会收到的居民：<strong>1 位</strong>" in page
    assert "您有一条民政提醒，请点开查看" in page
    sample = Outgoing(
        id=0,
        channel="telegram",
        recipient_key="preview",
        text="",
        topic="review",
        sensitive=True,
    )
    assert f'<div class="bubble">{notification(sample).text}</div>' in page
    shown_due = moment(console).date() + timedelta(days=30)
    filled = message.replace("{物品}", "低保复核").replace("{天数}", "30")
    filled = filled.replace("{到期日}", f"{shown_due.month}月{shown_due.day}日")
    assert details(sample).text == "" and f'<div class="bubble">{filled}</div>' in page
    # In the notification the words come only after the press.
    assert page.index(texts.SENSITIVE_NOTICE) < page.index(filled)
