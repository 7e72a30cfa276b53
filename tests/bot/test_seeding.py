"""Loading the shipped content into a new database, and into one from before cue groups."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.seeding import seed_if_empty
from knowledge.loader import load_shipped
from knowledge.models import KbCue, KbEntry


async def test_a_knowledge_base_without_cue_groups_gets_the_shipped_ones(
    database_url: str,
) -> None:
    shipped = load_shipped()
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        first = await seed_if_empty(engine)
        assert first is not None and first.cues_changed == len(shipped.cues)
        # As a database upgraded from before 0012_cues is: entries, no cue groups.
        async with session_factory(engine)() as session, session.begin():
            await session.execute(delete(KbCue))
        assert await seed_if_empty(engine) is None
        async with session_factory(engine)() as session:
            cues = (await session.execute(select(func.count()).select_from(KbCue))).scalar_one()
            entries = (
                await session.execute(select(func.count()).select_from(KbEntry))
            ).scalar_one()
        assert cues == len(shipped.cues) and entries == len(shipped.entries)
