"""Loading the shipped content: on `minzheng seed`, and on the first start of an empty database."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.database import session_factory
from directory.models import DirService
from directory.sample import sample_services
from directory.store import DirectoryImport, import_services
from knowledge.loader import Content, load_shipped
from knowledge.models import KbCue, KbEntry
from knowledge.store import ImportReport, entry_hash, import_content

log = logging.getLogger(__name__)


async def seed_knowledge(engine: AsyncEngine) -> ImportReport:
    """Import the shipped content (idempotent); the database must be migrated."""
    content = load_shipped()
    async with session_factory(engine)() as session, session.begin():
        return await import_content(session, content, changed_by="seed")


async def seed_directory(engine: AsyncEngine) -> DirectoryImport:
    """Import the sample directory (idempotent). Real data replaces it by `directory import`."""
    async with session_factory(engine)() as session, session.begin():
        return await import_services(session, sample_services())


def _fields(prefix: str, report: ImportReport | DirectoryImport) -> dict[str, object]:
    """A report as log fields. Prefixed: a bare "created" would collide with the log record's
    own attribute, and logging refuses the whole message."""
    return {f"{prefix}_{name}": value for name, value in report.as_dict().items()}


async def seed_if_empty(engine: AsyncEngine) -> ImportReport | None:
    """On a new installation, load the shipped knowledge and the sample directory. A knowledge
    base from before cue groups were kept in the database gets the shipped ones."""
    async with session_factory(engine)() as session:
        entries = (await session.execute(select(func.count()).select_from(KbEntry))).scalar_one()
        cues = (await session.execute(select(func.count()).select_from(KbCue))).scalar_one()
        places = (await session.execute(select(func.count()).select_from(DirService))).scalar_one()
    if not places:
        directory = await seed_directory(engine)
        log.info("empty directory: loaded the sample data", extra=_fields("services", directory))
    if entries and not cues:
        async with session_factory(engine)() as session, session.begin():
            added = await import_content(
                session, Content(cues=load_shipped().cues), changed_by="seed"
            )
        log.info("no cue groups yet: loaded the shipped ones", extra=_fields("cues", added))
    if entries:
        return None
    report = await seed_knowledge(engine)
    log.info("empty knowledge base: loaded the shipped content", extra=_fields("entries", report))
    return report


async def unseeded_changes(engine: AsyncEngine) -> int:
    """How many shipped entries are missing from the database or differ from what it has."""
    content = load_shipped()
    async with session_factory(engine)() as session:
        rows = await session.execute(select(col(KbEntry.id), col(KbEntry.imported_hash)))
        stored = {entry_id: digest for entry_id, digest in rows}
    return sum(1 for entry in content.entries if stored.get(entry.id) != entry_hash(entry))
