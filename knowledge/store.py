"""Knowledge-base storage: idempotent import, reading what is published, export.

Keyword-only functions that take an ``AsyncSession``; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from knowledge.loader import Content
from knowledge.models import (
    EntryStatus,
    KbCue,
    KbEntry,
    KbEntryVersion,
    KbOutOfScope,
    KbQuestion,
    KbSynonym,
    utcnow,
)
from knowledge.schema import CueIn, EntryIn, OutOfScopeIn, SynonymIn

_ENTRY_FIELDS = tuple(name for name in EntryIn.model_fields if name not in {"id", "questions"})


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    synonyms_changed: int = 0
    out_of_scope_changed: int = 0
    cues_changed: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.synonyms_changed
            or self.out_of_scope_changed
            or self.cues_changed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "synonyms_changed": self.synonyms_changed,
            "out_of_scope_changed": self.out_of_scope_changed,
            "cues_changed": self.cues_changed,
        }


def entry_hash(entry: EntryIn) -> str:
    payload = json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def snapshot(entry: KbEntry, questions: list[str]) -> dict[str, Any]:
    data = entry.model_dump(mode="json", exclude={"imported_hash", "updated_at"})
    data["questions"] = questions
    return data


async def _upsert_entry(
    session: AsyncSession,
    item: EntryIn,
    changed_by: str,
    report: ImportReport,
    existing: dict[str, KbEntry],
) -> None:
    digest = entry_hash(item)
    row = existing.get(item.id)
    if row is not None and row.imported_hash == digest:
        report.unchanged.append(item.id)
        return
    values = {name: getattr(item, name) for name in _ENTRY_FIELDS}
    if row is None:
        row = KbEntry(id=item.id, **values, status=EntryStatus.published.value, version=1)
        session.add(row)
        report.created.append(item.id)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.status = EntryStatus.published.value
        row.version += 1
        report.updated.append(item.id)
        await session.execute(delete(KbQuestion).where(col(KbQuestion.entry_id) == item.id))
    row.imported_hash = digest
    row.updated_at = utcnow()
    # Content from a file has been reviewed like code, not by staff: it waits in the queue.
    row.approved_by, row.approved_at = None, None
    existing[item.id] = row
    # The unit of work inserts the entry before the questions that reference it.
    session.add_all(
        KbQuestion(entry_id=item.id, position=i, text=text) for i, text in enumerate(item.questions)
    )
    session.add(
        KbEntryVersion(
            entry_id=item.id,
            version=row.version,
            snapshot=snapshot(row, list(item.questions)),
            changed_by=changed_by,
        )
    )


async def _sync_synonyms(session: AsyncSession, synonyms: list[SynonymIn]) -> int:
    wanted = {variant: item.canonical for item in synonyms for variant in item.variants}
    rows = {row.variant: row for row in (await session.execute(select(KbSynonym))).scalars()}
    changed = 0
    for variant, canonical in wanted.items():
        row = rows.get(variant)
        if row is None:
            session.add(KbSynonym(variant=variant, canonical=canonical))
            changed += 1
        elif row.canonical != canonical:
            row.canonical = canonical
            changed += 1
    return changed


async def _sync_out_of_scope(session: AsyncSession, items: list[OutOfScopeIn]) -> int:
    changed = 0
    for item in items:
        values = item.model_dump(exclude={"id"})
        row = await session.get(KbOutOfScope, item.id)
        if row is None:
            session.add(KbOutOfScope(id=item.id, **values))
            changed += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changed += 1
    return changed


async def _sync_cues(session: AsyncSession, cues: list[CueIn]) -> int:
    """Upsert cue groups by need. A group changed in place keeps its id (and so its place in
    the export) and gets a new ``updated_at``, which the content stamp sees."""
    rows = {row.need: row for row in (await session.execute(select(KbCue))).scalars()}
    changed = 0
    for item in cues:
        row = rows.get(item.need)
        if row is None:
            rows[item.need] = row = KbCue(need=item.need, entries=item.entries, signs=item.signs)
            session.add(row)
            changed += 1
        elif (row.entries, row.signs) != (item.entries, item.signs):
            row.entries, row.signs, row.updated_at = list(item.entries), list(item.signs), utcnow()
            changed += 1
    return changed


def cue_of(row: KbCue) -> CueIn:
    return CueIn(need=row.need, entries=row.entries, signs=row.signs)


async def stored_cues(session: AsyncSession) -> list[CueIn]:
    """Every cue group, in the order they were added (the shipped order, then new ones)."""
    rows = await session.execute(select(KbCue).order_by(col(KbCue.id)))
    return [cue_of(row) for row in rows.scalars()]


async def import_content(
    session: AsyncSession, content: Content, *, changed_by: str = "import"
) -> ImportReport:
    """Upsert entries by id (a changed entry gets a new version), synonyms, out-of-scope
    matters and cue groups. A file without one of those sections leaves it alone. Running it
    twice with the same content changes nothing."""
    report = ImportReport()
    ids = [item.id for item in content.entries]
    existing = {
        row.id: row
        for row in (
            await session.execute(select(KbEntry).where(col(KbEntry.id).in_(ids)))
        ).scalars()
    }
    for item in content.entries:
        await _upsert_entry(session, item, changed_by, report, existing)
    if content.synonyms:
        report.synonyms_changed = await _sync_synonyms(session, content.synonyms)
    if content.out_of_scope:
        report.out_of_scope_changed = await _sync_out_of_scope(session, content.out_of_scope)
    if content.cues:
        report.cues_changed = await _sync_cues(session, content.cues)
    await session.flush()
    return report


@dataclass(frozen=True)
class PublishedEntry:
    """What the matcher and the channels need of one published entry."""

    id: str
    title: str
    category: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    details: dict[str, str]
    related: tuple[str, ...]
    facility_category: str | None
    source: str
    reviewed: date
    review_by: date
    effective_from: date | None
    effective_to: date | None
    version: int

    def in_force(self, today: date) -> bool:
        if self.effective_from is not None and today < self.effective_from:
            return False
        return self.effective_to is None or today <= self.effective_to


@dataclass(frozen=True)
class KnowledgeSnapshot:
    entries: tuple[PublishedEntry, ...]
    synonyms: dict[str, str]
    out_of_scope: tuple[OutOfScopeIn, ...]
    cues: tuple[CueIn, ...] = ()


async def _published_rows(session: AsyncSession) -> list[KbEntry]:
    result = await session.execute(
        select(KbEntry)
        .where(col(KbEntry.status) == EntryStatus.published.value)
        .order_by(col(KbEntry.id))
    )
    return list(result.scalars())


async def _questions_by_entry(session: AsyncSession) -> dict[str, list[str]]:
    rows = await session.execute(
        select(col(KbQuestion.entry_id), col(KbQuestion.text)).order_by(
            col(KbQuestion.entry_id), col(KbQuestion.position)
        )
    )
    questions: dict[str, list[str]] = {}
    for entry_id, text in rows:
        questions.setdefault(entry_id, []).append(text)
    return questions


DETAIL_FIELDS = ("eligibility", "materials", "where", "fees", "contacts")


def _published(source: KbEntry | EntryIn, questions: Sequence[str], version: int) -> PublishedEntry:
    """The matcher's view of an entry, from a database row or straight from YAML."""
    return PublishedEntry(
        id=source.id,
        title=source.title,
        category=source.category,
        questions=tuple(questions),
        keywords=tuple(source.keywords),
        answer=source.answer,
        details={name: value for name in DETAIL_FIELDS if (value := getattr(source, name))},
        related=tuple(source.related),
        facility_category=source.facility_category,
        source=source.source,
        reviewed=source.reviewed,
        review_by=source.review_by,
        effective_from=source.effective_from,
        effective_to=source.effective_to,
        version=version,
    )


