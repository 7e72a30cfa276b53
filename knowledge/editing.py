"""Staff change the knowledge base: draft → submit → approve (by another person) → published.

What residents read is the published ``kb_entry`` row; a change lives in ``kb_draft`` until a
second person approves it, so nothing a draft says reaches the bot before then. Every published
version is kept in ``kb_entry_version`` (history, diff, rollback).

Framework-free: keyword-only functions over an ``AsyncSession``; the caller owns the
transaction. Each function that changes something returns a ``Change`` for the caller's audit
log, to be written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from knowledge.models import (
    DraftState,
    EntryStatus,
    KbDraft,
    KbEntry,
    KbEntryVersion,
    KbQuestion,
)
from knowledge.schema import EntryIn
from knowledge.store import snapshot as version_snapshot

EDITABLE_FIELDS = tuple(EntryIn.model_fields)
LIST_FIELDS = frozenset({"questions", "keywords", "steps", "related", "topics"})
DATE_FIELDS = frozenset({"reviewed", "review_by", "effective_from", "effective_to"})


class EditError(ValueError):
    """A request that cannot be done; ``str()`` says why, in Chinese."""


@dataclass(frozen=True)
class Conflict(Exception):
    """Someone else saved first: both versions, so the second person loses nothing."""

    theirs: dict[str, Any]
    theirs_by: str
    yours: dict[str, Any]
    revision: int


@dataclass(frozen=True)
class Invalid(Exception):
    """The submitted fields do not make an entry; messages by field, in Chinese."""

    problems: dict[str, str]
    values: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What an audit row records of a change."""

    action: str
    entry_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str | None = None


@dataclass
class Published:
    change: Change
    entry: KbEntry
    questions: list[str] = field(default_factory=list)


def entry_values(entry: KbEntry, questions: list[str]) -> dict[str, Any]:
    """A published entry as the editable fields (the shape of ``EntryIn``)."""
    data = entry.model_dump(mode="json")
    values = {name: data.get(name) for name in EDITABLE_FIELDS if name != "questions"}
    values["questions"] = list(questions)
    return {k: v for k, v in values.items() if v not in (None, [], "")}


_MESSAGES = {
    "missing": "必填",
    "string_too_short": "不能是空的",
    "too_short": "至少要 5 个居民常用的问法",
    "string_pattern_mismatch": "只能用小写字母、数字和横线，3 到 64 个字符",
    "date_from_datetime_parsing": "日期请写成 2026-12-01 这样",
    "date_parsing": "日期请写成 2026-12-01 这样",
    "date_type": "日期请写成 2026-12-01 这样",
    "extra_forbidden": "不认识的字段",
}


def validate(values: dict[str, Any]) -> EntryIn:
    """The values as an entry, or ``Invalid`` with a message for each wrong field."""
    try:
        return EntryIn.model_validate(values)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "id"
            message = _MESSAGES.get(error["type"], error["msg"])
            if error["type"] == "value_error":
                message = str(error.get("ctx", {}).get("error", error["msg"]))
            problems.setdefault(name, message)
        raise Invalid(problems, values) from None


async def _published(session: AsyncSession, entry_id: str) -> KbEntry | None:
    return await session.get(KbEntry, entry_id)


async def questions_of(session: AsyncSession, entry_id: str) -> list[str]:
    rows = await session.execute(
        select(col(KbQuestion.text))
        .where(col(KbQuestion.entry_id) == entry_id)
        .order_by(col(KbQuestion.position))
    )
    return list(rows.scalars())


async def draft_of(session: AsyncSession, entry_id: str) -> KbDraft | None:
    return (
        await session.execute(select(KbDraft).where(col(KbDraft.entry_id) == entry_id))
    ).scalar_one_or_none()


