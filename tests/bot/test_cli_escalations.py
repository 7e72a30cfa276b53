"""``minzheng escalations …`` as an operator runs it: real processes over cases made through the
Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console import accounts
from bot.console.models import AuditEvent, Role
from bot.database import engine_context, session_factory
from bot.escalations.callbacks import share_phone
from bot.escalations.models import Escalation, EscalationMessage
from bot.escalations.service import Advisor, Cases
from bot.keyring import KeyRing
from bot.migrate import upgrade
from tests.conftest import TEST_SECRET_KEY

MINZHENG = str(Path(sys.executable).with_name("minzheng"))
# 09:30 in Shanghai.
T0 = datetime(2024, 5, 6, 1, 30, tzinfo=UTC)
PHONE = "13812345678"


def escalations(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MINZHENG_DATABASE_URL": database_url,
        "MINZHENG_SECRET_KEY": TEST_SECRET_KEY,
    }
    return subprocess.run(
        [MINZHENG, "escalations", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def prepare(database_url: str) -> dict[str, int]:
    """Four cases: #1 claimed by 小王 with a transcript and a phone callback, #2 and #3 waiting
    (#3 opened earlier than #2), #4 closed by an advisor."""
    cases = Cases(keyring=KeyRing(TEST_SECRET_KEY), desk_enabled=False)
    minute = timedelta(minutes=1)

    async def opened(
        session: AsyncSession, channel: str, user: str, need: str, town: str, at: datetime
    ) -> Escalation:
        return await cases.open(
            session,
            channel=channel,
            user_key=user,
            chat_id="1001" if channel == "telegram" else None,
            need=need,
            topic="养老服务",
            town=town,
            context={},
            now=at,
        )

    async with engine_context(database_url) as engine:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            wang = await accounts.add_user(
                session, name="小王", role=Role.advisor, password="a-long-advisor-pass", actor="t"
            )
            li = await accounts.add_user(
                session, name="小李", role=Role.advisor, password="another-long-pass", actor="t"
            )
            assert wang.id is not None and li.id is not None
            first = await opened(session, "telegram", "r1", "想问问助餐点的优惠", "岳阳街道", T0)
            second = await opened(session, "web", "r2", "低保怎么申请", "泗泾镇", T0 + 10 * minute)
            third = await opened(session, "telegram", "r3", "租轮椅", "九亭镇", T0 + 5 * minute)
            fourth = await opened(session, "web", "r4", "办结婚登记", "新桥镇", T0 + minute)
            assert first.id and second.id and third.id and fourth.id
            advisor = Advisor(wang.id, wang.name)
            claimed = await cases.claim(session, first.id, advisor, now=T0 + 20 * minute)
            assert claimed.won
            await cases.from_resident(
                session,
                first,
                kind="text",
                text="我今年七十二岁",
                source=(1001, 1),
                now=T0 + 25 * minute,
            )
            await cases.from_resident(
                session, first, kind="photo", text=None, source=(1001, 2), now=T0 + 26 * minute
            )
            await cases.from_advisor(
                session,
                first.id,
                advisor,
                text="您可以到社区事务受理服务中心申请",
                via="console",
                now=T0 + 30 * minute,
            )
            await share_phone(cases, session, first, PHONE, now=T0 + 31 * minute)
            await cases.claim(session, fourth.id, Advisor(li.id, li.name), now=T0 + 2 * minute)
            await cases.close(session, fourth.id, by="advisor", actor="小李", now=T0 + 3 * minute)
            return {
                "wang": wang.id,
                "first": first.id,
                "second": second.id,
                "third": third.id,
                "fourth": fourth.id,
            }


async def test_list_views_text_and_json(database_url: str, tmp_path: Path) -> None:
    ids = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}

    def listed(*args: str) -> list[dict[str, Any]]:
        result = escalations("list", "--json", *args, **run)
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    every = listed()
    # Newest first by default.
    assert [r["id"] for r in every] == [ids["fourth"], ids["third"], ids["second"], ids["first"]]
    first = every[-1]
    assert first["state"] == "claimed" and first["state_name"] == "处理中"
    assert first["town"] == "岳阳街道" and first["channel"] == "telegram"
    assert first["need"] == "想问问助餐点的优惠" and first["advisor_id"] == ids["wang"]
    assert first["opened_at"] == "2024-05-06T09:30:00+08:00"
    assert first["claimed_at"] == "2024-05-06T09:50:00+08:00"
    assert first["first_reply_at"] == "2024-05-06T10:00:00+08:00"
    assert first["callback"]["phone"] is None
    assert every[0]["state"] == "closed" and every[0]["closed_by"] == "advisor"
    # Waiting: who waited longest comes first.
    assert [r["id"] for r in listed("--view", "waiting")] == [ids["third"], ids["second"]]
    assert [r["id"] for r in listed("--view", "active")] == [ids["first"]]
    assert [r["id"] for r in listed("--view", "closed")] == [ids["fourth"]]
    assert [r["id"] for r in listed("--view", "mine", "--advisor", "小王")] == [ids["first"]]
    assert [r["id"] for r in listed("--advisor", "小王")] == [ids["first"]]
    assert listed("--view", "mine", "--advisor", "小李") == []
    assert [r["id"] for r in listed("--limit", "2")] == [ids["fourth"], ids["third"]]

    text = escalations("list", **run)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["案件号", "状态", "街镇", "事由", "提出时间", "负责人", "渠道"]
    row = next(line for line in lines if line.startswith(f"#{ids['first']} "))
    expected = ("处理中", "岳阳街道", "想问问助餐点的优惠", "2024-05-06 09:30", "小王", "Telegram")
    for value in expected:
        assert value in row, (value, row)
    assert "全部：共 4 个案件" in text.stdout
    assert PHONE not in text.stdout
    limited = escalations("list", "--limit", "1", **run)
    assert "共 4 个案件，这里列出 1 个" in limited.stdout
    nothing = escalations("list", "--view", "mine", "--advisor", "小李", **run)
    assert nothing.returncode == 0 and "没有案件" in nothing.stdout

    unknown = escalations("list", "--view", "mine", "--advisor", "nobody", **run)
    assert unknown.returncode == 1 and "没有名为 nobody 的账号" in unknown.stderr
    lonely = escalations("list", "--view", "mine", **run)
    assert lonely.returncode == 2 and "--advisor" in lonely.stderr
    mixed = escalations("list", "--view", "waiting", "--advisor", "小王", **run)
    assert mixed.returncode == 2


