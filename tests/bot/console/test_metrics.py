"""/metrics reads the reminders' outbox from the database when scraped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from jobs.models import OutboxRow, OutboxState
from tests.conftest import AppClient


async def test_metrics_show_the_outbox_by_state_and_its_lag(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url)
    client = await app_client(create_app(settings))
    await client.app[keys.DATABASE_STATE].migrated.wait()
    now = datetime.now(settings.tz)
    states = [
        (OutboxState.pending, now - timedelta(minutes=10)),  # the longest waiting
        (OutboxState.pending, now - timedelta(minutes=1)),
        (OutboxState.pending, now + timedelta(hours=1)),  # not due yet: no lag
        (OutboxState.failed_temporary, now - timedelta(minutes=5)),
        (OutboxState.sent, now - timedelta(hours=2)),  # done: no lag
        (OutboxState.cancelled, now - timedelta(hours=3)),
    ]
    async with client.app[keys.SESSIONS]() as session, session.begin():
        for i, (state, not_before) in enumerate(states):
            session.add(
                OutboxRow(
                    rule_id=1,
                    occurrence="2024-04-01",
                    channel="telegram",
                    recipient_key=f"resident-{i}",
                    topic="memorial",
                    text="清明祭扫预约已经开放",
                    state=state,
                    not_before=not_before,
                    expires_at=now + timedelta(days=3),
                )
            )

    text = await (await client.get("/metrics")).text()
    expected = {
        "pending": 3,
        "sending": 0,
        "sent": 1,
        "failed_temporary": 1,
        "failed_permanent": 0,
        "cancelled": 1,
    }
    for code, n in expected.items():
        assert f'minzheng_reminder_outbox{{state="{code}"}} {n:.1f}' in text, code
    [lag_line] = [
        line
        for line in text.splitlines()
        if line.startswith("minzheng_reminder_outbox_lag_seconds ")
    ]
    lag = float(lag_line.split()[1])
    assert 600 <= lag < 660


async def test_an_empty_outbox_has_no_lag(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    client = await app_client(create_app(make_settings(database_url=database_url)))
    await client.app[keys.DATABASE_STATE].migrated.wait()
    text = await (await client.get("/metrics")).text()
    assert 'minzheng_reminder_outbox{state="pending"} 0.0' in text
    assert "minzheng_reminder_outbox_lag_seconds 0.0" in text
