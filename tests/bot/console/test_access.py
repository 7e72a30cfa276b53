"""Signing in and out, lockout, sessions, CSRF and roles, over real HTTP."""

from __future__ import annotations

from bot.console.accounts import MAX_FAILURES
from tests.bot.console.conftest import PASSWORD, Console


async def test_signed_out_people_are_sent_to_the_sign_in_page(console: Console) -> None:
    browser = await console.browser()
    response = await browser.get("/admin")
    assert response.status == 308 and response.headers["Location"] == "/admin/"
    response = await browser.get("/admin/")
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login")
    response = await browser.get("/admin/login")
    assert response.status == 200
    assert "工作人员登录" in browser.last_page and 'lang="zh-CN"' in browser.last_page
    assert (
        "script" not in response.headers["Content-Security-Policy"].replace("script-src", "")
        or "'none'" in response.headers["Content-Security-Policy"]
    )


async def test_sign_in_sets_a_strict_http_only_cookie_and_returns_to_the_page(
    console: Console,
) -> None:
    browser = await console.browser()
    await browser.get("/admin/audit")
    response = await browser.sign_in("小王")
    assert response.status == 303
    cookie = response.cookies["mz_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
    assert not cookie["secure"]  # plain http here; MINZHENG_PUBLIC_URL=https://… sets it
    page = await browser.get("/admin/")
    assert page.status == 200 and "您好，小王" in browser.last_page
    assert await console.audit_count("login") == 1


async def test_a_wrong_password_is_refused_in_chinese_and_audited(console: Console) -> None:
    browser = await console.browser()
    response = await browser.sign_in("小王", "not-the-password")
    assert response.status == 401 and "账号或密码不对" in browser.last_page
    response = await browser.sign_in("nobody", "not-the-password")
    assert response.status == 401 and "账号或密码不对" in browser.last_page
    assert await console.audit_count("login_failed") == 2


async def test_five_failures_lock_the_account_for_fifteen_minutes(console: Console) -> None:
    browser = await console.browser()
    for attempt in range(MAX_FAILURES):
        response = await browser.sign_in("小李", f"wrong-password-{attempt}")
        assert response.status == 401
    assert "锁定 15 分钟" in browser.last_page
    # The right password no longer helps while the lock lasts.
    response = await browser.sign_in("小李", PASSWORD)
    assert response.status == 401 and "锁定" in browser.last_page
    assert await console.audit_count("login_locked") == 1
    assert await console.audit_count("login_failed") == MAX_FAILURES  # 4 wrong + 1 while locked
    # Other accounts are not locked.
    other = await console.browser()
    assert (await other.sign_in("小王")).status == 303


async def test_sign_out_and_sign_out_everywhere(console: Console) -> None:
    office = await console.browser("小王")
    home = await console.browser("小王")
    response = await office.post("/admin/logout")
    assert response.status == 303
    assert (await office.get("/admin/")).status == 303  # this browser is signed out
    assert (await home.get("/admin/")).status == 200  # the other is not
    again = await console.browser("小王")
    response = await again.post("/admin/logout-everywhere")
    assert response.status == 303
    assert (await home.get("/admin/")).status == 303
    assert await console.audit_count("logout_everywhere") == 1


async def test_a_post_without_the_token_or_from_elsewhere_is_refused(console: Console) -> None:
    browser = await console.browser("小王")
    response = await browser.post_raw("/admin/logout", {})
    assert response.status == 403 and "已过期" in browser.last_page
    response = await browser.post_raw("/admin/logout", {"csrf": "forged"})
    assert response.status == 403
    await browser.get("/admin/")
    token = browser.last_page.split('name="csrf" value="')[1].split('"')[0]
    response = await browser.post_raw(
        "/admin/logout", {"csrf": token}, headers={"Origin": "http://127.0.0.1:9999"}
    )
    assert response.status == 403
    # The sign-in form has its own token.
    outsider = await console.browser()
    response = await outsider.post_raw(
        "/admin/login", {"name": "小王", "password": PASSWORD, "login_csrf": "x"}
    )
    assert response.status == 403
    # Still signed in: none of the refused posts did anything.
    assert (await browser.get("/admin/")).status == 200
    assert await console.audit_count("logout") == 0


async def test_roles_reach_only_their_pages(console: Console) -> None:
    advisor = await console.browser("顾问张")
    staff = await console.browser("小王")
    admin = await console.browser("管理员甲")
    for path in ("/admin/users", "/admin/audit", "/admin/audit.csv"):
        response = await advisor.get(path)
        assert response.status == 403 and "没有权限" in advisor.last_page, path
    assert (await staff.get("/admin/users")).status == 403
    assert (await staff.get("/admin/audit")).status == 200
    assert (await admin.get("/admin/users")).status == 200
    # A role without the right cannot change anything either.
    response = await staff.post("/admin/users/顾问张/disable")
    assert response.status == 403
    assert await console.audit_count("user_disabled") == 0


async def test_unknown_console_pages_answer_in_chinese(console: Console) -> None:
    browser = await console.browser("小王")
    response = await browser.get("/admin/no-such-page")
    assert response.status == 404 and "没有这个地址" in browser.last_page


async def test_numbers_in_addresses_and_forms_that_are_no_numbers(console: Console) -> None:
    # '²' passes str.isdigit() and int('²') fails; 5,000 digits pass it and int() refuses them.
    browser = await console.browser("小王")
    for odd in ("²", "7" * 5000, "١٢"):
        for path in (
            f"/admin/kb?page={odd}",
            f"/admin/audit?page={odd}",
            f"/admin/unanswered?days={odd}&page={odd}",
            f"/admin/data?days={odd}",
            f"/admin/kb/elder-meal-point/history?a={odd}&b={odd}",
            f"/admin/synonyms/drafts/{odd}",
        ):
            response = await browser.get(path)
            # (400: aiohttp's own answer to an address of 5,000 digits, past its line limit)
            assert response.status in (200, 400, 404), (path[:60], response.status)
        await browser.get("/admin/kb")
        for path, data in (
            ("/admin/kb/elder-meal-point/rollback", {"version": odd}),
            (f"/admin/synonyms/drafts/{odd}/submit", {}),
            ("/admin/unanswered/dismiss", {"days": odd, "key": "x"}),
        ):
            response = await browser.post(path, data)
            assert response.status in (303, 400, 404), (path, response.status)
