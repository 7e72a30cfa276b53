"""Alembic, driven from the service: the only way the schema changes.

``upgrade`` runs on a connection of the service's own async engine. On PostgreSQL the upgrade
holds a transaction-scoped advisory lock, so replicas starting together apply each migration once:
the others wait, then find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# Any constant shared by every replica; "minz" in ASCII.
ADVISORY_LOCK_KEY = 0x6D696E7A


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_run, "upgrade", revision)
        await connection.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_run, "downgrade", revision)
        await connection.commit()


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)
