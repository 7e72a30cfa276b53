"""``minzheng jobs …`` as an operator runs it: real processes over a real migrated database, with
residents and a rule made through the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col

from bot.database import engine_context, session_factory
from bot.migrate import current_revision, upgrade
from jobs import preferences
from jobs.leader import write_lease
from jobs.models import CaregiverLink, CareState, OutboxRow, ReminderRule, RuleRun, RuleState
from tests.conftest import TEST_SECRET_KEY

MINZHENG = str(Path(sys.executable).with_name("minzheng"))
# Pseudonymous keys as bot.keyring makes them (32 hex characters).
RESIDENT = "a1b2c3d4" + "5" * 24
CARER = "c0ffee00" + "6" * 24
ELSEWHERE = "e1e2e3e4" + "7" * 24
CONSENTED = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
# The campaign's day and time (10:00 in Shanghai), and five minutes later as an operator types.
ON = date(2024, 4, 1)
NOW = "2024-04-01T10:05"
MESSAGE = "清明祭扫预约已经开放，请提前预约。\n咨询电话：37009999"
HOLDER = "host-a:4242:abcdef"
STATE_NAMES = ("待发送", "发送中", "已送达", "稍后重试", "发送失败", "已取消")


def jobs(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MINZHENG_DATABASE_URL": database_url,
        "MINZHENG_SECRET_KEY": TEST_SECRET_KEY,
    }
    return subprocess.run(
        [MINZHENG, "jobs", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def prepare(database_url: str) -> int:
    """A resident subscribed to 祭扫安排 with a family member receiving copies, one resident
    subscribed to something else, an active campaign for 1 April and a draft rule."""
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            for key, topic in ((RESIDENT, "memorial"), (ELSEWHERE, "policy")):
                await preferences.consent(session, "telegram", key, CONSENTED)
                await preferences.set_topic(session, "telegram", key, topic, True, CONSENTED)
            session.add(
                CaregiverLink(
                    resident_channel="telegram",
                    resident_key=RESIDENT,
                    caregiver_channel="telegram",
                    caregiver_key=CARER,
                    label="妈妈",
                    state=CareState.active,
                    expires_at=CONSENTED + timedelta(days=1),
                    confirmed_at=CONSENTED,
                )
            )
            rule = ReminderRule(
                name="清明祭扫预约",
                kind="calendar",
                topic="memorial",
                message=MESSAGE,
                on_date=ON,
                send_at=10 * 60,
                state=RuleState.active,
                created_by="小王",
                updated_by="小王",
                approved_by="小李",
            )
            draft = ReminderRule(
                name="重阳节活动",
                kind="calendar",
                topic="elderly",
                message="重阳节活动",
                on_date=date(2024, 10, 11),
                created_by="小王",
                updated_by="小王",
            )
            session.add_all([rule, draft])
            await session.flush()
            assert rule.id is not None
            return rule.id


async def count(database_url: str, table: type[SQLModel]) -> int:
    async with engine_context(database_url) as engine, session_factory(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def lease(engine: AsyncEngine, **values: Any) -> None:
    """What a leader writes (``jobs.leader``), as the process ``HOLDER``."""
    async with session_factory(engine)() as session, session.begin():
        await write_lease(session, holder=HOLDER, **values)


def parsed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_a_dry_run_lists_who_gets_what_and_writes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    rule_id = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    result = jobs("run-due", "--now", NOW, "--dry-run", "--json", **run)
    data = parsed(result)
    assert data["now"] == "2024-04-01T10:05:00+08:00" and data["dry_run"] is True
    assert data["active_rules"] == 1 and data["recipients"] == 2
    assert (data["due"], data["queued"], data["already"]) == (2, 0, 0)
    [rule] = data["rules"]
    assert rule["rule_id"] == rule_id and rule["name"] == "清明祭扫预约"
    assert rule["kind"] == "calendar" and rule["topic"] == "memorial"
    assert rule["occurrences"] == ["2024-04-01"]
    assert (rule["queued"], rule["already"]) == (0, 0)
    resident, copy = rule["due"]
    assert resident == {
        "channel": "telegram",
        "recipient": RESIDENT[:8],
        "copy_of": None,
        "occurrence": "2024-04-01",
        "not_before": "2024-04-01T10:00:00+08:00",
        "text": MESSAGE,
        "sensitive": False,
        "already_queued": False,
    }
    assert copy["recipient"] == CARER[:8] and copy["copy_of"] == RESIDENT[:8]
    assert copy["text"] == f"【妈妈的提醒 · 家人副本】\n{MESSAGE}"
    assert copy["already_queued"] is False
    # Only the shortened pseudonyms are printed.
    for key in (RESIDENT, CARER, ELSEWHERE[:8]):
        assert key not in result.stdout

    text = jobs("run-due", "--now", NOW, "--dry-run", **run)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "评估时间：2024-04-01 10:05（Asia/Shanghai）；试运行，不写入数据库。" in out
    assert f"规则 #{rule_id} 清明祭扫预约（日历活动，话题：祭扫安排）" in out
    assert "场次：2024-04-01" in out
    line = next(line for line in out.splitlines() if RESIDENT[:8] in line and "新" in line)
    assert "Telegram" in line and "2024-04-01 10:00 起可发" in line
    assert "      清明祭扫预约已经开放，请提前预约。\n      咨询电话：37009999" in out
    assert f"{RESIDENT[:8]} 的家人副本" in out
    assert "共 2 条提醒（新 2 条，已排队 0 条），没有写入数据库" in out

    assert await count(database_url, OutboxRow) == 0
    assert await count(database_url, RuleRun) == 0


async def test_run_due_queues_once_and_says_who_sends(database_url: str, tmp_path: Path) -> None:
    rule_id = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    first = jobs("run-due", "--now", NOW, "--force", **run)
    assert first.returncode == 0, first.stderr
    assert "已排队 2 条新提醒（另有 0 条此前已排队）" in first.stdout
    assert "运行中的服务（minzheng serve）的调度器会在下次轮询时发送" in first.stdout
    async with engine_context(database_url) as engine, session_factory(engine)() as session:
        rows = list(await session.scalars(select(OutboxRow).order_by(col(OutboxRow.id))))
    assert [(r.rule_id, r.recipient_key, r.state, r.occurrence) for r in rows] == [
        (rule_id, RESIDENT, "pending", "2024-04-01"),
        (rule_id, CARER, "pending", "2024-04-01"),
    ]
    assert rows[0].text == MESSAGE
    assert await count(database_url, RuleRun) == 1

    # The occurrence has run: nothing more is due, however often it is asked.
    again = parsed(jobs("run-due", "--now", "2024-04-01T10:20", "--force", "--json", **run))
    assert (again["dry_run"], again["queued"], again["rules"]) == (False, 0, [])
    nothing = jobs("run-due", "--now", "2024-04-01T10:20", "--force", **run)
    assert "现在没有到期的提醒。" in nothing.stdout
    assert await count(database_url, OutboxRow) == 2

    # A dry run ignores what has run and tells what is already queued.
    dry = parsed(jobs("run-due", "--now", NOW, "--dry-run", "--json", **run))
    [rule] = dry["rules"]
    assert (dry["due"], dry["queued"], dry["already"]) == (2, 0, 2)
    assert [d["already_queued"] for d in rule["due"]] == [True, True]
    text = jobs("run-due", "--now", NOW, "--dry-run", **run)
    assert "共 2 条提醒（新 0 条，已排队 2 条）" in text.stdout
    assert "已排队" in next(line for line in text.stdout.splitlines() if RESIDENT[:8] in line)

    # An offset is honoured: 02:05 UTC is 10:05 in Shanghai.
    utc = parsed(jobs("run-due", "--now", "2024-04-01T02:05:00Z", "--dry-run", "--json", **run))
    assert utc["now"] == "2024-04-01T10:05:00+08:00" and utc["due"] == 2
    # Before its time the campaign is not due.
    early = parsed(jobs("run-due", "--now", "2024-04-01T09:59", "--dry-run", "--json", **run))
    assert early["rules"] == []


async def test_a_bad_now_is_refused_in_chinese(database_url: str, tmp_path: Path) -> None:
    await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    for value in ("tomorrow", "2024-13-01T10:00", ""):
        result = jobs("run-due", "--now", value, "--json", **run)
        assert result.returncode == 2, (value, result.stdout)
        assert result.stdout == ""
        assert "--now 要 ISO 8601 时间" in result.stderr and "2026-12-01T10:00" in result.stderr
        assert "Traceback" not in result.stderr
    assert await count(database_url, OutboxRow) == 0


async def test_only_a_dry_run_looks_at_another_time_unless_forced(
    database_url: str, tmp_path: Path
) -> None:
    """A run that writes records the day's due-date and age rules as run: at another moment the
    leader would skip that day's real evaluation."""
    rule_id = await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    present = datetime.now(UTC)
    for value in (NOW, (present + timedelta(minutes=6)).isoformat()):
        for json_too in ((), ("--json",)):
            refused = jobs("run-due", "--now", value, *json_too, **run)
            assert refused.returncode == 2, (value, refused.stdout)
            assert refused.stdout == "" and "Traceback" not in refused.stderr
            assert "只有试运行（--dry-run）才能查看别的时间" in refused.stderr
            assert "--force" in refused.stderr
    assert await count(database_url, OutboxRow) == 0
    assert await count(database_url, RuleRun) == 0
    # Now, give or take the moment it takes to type: no --force needed.
    for value in ((present - timedelta(minutes=4)).isoformat(), present.isoformat()):
        assert parsed(jobs("run-due", "--now", value, "--json", **run))["dry_run"] is False
    # The README's contract holds: a dry run looks at any time; forced, a run writes.
    assert parsed(jobs("run-due", "--now", NOW, "--dry-run", "--json", **run))["due"] == 2
    forced = parsed(jobs("run-due", "--now", NOW, "--force", "--json", **run))
    assert forced["queued"] == 2 and forced["rules"][0]["rule_id"] == rule_id
    assert await count(database_url, RuleRun) == 1


