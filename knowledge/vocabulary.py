"""Staff change synonyms, cue groups and out-of-scope matters the way they change entries: a
draft, a second person's approval, and before that an impact preview — the questions whose
answer would change.

A synonym group is ``canonical`` + its ``variants``; an out-of-scope matter is ``OutOfScopeIn``;
a cue group is ``CueIn`` (a need, its signs, the entries they lead to). Drafts live in
``kb_vocabulary_draft`` (one per group or matter); approval applies them to ``kb_synonym`` /
``kb_out_of_scope`` / ``kb_cue``. Framework-free; the caller owns the transaction and writes the
returned ``Change`` to its audit log.
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
from knowledge.models import (
    DraftState,
    EntryStatus,
    KbCue,
    KbEntry,
    KbOutOfScope,
    KbSynonym,
    KbVocabularyDraft,
)
from knowledge.schema import CueIn, OutOfScopeIn
from knowledge.store import KnowledgeSnapshot, stored_cues

SYNONYM, OUT_OF_SCOPE, CUE = "synonym", "out_of_scope", "cue"
KINDS = (SYNONYM, OUT_OF_SCOPE, CUE)
NEED_LENGTH, SIGN_LENGTH = 60, (2, 40)
# A group is about one need: a few entries answer it, a few dozen signs tell it.
MAX_CUE_ENTRIES, MAX_SIGNS = 10, 60


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


def cue_value(need: str, entries: Iterable[str], signs: Iterable[str]) -> dict[str, Any]:
    """A cue group as a draft holds it, checked (except that its entries exist: ``save``)."""
    need = need.strip()
    ids = list(dict.fromkeys(e.strip() for e in entries if e.strip()))
    cleaned = list(dict.fromkeys(s.strip() for s in signs if s.strip()))
    if not need or len(need) > NEED_LENGTH:
        raise VocabularyInvalid(f"请填写需要的名称（1 到 {NEED_LENGTH} 个字）。")
    if not ids:
        raise VocabularyInvalid("至少要指向一个条目。")
    if len(ids) > MAX_CUE_ENTRIES:
        raise VocabularyInvalid(f"最多指向 {MAX_CUE_ENTRIES} 个条目。")
    if not cleaned:
        raise VocabularyInvalid("至少要写一条线索说法。")
    if len(cleaned) > MAX_SIGNS:
        raise VocabularyInvalid(f"最多写 {MAX_SIGNS} 条说法；说的是别的需要，请另建一组。")
    shortest, longest = SIGN_LENGTH
    for sign in cleaned:
        if not shortest <= len(sign) <= longest:
            raise VocabularyInvalid(f"每条说法 {shortest} 到 {longest} 个字：“{sign}”不行。")
    try:
        return CueIn(need=need, entries=ids, signs=cleaned).model_dump(mode="json")
    except ValidationError:
        # Only an entry number of the wrong shape is left to fail here.
        raise VocabularyInvalid(
            "条目编号只用小写字母、数字和连字符，例如 elder-meal-point。"
        ) from None


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


async def current_cues(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """need -> the group, in the order they were added."""
    return {cue.need: cue.model_dump(mode="json") for cue in await stored_cues(session)}


async def _unpublished(session: AsyncSession, ids: Sequence[str]) -> list[str]:
    rows = await session.execute(
        select(col(KbEntry.id)).where(
            col(KbEntry.id).in_(ids), col(KbEntry.status) == EntryStatus.published.value
        )
    )
    published = set(rows.scalars())
    return [entry_id for entry_id in ids if entry_id not in published]


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
    if kind == CUE and value is not None:
        unknown = await _unpublished(session, value["entries"])
        if unknown:
            raise VocabularyInvalid(f"没有编号为“{unknown[0]}”的已发布条目。")
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
    elif draft.kind == CUE:
        before = await _apply_cue(session, draft, now)
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


async def _apply_cue(
    session: AsyncSession, draft: KbVocabularyDraft, now: datetime
) -> dict[str, Any] | None:
    """Replace the group in place (it keeps its id, so its place in the export); the group as
    it was."""
    row = (
        await session.execute(select(KbCue).where(col(KbCue.need) == draft.key))
    ).scalar_one_or_none()
    before = None if row is None else CueIn(need=row.need, entries=row.entries, signs=row.signs)
    if draft.value is None:
        if row is not None:
            await session.delete(row)
    else:
        value = CueIn.model_validate(draft.value)
        if row is None:
            session.add(KbCue(need=value.need, entries=value.entries, signs=value.signs))
        else:
            row.entries, row.signs, row.updated_at = value.entries, value.signs, now
    return None if before is None else before.model_dump(mode="json")


def with_change(snapshot: KnowledgeSnapshot, draft: KbVocabularyDraft) -> KnowledgeSnapshot:
    """The published snapshot as it would be once ``draft`` is approved."""
    if draft.kind == SYNONYM:
        synonyms = {v: c for v, c in snapshot.synonyms.items() if c != draft.key}
        if draft.value is not None:
            synonyms.update({v: draft.value["canonical"] for v in draft.value["variants"]})
        return replace(snapshot, synonyms=synonyms)
    if draft.kind == CUE:
        # In its place, so the preview differs from the published index by this group only.
        cues = list(snapshot.cues)
        at = next((i for i, c in enumerate(cues) if c.need == draft.key), len(cues))
        cues[at : at + 1] = [] if draft.value is None else [CueIn.model_validate(draft.value)]
        return replace(snapshot, cues=tuple(cues))
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
