"""Knowledge-base tables (SQLModel). Entries keep a version number and a history of versions."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A tz-aware time stored as UTC and read back tz-aware on every database.

    SQLite keeps no offset: a Shanghai time written as is would read back as if it were UTC,
    eight hours off. Converted to UTC on the way in, and marked UTC on the way out, a time means
    the same moment on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_on_conflict(dialect: str, model: Any) -> Any:
    """An INSERT that can say ON CONFLICT, on SQLite and PostgreSQL alike."""
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def upsert(dialect: str, model: Any, row: dict[str, Any], key: str) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE the other columns of ``row``."""
    statement = insert_on_conflict(dialect, model).values(row)
    changed = {name: statement.excluded[name] for name in row if name != key}
    return statement.on_conflict_do_update(index_elements=[key], set_=changed)


class EntryStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class KbEntry(SQLModel, table=True):
    __tablename__ = "kb_entry"
    __table_args__ = (Index("ix_kb_entry_status", "status"),)

    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    category: str = Field(max_length=32)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    eligibility: str | None = Field(default=None, sa_column=Column(Text))
    materials: str | None = Field(default=None, sa_column=Column(Text))
    steps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    where: str | None = Field(default=None, sa_column=Column(Text))
    fees: str | None = Field(default=None, sa_column=Column(Text))
    contacts: str | None = Field(default=None, sa_column=Column(Text))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    related: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    facility_category: str | None = Field(default=None, max_length=64)
    source: str = Field(sa_column=Column(Text, nullable=False))
    reviewed: date
    review_by: date
    effective_from: date | None = None
    effective_to: date | None = None
    status: str = Field(default=EntryStatus.published.value, max_length=16)
    version: int = Field(default=1)
    # Hash of the YAML text last imported for this entry: re-importing the same file is a no-op,
    # and a console edit is not overwritten unless the shipped file itself changed.
    imported_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    # Who approved what residents read now, and when. None for shipped content no staff member
    # has approved yet: it waits in the review queue ("awaiting first staff review").
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class DraftState(enum.StrEnum):
    editing = "editing"
    review = "review"
    # Approved, to be published at ``publish_at``.
    scheduled = "scheduled"


class KbDraft(SQLModel, table=True):
    """An entry being changed: what residents read stays the published row until a second
    person approves the draft. One draft an entry at a time; ``revision`` catches two people
    saving over each other."""

    __tablename__ = "kb_draft"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=64, unique=True)
    # The published version the draft started from; 0 for a new entry.
    base_version: int = 0
    # The entry's fields as ``EntryIn`` has them (questions included).
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=DraftState.editing.value, max_length=16)
    revision: int = 1
    created_by: str = Field(max_length=64)
    last_editor: str = Field(max_length=64)
    submitted_by: str | None = Field(default=None, max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    review_comment: str | None = Field(default=None, sa_column=Column(Text))
    publish_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class KbVocabularyDraft(SQLModel, table=True):
    """A change to one synonym group (``key``: its canonical word) or one out-of-scope matter
    (``key``: its id), waiting for a second person. ``value`` None removes it."""

    __tablename__ = "kb_vocabulary_draft"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    key: str = Field(max_length=100)
    value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    state: str = Field(default=DraftState.editing.value, max_length=16)
    revision: int = 1
    created_by: str = Field(max_length=64)
    last_editor: str = Field(max_length=64)
    submitted_by: str | None = Field(default=None, max_length=64)
    review_comment: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class KbQuestion(SQLModel, table=True):
    __tablename__ = "kb_question"
    __table_args__ = (Index("ix_kb_question_entry_id", "entry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="kb_entry.id", ondelete="CASCADE", max_length=64)
    position: int
    text: str = Field(max_length=500)


class KbEntryVersion(SQLModel, table=True):
    """Every saved version of an entry, for history and review."""

    __tablename__ = "kb_entry_version"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=64, index=True)
    version: int
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    changed_by: str = Field(max_length=100)
    # The second person who approved this version (None for imports).
    approved_by: str | None = Field(default=None, max_length=64)
    changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class KbSynonym(SQLModel, table=True):
    __tablename__ = "kb_synonym"

    id: int | None = Field(default=None, primary_key=True)
    variant: str = Field(max_length=100, unique=True)
    canonical: str = Field(max_length=100)


class KbOutOfScope(SQLModel, table=True):
    """Matters outside civil affairs, recognised so that they fall back with advice."""

    __tablename__ = "kb_out_of_scope"

    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    questions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    advice: str = Field(sa_column=Column(Text, nullable=False))


class KbCue(SQLModel, table=True):
    """The signs of a need and the entries that answer it, the likeliest first (``CueIn``)."""

    __tablename__ = "kb_cue"

    # The order groups were added in, which is the shipped file's order: export keeps it.
    id: int | None = Field(default=None, primary_key=True)
    need: str = Field(max_length=60, unique=True)
    entries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # A group changed in place keeps its id; this is what tells the index to rebuild.
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
