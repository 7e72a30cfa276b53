"""提醒, what happened to them, over real HTTP: the send history, the opt-outs per topic, bind
codes a resident then redeems, and 通知订阅者 when an entry is republished."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.console.models import AuditEvent
from jobs import codes, evaluate, preferences
from jobs.models import BindCode, ChangeNotice, OutboxRow, OutboxState, RuleState
from tests.bot.console.conftest import Console
from tests.bot.console.test_knowledge_pages import ENTRY, edit
from tests.bot.console.test_reminder_pages import (
    moment,
    new_rule,
    resident,
    stored,
)

KEY = "0123456789abcdef0123456789abcdef"


async def test_the_send_history_counts_by_state_and_never_names_a_resident(
    console: Console,
) -> None:
    wang = await console.browser("小王")
    rule_id = await new_rule(wang)
    now = moment(console)
    states = [OutboxState.sent, OutboxState.sent, OutboxState.failed_permanent]
    async with console.sessions() as session, session.begin():
        for n, state in enumerate(states):
            session.add(
                OutboxRow(
                    rule_id=rule_id,
                    occurrence="2026-12-18",
                    channel="telegram",
                    recipient_key=f"{n}{KEY[1:]}",
                    topic="memorial",
                    text="冬至祭扫请提前预约",
                    state=state,
                    attempts=1 if state == OutboxState.sent else 3,
                    error="居民已屏蔽本助手" if state == OutboxState.failed_permanent else None,
                    not_before=now,
                    expires_at=now + timedelta(days=3),
                    sent_at=now if state == OutboxState.sent else None,
                    updated_at=now,
                )
            )
    for path in ("/admin/reminders/history", f"/admin/reminders/history?rule={rule_id}"):
        response = await wang.get(path)
        assert response.status == 200
        page = wang.last_page
        counts = re.search(r"冬至祭扫预约</a></th><td>2026-12-18</td>(.*?)</tr>", page, re.S)
        assert counts, page
        cells = re.findall(r"<td>(\d+)</td>", counts.group(1))
        # 待发送 发送中 已送达 稍后重试 发送失败 已取消, then the total.
        assert cells == ["0", "0", "2", "0", "1", "0", "3"]
        assert page.count("<td>已送达</td>") == 2 and "<td>发送失败</td>" in page
        assert "居民已屏蔽本助手" in page
        # Only the first characters of the pseudonymous key, never the key or the text.
        assert "<td>012345…" in page and KEY not in page and "冬至祭扫请提前预约" not in page
    await wang.get("/admin/reminders/history?rule=999999")
    assert "还没有排队或发出的提醒" in wang.last_page


async def test_opt_outs_are_counted_per_topic(console: Console) -> None:
    await resident(console, "a" * 32, topics=("memorial", "policy"))
    await resident(console, "b" * 32, topics=("memorial",))
    await resident(console, "c" * 32, topics=("memorial",))
    async with console.sessions() as session, session.begin():
        await preferences.set_topic(
            session, "telegram", "c" * 32, "memorial", False, moment(console)
        )
    wang = await console.browser("小王")
    assert (await wang.get("/admin/reminders/optouts")).status == 200
    page = wang.last_page
    assert "同意接收提醒的居民：3 位" in page
    assert re.search(r"祭扫安排</th><td>2</td><td>1</td>", page)
    assert re.search(r"政策更新</th><td>1</td><td>0</td>", page)
    assert re.search(r"低保、特困复核<br><small>涉及困难救助[^<]*</small></th><td>0</td>", page)


async def test_a_bind_code_is_shown_once_and_the_resident_redeems_it(console: Console) -> None:
    wang = await console.browser("小王")
    await wang.get("/admin/reminders/bind")
    due_on = moment(console).date() + timedelta(days=60)
    response = await wang.post(
        "/admin/reminders/bind",
        {"kind": "rental_due", "due_on": due_on.isoformat(), "label": "轮椅"},
    )
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    found = re.search(r"/bind (\d{4} \d{4})", wang.last_page)
    assert found, wang.last_page
    code = found.group(1)
    assert f"请居民在 Telegram 上给松江民政助手发送 /bind {code}" in wang.last_page
    # The list names what it is for, never the code; the log keeps neither code nor hash.
    await wang.get("/admin/reminders/bind")
    assert code not in wang.last_page and code.replace(" ", "") not in wang.last_page
    assert re.search(r"<td>小王</td><td>辅具租赁到期</td><td>轮椅</td>", wang.last_page)
    assert "<td>未使用</td>" in wang.last_page
    async with console.sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(col(AuditEvent.action) == "bind_code_created")
        )
        stored_code = await session.scalar(select(BindCode))
    assert event is not None and event.actor == "小王" and event.after is not None
    assert event.after["label"] == "轮椅" and event.after["due_on"] == due_on.isoformat()
    assert stored_code is not None
    logged = f"{event.target_id} {event.after} {event.note}"
    assert code.replace(" ", "") not in logged and stored_code.id[:12] not in logged

    now = moment(console)
    async with console.sessions() as session, session.begin():
        await preferences.consent(session, "telegram", KEY, now)
        redeemed = await codes.redeem(
            session, channel="telegram", user_key=KEY, typed=code, now=now
        )
    assert redeemed.result is codes.Redeemed.bound
    assert redeemed.fact is not None and redeemed.fact.due_on == due_on
    await wang.get("/admin/reminders/bind")
    assert "已使用（" in wang.last_page


async def test_a_bind_code_form_with_mistakes_keeps_what_was_typed(console: Console) -> None:
    wang = await console.browser("小王")
    await wang.get("/admin/reminders/bind")
    yesterday = moment(console).date() - timedelta(days=1)
    response = await wang.post(
        "/admin/reminders/bind",
        {"kind": "review_due", "due_on": yesterday.isoformat(), "label": ""},
    )
    assert response.status == 400
    page = wang.last_page
    assert "这个日期已经过了" in page and "请写明是什么" in page and 'role="alert"' in page
    assert f'value="{yesterday.isoformat()}"' in page
    assert '<option value="review_due" selected>复核月份</option>' in page
    response = await wang.post("/admin/reminders/bind", {"kind": "nothing", "due_on": "明天"})
    assert response.status == 400 and "请选择类别" in wang.last_page
    assert "日期请写成" in wang.last_page
    assert await console.audit_count("bind_code_created") == 0


async def test_republishing_with_notify_subscribers_records_a_change_notice(
    console: Console,
) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    await resident(console, "a" * 32, topics=("meals",))
    # A change rule pointing at the entry, approved by a second person.
    rule_id = await new_rule(
        wang,
        name="助餐点调整",
        kind="change",
        topic="meals",
        entry_id=ENTRY,
        on_date="",
        message="老年助餐点有调整，请点下面查看。",
        then="submit",
        **{"town-1": "", "town-3": ""},
    )
    await li.get(f"/admin/reminders/{rule_id}")
    assert (await li.post(f"/admin/reminders/{rule_id}/approve")).status == 303
    assert (await stored(console, rule_id)).state == RuleState.active

    fields = await edit(wang, ENTRY, answer="助餐点春节期间暂停三天，其余照常。")
    assert (await wang.post(f"/admin/kb/{ENTRY}/edit", {**fields, "then": "submit"})).status == 303
    await li.get(f"/admin/kb/{ENTRY}")
    assert 'name="notify" value="1"' in li.last_page and "通知订阅者" in li.last_page
    # Not with a publish for later: the notice would go before the change.
    later = (moment(console) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = await li.post(f"/admin/kb/{ENTRY}/approve", {"publish_at": later, "notify": "1"})
    assert response.status == 400 and "定时发布时不能同时通知订阅者" in li.last_page
    await li.get(f"/admin/kb/{ENTRY}")
    response = await li.post(f"/admin/kb/{ENTRY}/approve", {"publish_at": "", "notify": "1"})
    assert response.status == 303 and response.headers["Location"].endswith("done=notified")
    await li.get(response.headers["Location"])
    assert "订阅这条内容的居民会收到提醒" in li.last_page
    async with console.sessions() as session:
        notices = list(await session.scalars(select(ChangeNotice)))
        due = await evaluate.run_due(
            session, now=moment(console), tz=console.client.app[keys.SETTINGS].tz, dry_run=True
        )
    assert [(n.subject, n.ref, n.version, n.created_by) for n in notices] == [
        ("entry", ENTRY, 2, "小李")
    ]
    assert [(d.rule_id, d.recipient_key) for d in due.due] == [(rule_id, "a" * 32)]
    assert await console.audit_count("change_notice_recorded") == 1
    assert await console.audit_count("entry_published") == 1


async def test_publishing_without_the_box_ticked_notifies_no_one(console: Console) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    fields = await edit(wang, ENTRY, answer="助餐点的开放时间以各点公示为准。")
    assert (await wang.post(f"/admin/kb/{ENTRY}/edit", {**fields, "then": "submit"})).status == 303
    await li.get(f"/admin/kb/{ENTRY}")
    assert (await li.post(f"/admin/kb/{ENTRY}/approve", {"publish_at": ""})).status == 303
    async with console.sessions() as session:
        assert list(await session.scalars(select(ChangeNotice))) == []
    assert await console.audit_count("change_notice_recorded") == 0
    # A rule's form can start from the entry.
    await wang.get(f"/admin/reminders/new?entry={ENTRY}")
    assert f'id="f-entry_id" name="entry_id" value="{ENTRY}"' in wang.last_page
