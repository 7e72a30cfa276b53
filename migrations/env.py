"""Alembic environment: migrations run on a connection the service hands in.

Run from the ``alembic`` command line (e.g. ``alembic revision --autogenerate``), it connects to
``MINZHENG_DATABASE_URL`` itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text

from bot.migrate import ADVISORY_LOCK_KEY
from bot.models import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata(),
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        context.run_migrations()


async def _run_from_settings() -> None:
    from bot.database import engine_context
    from bot.settings import load_settings

    async with (
        engine_context(load_settings().database_url) as engine,
        engine.connect() as connection,
    ):
        await connection.run_sync(run_migrations)
        await connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `minzheng db upgrade`")

handed_in = context.config.attributes.get("connection")
if handed_in is not None:
    run_migrations(handed_in)
else:
    asyncio.run(_run_from_settings())
