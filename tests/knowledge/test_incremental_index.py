"""A rebuild after one edit reuses the other documents' analysis and answers as a full build."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from knowledge.loader import load_shipped
from knowledge.matcher import KnowledgeIndex
from knowledge.store import KnowledgeSnapshot, snapshot_from_content

TODAY = date(2026, 12, 1)


def _edited(snapshot: KnowledgeSnapshot, entry_id: str, **changes: Any) -> KnowledgeSnapshot:
    entries = tuple(
        dataclasses.replace(e, **changes) if e.id == entry_id else e for e in snapshot.entries
    )
    return dataclasses.replace(snapshot, entries=entries)


def _answers(index: KnowledgeIndex, questions: list[str]) -> list[tuple[str | None, float]]:
    out = []
    for question in questions:
        answer = index.ask(question, today=TODAY)
        out.append((answer.entry.id if answer.entry else None, round(answer.score, 9)))
    return out


def test_an_answer_edit_reuses_everything_and_is_exact() -> None:
    snapshot = snapshot_from_content(load_shipped())
    first = KnowledgeIndex.build(snapshot)
    edited = _edited(snapshot, "elder-meal-point", answer="新的回答。")
    second = KnowledgeIndex.build(edited, previous=first)
    assert second.exact
    assert second._analysed["assist-dibao-apply"] is first._analysed["assist-dibao-apply"]
    answer = second.ask("老年食堂在哪里", today=TODAY)
    assert answer.entry is not None and answer.entry.answer == "新的回答。"


def test_a_question_edit_answers_as_a_full_build_would() -> None:
    snapshot = snapshot_from_content(load_shipped())
    first = KnowledgeIndex.build(snapshot)
    edited = _edited(
        snapshot,
        "elder-meal-point",
        title="老年助餐点在哪里",
        questions=("吃饭的地方在哪", *snapshot.entries[0].questions[:5]),
    )
    incremental = KnowledgeIndex.build(edited, previous=first)
    full = KnowledgeIndex.build(edited)
    assert not incremental.exact and full.exact  # a new title: a full build should follow
    assert incremental._analysed["elder-meal-point"] is not first._analysed["elder-meal-point"]
    questions = [q for e in snapshot.entries for q in e.questions[:3]]
    assert _answers(incremental, questions) == _answers(full, questions)


def test_changed_synonyms_reanalyse_every_document() -> None:
    snapshot = snapshot_from_content(load_shipped())
    first = KnowledgeIndex.build(snapshot)
    changed = dataclasses.replace(snapshot, synonyms={**snapshot.synonyms, "饭堂子": "助餐点"})
    second = KnowledgeIndex.build(changed, previous=first)
    assert second.exact
    assert all(second._analysed[k] is not first._analysed[k] for k in second._analysed)
    answer = second.ask("饭堂子在哪里", today=TODAY)
    assert answer.entry is not None and answer.entry.id == "elder-meal-point"