async def test_status_shows_the_outbox_the_rules_and_the_leader(
    database_url: str, tmp_path: Path
) -> None:
    await prepare(database_url)
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    assert jobs("run-due", "--now", NOW, "--force", **run).returncode == 0

    data = parsed(jobs("status", "--json", **run))
    assert data["outbox"] == {
        "pending": 2,
        "sending": 0,
        "sent": 0,
        "failed_temporary": 0,
        "failed_permanent": 0,
        "cancelled": 0,
    }
    assert data["oldest_due_at"] == "2024-04-01T10:00:00+08:00"
    now = datetime.fromisoformat(data["now"])
    assert now.utcoffset() == timedelta(hours=8)
    expected_lag = (now - datetime(2024, 4, 1, 2, 0, tzinfo=UTC)).total_seconds()
    assert abs(data["outbox_lag_seconds"] - expected_lag) < 1
    assert data["rules"] == {"draft": 1, "in_review": 0, "active": 1, "paused": 0, "archived": 0}
    assert data["scheduler"] == {
        "leader": None,
        "alive": False,
        "holder": None,
        "since": None,
        "heartbeat_at": None,
        "heartbeat_age_seconds": None,
        "next_tick_at": None,
        "next_purge_at": None,
        "last_evaluated_at": None,
        "last_drained_at": None,
    }

    text = jobs("status", **run)
    assert text.returncode == 0, text.stderr
    for name in STATE_NAMES:
        assert name in text.stdout, name
    assert "发件箱（共 2 条）" in text.stdout
    assert "生效中 1" in text.stdout and "草稿 1" in text.stdout
    assert "无人领导/可能已停止" in text.stdout
    assert "2024-04-01 10:00:00" in text.stdout  # the oldest due reminder, in Shanghai time

    # A leader with a fresh heartbeat.
    beat = datetime.now(UTC)
    async with engine_context(database_url) as engine:
        await lease(
            engine,
            now=beat,
            since=beat - timedelta(hours=1),
            next_tick_at=beat + timedelta(minutes=1),
            next_purge_at=beat + timedelta(hours=5),
            evaluated=True,
            drained=True,
        )
    led = parsed(jobs("status", "--json", **run))["scheduler"]
    assert led["leader"] == HOLDER and led["alive"] is True
    assert abs(datetime.fromisoformat(led["heartbeat_at"]) - beat) < timedelta(seconds=1)
    assert datetime.fromisoformat(led["since"]).utcoffset() == timedelta(hours=8)
    assert led["next_tick_at"] is not None and led["last_drained_at"] is not None
    shown = jobs("status", **run).stdout
    assert f"调度器：由 {HOLDER} 领导" in shown and "无人领导" not in shown
    assert "下次轮询：" in shown and "下次清理：" in shown

    # Its heartbeat stopped ten minutes ago.
    async with engine_context(database_url) as engine:
        old = beat - timedelta(minutes=10)
        await lease(engine, now=old, since=old)
    stale = parsed(jobs("status", "--json", **run))["scheduler"]
    assert stale["leader"] is None and stale["alive"] is False
    assert stale["holder"] == HOLDER and stale["heartbeat_age_seconds"] >= 600
    shown = jobs("status", **run).stdout
    assert f"无人领导/可能已停止（已 10 分钟没有心跳；最后领导的是 {HOLDER}）" in shown


