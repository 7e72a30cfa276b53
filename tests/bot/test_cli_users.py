"""``minzheng users …`` as an operator runs it: real processes, passwords on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.console.models import AuditEvent
from bot.database import engine_context, session_factory

MINZHENG = str(Path(sys.executable).with_name("minzheng"))


def users(
    *args: str, database_url: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "MINZHENG_DATABASE_URL": database_url}
    return subprocess.run(
        [MINZHENG, "users", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_first_admin_and_the_account_commands(database_url: str, tmp_path: Path) -> None:
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    # Listing only reads: on a database never migrated it says so and changes nothing.
    empty = users("list", **run)
    assert empty.returncode == 1 and "db upgrade" in empty.stderr
    added = users("add", "管理员甲", "--role", "admin", stdin="a-long-admin-password\n", **run)
    assert added.returncode == 0, added.stderr
    assert "a-long-admin-password" not in added.stdout
    generated = users("add", "小王", "--role", "staff", "--json", **run)
    assert generated.returncode == 0, generated.stderr
    shown = json.loads(generated.stdout)
    assert shown["name"] == "小王" and len(shown["password"]) >= 10
    weak = users("add", "小李", "--role", "staff", stdin="1234567890\n", **run)
    assert weak.returncode == 1 and "太常见" in weak.stderr
    again = users("add", "小王", "--role", "staff", stdin="another-long-password\n", **run)
    assert again.returncode == 1 and "已经有了" in again.stderr
    assert users("disable", "小王", **run).returncode == 0
    assert users("set-role", "小王", "admin", **run).returncode == 0
    assert users("link-telegram", "小王", "123456789", **run).returncode == 0
    reset = users("reset-password", "小王", "--generate", "--json", **run)
    assert reset.returncode == 0 and len(json.loads(reset.stdout)["password"]) >= 10
    listed = json.loads(users("list", "--json", **run).stdout)
    assert [(u["name"], u["role"], u["disabled"], u["telegram_user_id"]) for u in listed] == [
        ("小王", "admin", True, 123456789),
        ("管理员甲", "admin", False, None),
    ]
    missing = users("disable", "nobody", **run)
    assert missing.returncode == 1 and "没有名为 nobody 的账号" in missing.stderr
    async with engine_context(database_url) as engine, session_factory(engine)() as session:
        events = (await session.execute(select(AuditEvent))).scalars().all()
    assert {e.actor for e in events} == {"cli"}
    assert [e.action for e in events] == [
        "user_created",
        "user_created",
        "user_disabled",
        "user_role_changed",
        "telegram_linked",
        "password_reset",
    ]