async def save(
    session: AsyncSession,
    *,
    entry_id: str | None,
    values: dict[str, Any],
    revision: int | None,
    actor: str,
    now: datetime,
) -> tuple[KbDraft, Change]:
    """Save an edit as the entry's draft (a new entry when ``entry_id`` is None).

    ``revision`` is the draft revision the editor started from (None: there was no draft).
    If someone saved in between, ``Conflict`` carries both versions."""
    entry = validate(values)
    target = entry_id or entry.id
    if entry_id is not None and entry.id != entry_id:
        raise Invalid({"id": "编号不能修改"}, values)
    published = await _published(session, target)
    if entry_id is None and (published is not None or await draft_of(session, target)):
        raise Invalid({"id": f"编号 {target} 已经有了，请换一个"}, values)
    draft = await draft_of(session, target)
    snapshot = entry.model_dump(mode="json", exclude_none=True)
    if draft is None:
        if revision is not None and revision > 0:
            # The draft the editor opened has since been published or withdrawn.
            theirs = (
                entry_values(published, await questions_of(session, target)) if published else {}
            )
            raise Conflict(theirs, published.approved_by or "" if published else "", snapshot, 0)
        draft = KbDraft(
            entry_id=target,
            base_version=published.version if published else 0,
            snapshot=snapshot,
            created_by=actor,
            last_editor=actor,
            updated_at=now,
        )
        session.add(draft)
        await session.flush()
        return draft, Change("draft_saved", target, after=snapshot)
    if revision != draft.revision:
        raise Conflict(dict(draft.snapshot), draft.last_editor, snapshot, draft.revision)
    before = dict(draft.snapshot)
    draft.snapshot = snapshot
    draft.revision += 1
    draft.last_editor = actor
    draft.updated_at = now
    if draft.state != DraftState.editing.value:
        # A change after submitting needs a fresh review.
        draft.state, draft.submitted_by, draft.publish_at = DraftState.editing.value, None, None
    return draft, Change("draft_saved", target, before=before, after=snapshot)


async def _existing_draft(session: AsyncSession, entry_id: str) -> KbDraft:
    draft = await draft_of(session, entry_id)
    if draft is None:
        raise EditError("这条内容没有草稿。")
    return draft


async def submit(session: AsyncSession, *, entry_id: str, actor: str, now: datetime) -> Change:
    draft = await _existing_draft(session, entry_id)
    if draft.state != DraftState.editing.value:
        raise EditError("这份草稿已经提交审核了。")
    try:
        # A draft saved in parts (one made from an advisor's case) must be whole before review.
        validate(draft.snapshot)
    except Invalid as exc:
        wrong = "；".join(f"{name}：{problem}" for name, problem in exc.problems.items())
        raise EditError(f"草稿还不完整，请先在编辑页补全再提交：{wrong}") from None
    draft.state, draft.submitted_by, draft.updated_at = DraftState.review.value, actor, now
    draft.review_comment = None
    return Change("draft_submitted", entry_id)


async def send_back(
    session: AsyncSession, *, entry_id: str, actor: str, comment: str, now: datetime
) -> Change:
    draft = await _existing_draft(session, entry_id)
    if draft.state == DraftState.editing.value:
        raise EditError("这份草稿还没有提交审核。")
    comment = comment.strip()
    if not comment:
        raise EditError("退回时请写明原因，方便同事修改。")
    draft.state, draft.publish_at, draft.updated_at = DraftState.editing.value, None, now
    draft.review_comment = comment[:2000]
    return Change("draft_sent_back", entry_id, note=comment[:2000])


async def withdraw(session: AsyncSession, *, entry_id: str, actor: str) -> Change:
    draft = await _existing_draft(session, entry_id)
    before = dict(draft.snapshot)
    await session.delete(draft)
    return Change("draft_withdrawn", entry_id, before=before)


async def approve(
    session: AsyncSession,
    *,
    entry_id: str,
    actor: str,
    now: datetime,
    publish_at: datetime | None = None,
) -> Change | Published:
    """Approve a submitted draft: published now, or at ``publish_at``. The approver must not
    be the draft's last editor (four eyes)."""
    draft = await _existing_draft(session, entry_id)
    if draft.state != DraftState.review.value:
        raise EditError("只有已提交审核的草稿才能批准。")
    if draft.last_editor == actor:
        raise EditError("不能批准自己最后修改的草稿：请另一位同事审核。")
    published = await _published(session, entry_id)
    if (published.version if published else 0) != draft.base_version:
        raise Conflict(
            entry_values(published, await questions_of(session, entry_id)) if published else {},
            published.approved_by or "" if published else "",
            dict(draft.snapshot),
            draft.revision,
        )
    if publish_at is not None and publish_at > now:
        draft.state, draft.approved_by, draft.publish_at = (
            DraftState.scheduled.value,
            actor,
            publish_at,
        )
        return Change("draft_scheduled", entry_id, note=publish_at.isoformat())
    draft.approved_by = actor
    return await publish(session, draft=draft, now=now)