async def test_no_command_migrates_a_database(database_url: str, tmp_path: Path) -> None:
    run: dict[str, Any] = {"database_url": database_url, "cwd": tmp_path}
    commands = (
        ("run-due",),
        ("run-due", "--dry-run", "--json"),
        ("status",),
        ("status", "--json"),
    )
    for args in commands:
        result = jobs(*args, **run)
        assert result.returncode == 1, (args, result.stdout)
        assert "数据库还没有建表" in result.stderr and "minzheng db upgrade" in result.stderr
        assert result.stdout == ""
    async with engine_context(database_url) as engine, engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    assert tables == []

    # A database a migration behind is refused too, and left as it was.
    async with engine_context(database_url) as engine:
        await upgrade(engine, "0010_escalations")
    for args in commands:
        result = jobs(*args, **run)
        assert result.returncode == 1, (args, result.stdout)
        assert "数据库不在最新的迁移" in result.stderr and "0010_escalations" in result.stderr
    async with engine_context(database_url) as engine:
        assert await current_revision(engine) == "0010_escalations"


def test_help_names_both_actions(tmp_path: Path) -> None:
    top = subprocess.run([MINZHENG, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert top.returncode == 0 and "jobs" in top.stdout
    group = subprocess.run(
        [MINZHENG, "jobs", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert group.returncode == 0
    assert "run-due" in group.stdout and "status" in group.stdout
    due = subprocess.run(
        [MINZHENG, "jobs", "run-due", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert due.returncode == 0
    for option in ("--now", "--dry-run", "--force", "--json"):
        assert option in due.stdout, option
    assert "more than 5 minutes from the present" in " ".join(due.stdout.split())