async def test_show_prints_the_case_and_its_transcript_without_the_phone(
    database_url: str, tmp_path: Path
) -> None:
    ids = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    shown = escalations("show", str(ids["first"]), "--json", **run)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert set(data) == {"case", "messages"}
    assert data["case"]["id"] == ids["first"] and data["case"]["callback"]["phone"] is None
    assert [(m["author"], m["kind"]) for m in data["messages"]] == [
        ("resident", "text"),
        ("system", "claimed"),
        ("resident", "text"),
        ("resident", "photo"),
        ("advisor", "text"),
    ]
    assert data["messages"][2]["text"] == "我今年七十二岁"
    assert data["messages"][4]["staff_id"] == ids["wang"]
    assert PHONE not in shown.stdout

    text = escalations("show", str(ids["first"]), **run)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert f"案件 #{ids['first']}  处理中" in out
    assert "负责人：小王" in out and "岳阳街道" in out
    assert "对话记录（5 条）" in out
    assert "居民：我今年七十二岁" in out and "[图片]" in out
    assert "顾问 小王" in out and "您可以到社区事务受理服务中心申请" in out
    assert "已接手您的问题" in out
    assert "电话回访" in out and PHONE not in out

    missing = escalations("show", "999", **run)
    assert missing.returncode == 1 and missing.stdout == ""
    assert "没有案件 #999" in missing.stderr
    assert "Traceback" not in missing.stderr


async def test_close_then_close_again_is_audited(database_url: str, tmp_path: Path) -> None:
    ids = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    closed = escalations("close", str(ids["first"]), "--note", "已电话答复", **run)
    assert closed.returncode == 0, closed.stderr
    assert f"案件 #{ids['first']} 已结案" in closed.stdout
    assert "居民和顾问群的通知将由运行中的服务发送" in closed.stdout
    assert "已结案" in closed.stdout and "命令行" in closed.stdout
    assert PHONE not in closed.stdout

    again = escalations("close", str(ids["first"]), **run)
    assert again.returncode == 1 and again.stdout == ""
    assert "已经结案" in again.stderr

    as_json = escalations("close", str(ids["second"]), "--json", **run)
    assert as_json.returncode == 0, as_json.stderr
    case = json.loads(as_json.stdout)
    assert case["id"] == ids["second"] and case["state"] == "closed"
    assert case["closed_by"] == "cli" and case["closed_at"] is not None

    missing = escalations("close", "999", **run)
    assert missing.returncode == 1 and "没有案件 #999" in missing.stderr

    async with engine_context(database_url) as engine, session_factory(engine)() as session:
        events = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(col(AuditEvent.action) == "escalation_closed")
                    .order_by(col(AuditEvent.id))
                )
            )
            .scalars()
            .all()
        )
        first = await session.get(Escalation, ids["first"])
        notices = (
            (
                await session.execute(
                    select(EscalationMessage).where(
                        col(EscalationMessage.escalation_id) == ids["first"],
                        col(EscalationMessage.kind) == "closed",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(e.actor, e.target_id, e.note) for e in events] == [
        ("小李", str(ids["fourth"]), "advisor"),
        ("cli", str(ids["first"]), "cli"),  # the note stays on the case, not in the log
        ("cli", str(ids["second"]), "cli"),
    ]
    assert first is not None and first.closed_by == "cli" and first.close_note == "已电话答复"
    # The number was for the callback only; the resident's notice waits for the running service.
    assert first.phone_sealed is None
    assert [(n.text, n.to_resident) for n in notices] == [("养老顾问已结束本次服务。", "pending")]


async def test_no_command_migrates_a_database_without_tables(
    database_url: str, tmp_path: Path
) -> None:
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    for args in (("list",), ("list", "--json"), ("show", "1"), ("close", "1")):
        result = escalations(*args, **run)
        assert result.returncode == 1, (args, result.stdout)
        assert "minzheng db upgrade" in result.stderr and result.stdout == ""
    async with engine_context(database_url) as engine, engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    assert tables == []


def test_help_names_every_subcommand(tmp_path: Path) -> None:
    top = subprocess.run([MINZHENG, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert top.returncode == 0 and "escalations" in top.stdout
    group = subprocess.run(
        [MINZHENG, "escalations", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert group.returncode == 0
    for action in ("list", "show", "close"):
        assert action in group.stdout
    close = subprocess.run(
        [MINZHENG, "escalations", "close", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    flat = "".join(close.stdout.split())
    assert "居民和顾问群的通知将由运行中的服务发送" in flat and "15s" in flat