async def load_published(session: AsyncSession) -> KnowledgeSnapshot:
    entries_by_id = {row.id: row for row in await _published_rows(session)}
    questions = await _questions_by_entry(session)
    entries = tuple(
        _published(row, questions.get(row.id, ()), row.version) for row in entries_by_id.values()
    )
    synonyms = {
        row.variant: row.canonical for row in (await session.execute(select(KbSynonym))).scalars()
    }
    out_of_scope = tuple(
        OutOfScopeIn(
            id=row.id,
            title=row.title,
            questions=row.questions,
            keywords=row.keywords,
            advice=row.advice,
        )
        for row in (
            await session.execute(select(KbOutOfScope).order_by(col(KbOutOfScope.id)))
        ).scalars()
    )
    return KnowledgeSnapshot(
        entries=entries,
        synonyms=synonyms,
        out_of_scope=out_of_scope,
        cues=tuple(await stored_cues(session)),
    )


async def export_published(session: AsyncSession) -> list[dict[str, Any]]:
    """Every published entry with all its fields, as ``kb export --format json`` prints them."""
    rows = await _published_rows(session)
    questions = await _questions_by_entry(session)
    exported = []
    for row in rows:
        data = row.model_dump(mode="json", exclude={"imported_hash"})
        data["questions"] = questions.get(row.id, [])
        exported.append(data)
    return exported


def published_view(entry: EntryIn, *, version: int) -> PublishedEntry:
    """An entry not yet published (a draft), as residents would see it once it is."""
    return _published(entry, entry.questions, version)


def snapshot_from_content(content: Content, *, version: int = 1) -> KnowledgeSnapshot:
    """A snapshot straight from YAML content, as if all of it were published (tools, tests)."""
    entries = tuple(_published(e, e.questions, version) for e in content.entries)
    synonyms = {variant: s.canonical for s in content.synonyms for variant in s.variants}
    return KnowledgeSnapshot(entries, synonyms, tuple(content.out_of_scope), tuple(content.cues))
