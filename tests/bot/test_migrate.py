from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from subprocess import PIPE

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.database import engine_context
from bot.migrate import current_revision, downgrade, head_revision, upgrade
from bot.models import metadata


async def test_upgrade_on_an_empty_database_reaches_head(database_url: str) -> None:
    async with engine_context(database_url) as engine:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        # Running it again is a no-op, as `serve` does at every start.
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata()))

    async with engine_context(database_url) as engine:
        await upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}

    async with engine_context(database_url) as engine:
        await upgrade(engine)
        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        async with engine.connect() as connection:
            assert await connection.run_sync(tables) == set()
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()


async def test_replicas_upgrading_at_once_all_succeed(database_url: str) -> None:
    """Separate processes, as replicas are: on PostgreSQL the advisory lock serialises them, on
    SQLite the lock file does."""
    minzheng = str(Path(sys.executable).with_name("minzheng"))
    env = {"PATH": os.environ.get("PATH", ""), "MINZHENG_DATABASE_URL": database_url}
    processes = [
        await asyncio.create_subprocess_exec(
            minzheng, "db", "upgrade", "--json", env=env, stdout=PIPE, stderr=PIPE
        )
        for _ in range(4)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
        assert json.loads(stdout) == {"revision": head_revision()}


async def test_upgrades_at_once_in_one_process_take_turns(database_url: str) -> None:
    async def replica() -> str | None:
        async with engine_context(database_url) as engine:
            await upgrade(engine)
            return await current_revision(engine)

    revisions = await asyncio.gather(*(replica() for _ in range(4)))
    assert revisions == [head_revision()] * 4


def test_only_a_sqlite_url_has_a_file() -> None:
    from sqlalchemy.engine import make_url

    from bot.database import sqlite_file

    assert sqlite_file(make_url("sqlite+aiosqlite:///var/x.db")) == Path("var/x.db")
    assert sqlite_file(make_url("sqlite+aiosqlite:///:memory:")) is None
    # A PostgreSQL database name is not a file: no lock file beside it.
    assert sqlite_file(make_url("postgresql+asyncpg://u@h/minzheng_test_1")) is None