async def publish(session: AsyncSession, *, draft: KbDraft, now: datetime) -> Published:
    """Put an approved draft before residents: the entry row, its questions, a new version."""
    entry = validate(draft.snapshot)
    row = await _published(session, draft.entry_id)
    before = entry_values(row, await questions_of(session, row.id)) if row else None
    values = entry.model_dump(exclude={"id", "questions"})
    if row is None:
        row = KbEntry(id=entry.id, **values, version=1)
        session.add(row)
    else:
        for name in EntryIn.model_fields:
            if name not in {"id", "questions"}:
                setattr(row, name, values.get(name))
        row.version += 1
        await session.execute(delete(KbQuestion).where(col(KbQuestion.entry_id) == entry.id))
    row.status = EntryStatus.published.value
    row.approved_by, row.approved_at, row.updated_at = draft.approved_by, now, now
    await session.flush()
    questions = list(entry.questions)
    session.add_all(
        KbQuestion(entry_id=entry.id, position=i, text=text) for i, text in enumerate(questions)
    )
    session.add(
        KbEntryVersion(
            entry_id=entry.id,
            version=row.version,
            snapshot=version_snapshot(row, questions),
            changed_by=draft.last_editor,
            approved_by=draft.approved_by,
            changed_at=now,
        )
    )
    await session.delete(draft)
    after = entry.model_dump(mode="json", exclude_none=True)
    return Published(Change("entry_published", entry.id, before, after), row, questions)


async def publish_due(session: AsyncSession, *, now: datetime) -> list[Published]:
    """Publish the scheduled drafts whose time has come (the server checks as it polls)."""
    due = await session.execute(
        select(KbDraft).where(
            col(KbDraft.state) == DraftState.scheduled.value, col(KbDraft.publish_at) <= now
        )
    )
    return [await publish(session, draft=draft, now=now) for draft in due.scalars().all()]


async def confirm_review(
    session: AsyncSession, *, entry_id: str, actor: str, today: date, now: datetime
) -> Change:
    """A reviewer checked a published entry (shipped content's first staff review, or a
    periodic one): ``reviewed`` becomes today, ``review_by`` moves by the same interval."""
    row = await _published(session, entry_id)
    if row is None:
        raise EditError("没有这条内容。")
    if await draft_of(session, entry_id) is not None:
        raise EditError("这条内容有未处理的草稿：请先审核或撤回草稿。")
    before = {"reviewed": str(row.reviewed), "review_by": str(row.review_by), "by": row.approved_by}
    interval = max(row.review_by - row.reviewed, timedelta(days=30))
    row.reviewed, row.review_by = today, today + interval
    row.approved_by, row.approved_at, row.updated_at = actor, now, now
    after = {"reviewed": str(row.reviewed), "review_by": str(row.review_by), "by": actor}
    return Change("entry_reviewed", entry_id, before, after)


async def set_archived(
    session: AsyncSession, *, entry_id: str, archived: bool, actor: str, now: datetime
) -> Change:
    row = await _published(session, entry_id)
    if row is None:
        raise EditError("没有这条内容。")
    status = EntryStatus.archived.value if archived else EntryStatus.published.value
    if row.status == status:
        raise EditError("这条内容已经是这个状态了。")
    before = {"status": row.status}
    row.status, row.updated_at = status, now
    return Change(
        "entry_archived" if archived else "entry_restored", entry_id, before, {"status": status}
    )


async def versions(session: AsyncSession, entry_id: str) -> list[KbEntryVersion]:
    rows = await session.execute(
        select(KbEntryVersion)
        .where(col(KbEntryVersion.entry_id) == entry_id)
        .order_by(col(KbEntryVersion.version).desc())
    )
    return list(rows.scalars())


async def version_values(session: AsyncSession, entry_id: str, version: int) -> dict[str, Any]:
    row = (
        await session.execute(
            select(KbEntryVersion).where(
                col(KbEntryVersion.entry_id) == entry_id, col(KbEntryVersion.version) == version
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise EditError(f"没有第 {version} 版。")
    return {k: v for k, v in row.snapshot.items() if k in EDITABLE_FIELDS and v not in (None, [])}


async def rollback(
    session: AsyncSession, *, entry_id: str, version: int, actor: str, now: datetime
) -> tuple[KbDraft, Change]:
    """A new draft with an earlier version's text; it is reviewed like any other change."""
    if await draft_of(session, entry_id) is not None:
        raise EditError("这条内容已经有草稿：请先处理那份草稿，再恢复旧版本。")
    values = await version_values(session, entry_id, version)
    draft, change = await save(
        session, entry_id=entry_id, values=values, revision=None, actor=actor, now=now
    )
    return draft, Change(
        "draft_rollback", entry_id, after=change.after, note=f"from version {version}"
    )
