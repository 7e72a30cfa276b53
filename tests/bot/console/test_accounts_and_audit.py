"""Accounts managed in the console, and the audit log every change writes to."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.console import accounts, staff_sessions
from bot.console.accounts import LOCK_FOR, MAX_FAILURES, AccountError, password_problem
from bot.console.models import AuditEvent, Role
from bot.conversation.models import utcnow
from tests.bot.console.conftest import PASSWORD, Console


async def test_an_admin_creates_an_account_whose_password_is_shown_once(
    console: Console,
) -> None:
    admin = await console.browser("管理员甲")
    await admin.get("/admin/users")
    before = await console.audit_count()
    response = await admin.post("/admin/users", {"name": "新同事", "role": "staff"})
    assert response.status == 200
    password = re.search(r'<code class="secret">([^<]+)</code>', admin.last_page)
    assert password and "只显示这一次" in admin.last_page
    assert await console.audit_count() == before + 1
    newcomer = await console.browser()
    assert (await newcomer.sign_in("新同事", password.group(1))).status == 303
    # The list shows no password afterwards.
    await admin.get("/admin/users")
    assert password.group(1) not in admin.last_page


async def test_every_change_writes_exactly_one_audit_row(console: Console) -> None:
    admin = await console.browser("管理员甲")
    await admin.get("/admin/users")
    changes = [
        ("/admin/users/小李/disable", {}, "user_disabled"),
        ("/admin/users/小李/enable", {}, "user_enabled"),
        ("/admin/users/小李/role", {"role": "admin"}, "user_role_changed"),
        ("/admin/users/小李/reset-password", {}, "password_reset"),
    ]
    for path, data, action in changes:
        before = await console.audit_count()
        response = await admin.post(path, data)
        assert response.status in (200, 303), admin.last_page
        assert await console.audit_count() == before + 1, path
        assert await console.audit_count(action) == 1, action
    async with console.sessions() as session:
        role_change = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "user_role_changed")  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert role_change.actor == "管理员甲" and role_change.target_id == "小李"
    assert role_change.before and role_change.before["role"] == "staff"
    assert role_change.after and role_change.after["role"] == "admin"


async def test_disabling_an_account_ends_its_sessions(console: Console) -> None:
    colleague = await console.browser("小李")
    admin = await console.browser("管理员甲")
    await admin.get("/admin/users")
    assert (await admin.post("/admin/users/小李/disable")).status == 303
    assert (await colleague.get("/admin/")).status == 303
    refused = await console.browser()
    response = await refused.sign_in("小李")
    assert response.status == 401 and "已停用" in refused.last_page


async def test_an_admin_cannot_lock_themselves_out(console: Console) -> None:
    admin = await console.browser("管理员甲")
    await admin.get("/admin/users")
    response = await admin.post("/admin/users/管理员甲/disable")
    assert response.status == 400 and "不能停用自己" in admin.last_page
    assert await console.audit_count("user_disabled") == 0


async def test_changing_ones_own_password(console: Console) -> None:
    browser = await console.browser("小王")
    await browser.get("/admin/account")
    response = await browser.post(
        "/admin/account/password", {"current": "wrong", "new": "x" * 12, "again": "x" * 12}
    )
    assert response.status == 400 and "现在的密码不对" in browser.last_page
    await browser.get("/admin/account")
    response = await browser.post(
        "/admin/account/password", {"current": PASSWORD, "new": "short", "again": "short"}
    )
    assert response.status == 400 and "至少要 10 个字符" in browser.last_page
    await browser.get("/admin/account")
    new = "a-new-password-for-wang"
    response = await browser.post(
        "/admin/account/password", {"current": PASSWORD, "new": new, "again": new}
    )
    assert response.status == 303
    assert (await browser.get("/admin/")).status == 303  # signed out: sign in again
    assert (await browser.sign_in("小王", new)).status == 303
    assert await console.audit_count("password_changed") == 1


async def test_the_audit_page_filters_and_exports_csv(console: Console) -> None:
    browser = await console.browser("小王")
    failed = await console.browser()
    await failed.sign_in("小李", "wrong-password-x")
    await browser.get("/admin/audit?action=login_failed")
    assert "登录失败" in browser.last_page and "小李" in browser.last_page
    assert "共 1 条" in browser.last_page
    response = await browser.get("/admin/audit?since=not-a-date")
    assert response.status == 200 and "日期请写成" in browser.last_page
    response = await browser.get("/admin/audit.csv?actor=小李")
    assert response.status == 200 and response.content_type == "text/csv"
    text = (await response.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["时间", "操作人", "操作"]
    assert [row[1] for row in rows[1:]] == ["小李"] and rows[1][2] == "登录失败"


def test_password_rules() -> None:
    assert password_problem("short") is not None
    assert password_problem("1234567890") is not None  # long enough, and the first guess
    assert password_problem("aaaaaaaaaaaa") is not None
    assert password_problem("QwertyUIOP") is not None
    assert password_problem("a-long-and-unusual-one") is None


@pytest.mark.parametrize("name", ["", "a", "x" * 33, "有 空格", "<script>", "名字/斜杠"])
async def test_account_names_are_plain(console: Console, name: str) -> None:
    async with console.sessions() as session, session.begin():
        with pytest.raises(AccountError):
            await accounts.add_user(
                session, name=name, role=Role.staff, password=PASSWORD, actor="test"
            )


async def test_a_lock_passes_after_fifteen_minutes_and_sessions_idle_out(
    console: Console,
) -> None:
    start = utcnow()
    async with console.sessions() as session, session.begin():
        for n in range(MAX_FAILURES):
            result = await accounts.authenticate(
                session, name="小王", password="wrong", ip=None, now=start + timedelta(seconds=n)
            )
        assert result.user is None and result.refusal == accounts.LOCKED
        later = start + LOCK_FOR + timedelta(seconds=MAX_FAILURES + 1)
        result = await accounts.authenticate(
            session, name="小王", password=PASSWORD, ip=None, now=later
        )
        assert result.user is not None
        token = await staff_sessions.start(session, result.user, later)
        await session.flush()
        assert await staff_sessions.resolve(session, token, later + timedelta(hours=7))
        idle = later + timedelta(hours=7) + staff_sessions.IDLE_TIMEOUT + timedelta(minutes=1)
        assert await staff_sessions.resolve(session, token, idle) is None


async def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(
    console: Console,
) -> None:
    start = utcnow()
    async with console.sessions() as session, session.begin():
        for n in range(MAX_FAILURES + 2):
            result = await accounts.authenticate(
                session,
                name="小王",
                password="wrong",
                ip=None,
                now=start + timedelta(minutes=5 * n),
            )
            assert result.refusal == accounts.WRONG, n
