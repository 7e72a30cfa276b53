"""Staff change synonyms and out-of-scope matters the way they change entries: a draft, a second
person's approval, and before that an impact preview — the questions whose answer would change.

A synonym group is ``canonical`` + its ``variants``; an out-of-scope matter is ``OutOfScopeIn``.
Drafts live in ``kb_vocabulary_draft`` (one per group or matter); approval applies them to
``kb_synonym`` / ``kb_out_of_scope``. Framework-free; the caller owns the transaction and writes
the returned ``Change`` to its audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from knowledge.calibration import Calibration
from knowledge.editing import Change, EditError
from knowledge.matcher import Answer, KnowledgeIndex
from knowledge.models import DraftState, KbOutOfScope, KbSynonym, KbVocabularyDraft
from knowledge.schema import OutOfScopeIn
from knowledge.store import KnowledgeSnapshot

SYNONYM, OUT_OF_SCOPE = "synonym", "out_of_scope"
KINDS = (SYNONYM, OUT_OF_SCOPE)


class VocabularyInvalid(ValueError):
    """``str()`` says what is wrong, in Chinese."""


@dataclass(frozen=True)
class VocabularyConflict(Exception):
    """Someone saved the same draft first: theirs, so the page can show both."""

    theirs: dict[str, Any] | None
    theirs_by: str
    revision: int


def synonym_value(canonical: str, variants: Iterable[str]) -> dict[str, Any]:
    """A synonym group as a draft holds it, checked."""
    canonical = canonical.strip()
    cleaned = list(dict.fromkeys(v.strip() for v in variants if v.strip()))
    if not canonical or len(canonical) > 100:
        raise VocabularyInvalid("请填写内容里用的词（1 到 100 个字）。")
    if not cleaned:
        raise VocabularyInvalid("至少要有一个居民的说法。")
    if canonical in cleaned:
        raise VocabularyInvalid("居民的说法里不能有这个词本身。")
    if any(len(v) > 100 for v in cleaned):
        raise VocabularyInvalid("每个说法最多 100 个字。")
    return {"canonical": canonical, "variants": cleaned}


def out_of_scope_value(values: dict[str, Any]) -> dict[str, Any]:
    try:
        return OutOfScopeIn.model_validate(values).model_dump(mode="json")
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        names = {"id": "编号", "title": "名称", "questions": "问法", "advice": "建议"}
        problem = "至少要 3 个问法" if field == "questions" else "请填写正确"
        raise VocabularyInvalid(f"{names.get(field, field)}：{problem}") from None


async def current_synonyms(session: AsyncSession) -> dict[str, list[str]]:
    """canonical -> variants, as the matcher uses them now."""
    groups: dict[str, list[str]] = {}
    rows = await session.execute(select(KbSynonym).order_by(col(KbSynonym.id)))
    for row in rows.scalars():
        groups.setdefault(row.canonical, []).append(row.variant)
    return groups


async def current_out_of_scope(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.execute(select(KbOutOfScope).order_by(col(KbOutOfScope.id)))
    return {
        row.id: OutOfScopeIn(
            id=row.id,
            title=row.title,
            questions=row.questions,
            keywords=row.keywords,
            advice=row.advice,
        ).model_dump(mode="json")
        for row in rows.scalars()
    }


async def drafts(session: AsyncSession) -> list[KbVocabularyDraft]:
    rows = await session.execute(
        select(KbVocabularyDraft).order_by(col(KbVocabularyDraft.updated_at))
    )
    return list(rows.scalars())


async def draft_by_id(session: AsyncSession, draft_id: int) -> KbVocabularyDraft:
    draft = await session.get(KbVocabularyDraft, draft_id)
    if draft is None:
        raise EditError("没有这份草稿。")
    return draft


async def save(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    value: dict[str, Any] | None,
    revision: int | None,
    actor: str,
    now: datetime,
) -> tuple[KbVocabularyDraft, Change]:
    """Save a draft for one group or matter (``value`` None: remove it). ``revision`` is the
    draft revision the editor started from; someone else's save in between is an error."""
    if kind not in KINDS:
        raise EditError("不认识的类型。")
    if kind == SYNONYM and value is not None:
        taken = {
            v: c for c, vs in (await current_synonyms(session)).items() for v in vs if c != key
        }
        clash = [v for v in value["variants"] if v in taken]
        if clash:
            raise VocabularyInvalid(f"“{clash[0]}”已经是“{taken[clash[0]]}”的说法了。")
    existing = (
        await session.execute(
            select(KbVocabularyDraft).where(
                col(KbVocabularyDraft.kind) == kind, col(KbVocabularyDraft.key) == key
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        if revision:
            raise EditError("这份草稿已经被别人处理了（发布或撤回）。请刷新页面，看最新的内容。")
        draft = KbVocabularyDraft(
            kind=kind, key=key, value=value, created_by=actor, last_editor=actor, updated_at=now
        )
        session.add(draft)
        await session.flush()
        return draft, Change(f"{kind}_draft_saved", key, after=value)
    if revision != existing.revision:
        raise VocabularyConflict(existing.value, existing.last_editor, existing.revision)
    before = existing.value
    existing.value, existing.revision = value, existing.revision + 1
    existing.last_editor, existing.updated_at = actor, now
    existing.state = DraftState.editing.value
    return existing, Change(f"{kind}_draft_saved", key, before=before, after=value)


async def submit(session: AsyncSession, *, draft_id: int, actor: str, now: datetime) -> Change:
    draft = await draft_by_id(session, draft_id)
    if draft.state != DraftState.editing.value:
        raise EditError("这份草稿已经提交审核了。")
    draft.state, draft.submitted_by, draft.updated_at = DraftState.review.value, actor, now
    return Change(f"{draft.kind}_draft_submitted", draft.key)


async def send_back(
    session: AsyncSession, *, draft_id: int, actor: str, comment: str, now: datetime
) -> Change:
    draft = await draft_by_id(session, draft_id)
    if not comment.strip():
        raise EditError("退回时请写明原因，方便同事修改。")
    draft.state, draft.review_comment, draft.updated_at = (
        DraftState.editing.value,
        comment.strip()[:2000],
        now,
    )
    return Change(f"{draft.kind}_draft_sent_back", draft.key, note=comment.strip()[:2000])


async def withdraw(session: AsyncSession, *, draft_id: int) -> Change:
    draft = await draft_by_id(session, draft_id)
    await session.delete(draft)
    return Change(f"{draft.kind}_draft_withdrawn", draft.key, before=draft.value)


async def approve(session: AsyncSession, *, draft_id: int, actor: str, now: datetime) -> Change:
    """Apply a submitted draft; the approver is not its last editor (four eyes)."""
    draft = await draft_by_id(session, draft_id)
    if draft.state != DraftState.review.value:
        raise EditError("只有已提交审核的草稿才能批准。")
    if draft.last_editor == actor:
        raise EditError("不能批准自己最后修改的草稿：请另一位同事审核。")
    if draft.kind == SYNONYM:
        before_groups = await current_synonyms(session)
        before: dict[str, Any] | None = (
            {"canonical": draft.key, "variants": before_groups[draft.key]}
            if draft.key in before_groups
            else None
        )
        await session.execute(delete(KbSynonym).where(col(KbSynonym.canonical) == draft.key))
        await session.flush()
        if draft.value is not None:
            session.add_all(
                KbSynonym(variant=v, canonical=draft.value["canonical"])
                for v in draft.value["variants"]
            )
    else:
        row = await session.get(KbOutOfScope, draft.key)
        before = (await current_out_of_scope(session)).get(draft.key)
        if row is not None:
            await session.delete(row)
            await session.flush()
        if draft.value is not None:
            value = OutOfScopeIn.model_validate(draft.value)
            session.add(KbOutOfScope(**value.model_dump()))
    await session.delete(draft)
    return Change(f"{draft.kind}_published", draft.key, before=before, after=draft.value)


def with_change(snapshot: KnowledgeSnapshot, draft: KbVocabularyDraft) -> KnowledgeSnapshot:
    """The published snapshot as it would be once ``draft`` is approved."""
    if draft.kind == SYNONYM:
        synonyms = {v: c for v, c in snapshot.synonyms.items() if c != draft.key}
        if draft.value is not None:
            synonyms.update({v: draft.value["canonical"] for v in draft.value["variants"]})
        return replace(snapshot, synonyms=synonyms)
    matters = [m for m in snapshot.out_of_scope if m.id != draft.key]
    if draft.value is not None:
        matters.append(OutOfScopeIn.model_validate(draft.value))
    return replace(snapshot, out_of_scope=tuple(matters))


@dataclass(frozen=True)
class ChangedAnswer:
    question: str
    before: str  # what residents get now: an entry's title, or a fallback
    after: str


def _outcome(answer: Answer) -> str:
    if answer.out_of_scope is not None:
        return f"非民政事项：{answer.out_of_scope.title}"
    if answer.fallback or answer.entry is None:
        return "没找到确切答案"
    return answer.entry.title


def impact(
    before: KnowledgeSnapshot,
    after: KnowledgeSnapshot,
    questions: Sequence[str],
    *,
    today: date,
    calibration: Calibration | None = None,
) -> list[ChangedAnswer]:
    """Every question whose answer differs with and without the change. CPU-bound: two index
    builds and two passes over the questions; call it off the event loop."""
    old = KnowledgeIndex.build(before, calibration)
    new = KnowledgeIndex.build(after, calibration)
    changed = []
    for question in dict.fromkeys(questions):
        a, b = _outcome(old.ask(question, today=today)), _outcome(new.ask(question, today=today))
        if a != b:
            changed.append(ChangedAnswer(question, a, b))
    return changed
