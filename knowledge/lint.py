"""``minzheng kb lint``: the content rules a machine can check.

Errors block an import; warnings are shown to staff (an entry past ``review_by``, a figure that
looks like money or a phone number, which a person must confirm is sure, a cue's sign that is only
a sample question again).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from itertools import combinations

from rapidfuzz import fuzz

from knowledge.loader import Content
from knowledge.normalize import normalize
from knowledge.schema import han_count

MAX_ANSWER_HAN = 300
MAX_STEPS = 5
# Near-same questions under two entries confuse the matcher and the resident alike.
NEAR_SAME_RATIO = 92.0
KNOWN_NUMBERS = {"37009999", "12345", "12349", "110", "120", "119"}
_PHONE = re.compile(r"(?<![\d.])(?:\d[\d-]{4,}\d)(?![\d.])")
_MONEY = re.compile(r"\d[\d,.]*\s*(?:元|万元|块)")
_NUMBERED_STEP = re.compile(r"^\s*\d+[.、．]", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    entry_id: str
    message: str
    path: str = ""
    # The entry's field the finding is about, so an editor can show it beside that field.
    field: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.level}: {where}{self.entry_id}: {self.message}"


def lint(content: Content, *, today: date) -> list[Finding]:
    findings: list[Finding] = []

    def add(level: str, entry_id: str, message: str, field: str = "") -> None:
        findings.append(Finding(level, entry_id, message, content.origin.get(entry_id, ""), field))

    ids = [entry.id for entry in content.entries] + [item.id for item in content.out_of_scope]
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen:
            add("error", entry_id, "id is used more than once", "id")
        seen.add(entry_id)
    entry_ids = {entry.id for entry in content.entries}

    for entry in content.entries:
        for related in entry.related:
            if related not in entry_ids:
                add("error", entry.id, f"related id {related!r} does not exist", "related")
            if related == entry.id:
                add("error", entry.id, "an entry cannot be related to itself", "related")
        if entry.review_by <= entry.reviewed:
            add("error", entry.id, "review_by must come after reviewed", "review_by")
        if entry.reviewed > today:
            add("error", entry.id, f"reviewed {entry.reviewed} is in the future", "reviewed")
        if entry.review_by < today:
            add(
                "warning",
                entry.id,
                f"past its review date {entry.review_by}: check it again",
                "review_by",
            )
        if (
            entry.effective_from
            and entry.effective_to
            and entry.effective_to < entry.effective_from
        ):
            add("error", entry.id, "effective_to comes before effective_from", "effective_to")
        han = han_count(entry.answer)
        if han > MAX_ANSWER_HAN:
            add("error", entry.id, f"answer has {han} 汉字; at most {MAX_ANSWER_HAN}", "answer")
        steps = len(_NUMBERED_STEP.findall(entry.answer)) + len(entry.steps)
        if steps > MAX_STEPS:
            add(
                "error",
                entry.id,
                f"answer has {steps} numbered steps; at most {MAX_STEPS}",
                "answer",
            )
        for name in ("answer", *_DETAIL_FIELDS):
            text = getattr(entry, name) or ""
            for number in _PHONE.findall(text):
                if number.replace("-", "") not in KNOWN_NUMBERS and not _is_year(number):
                    add(
                        "warning",
                        entry.id,
                        f"{number!r} looks like a phone number: is it sure?",
                        name,
                    )
            for money in _MONEY.findall(text):
                add("warning", entry.id, f"{money!r} is an amount: is it sure and current?", name)
        if len({normalize(q) for q in entry.questions}) < len(entry.questions):
            add("error", entry.id, "the same question is listed twice", "questions")

    findings.extend(_shared_questions(content))
    findings.extend(_cues(content, entry_ids))
    return findings


def _cues(content: Content, entry_ids: set[str]) -> list[Finding]:
    """A cue group points only to entries that exist; a sign tells a situation, and one that is
    an entry's own sample question adds nothing the entry does not match already."""
    samples = {normalize(q): entry.id for entry in content.entries for q in entry.questions}
    findings = []
    seen: set[str] = set()
    for cue in content.cues:
        if cue.need in seen:
            findings.append(
                Finding("error", cue.need, "cue need is used more than once", "", "need")
            )
        seen.add(cue.need)
        for entry_id in cue.entries:
            if entry_id not in entry_ids:
                message = f"cue entry {entry_id!r} does not exist"
                findings.append(Finding("error", cue.need, message, "", "entries"))
        for sign in cue.signs:
            if (owner := samples.get(normalize(sign))) is not None:
                message = f"sign {sign!r} is a sample question of {owner}: say a situation instead"
                findings.append(Finding("warning", cue.need, message, "", "signs"))
    return findings


_DETAIL_FIELDS = ("eligibility", "materials", "where", "fees", "contacts")


def _is_year(number: str) -> bool:
    return bool(re.fullmatch(r"(19|20)\d{2}(-(19|20)\d{2})?", number))


def _shared_questions(content: Content) -> list[Finding]:
    """The same or a near-same sample question under two entries is an error."""
    owners: dict[str, set[str]] = defaultdict(set)
    for entry in content.entries:
        for question in entry.questions:
            owners[normalize(question)].add(entry.id)
    findings = []
    for question, ids in owners.items():
        if len(ids) > 1:
            first, *rest = sorted(ids)
            findings.append(
                Finding(
                    "error",
                    first,
                    f"question {question!r} is also under {', '.join(rest)}",
                    content.origin.get(first, ""),
                    "questions",
                )
            )
    # Near-same: compare within buckets sharing a leading character, to stay fast.
    by_entry = [(q, next(iter(ids))) for q, ids in owners.items() if len(ids) == 1 and len(q) >= 4]
    buckets: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for question, entry_id in by_entry:
        buckets[question[:2]].append((question, entry_id))
    for bucket in buckets.values():
        for (q1, e1), (q2, e2) in combinations(bucket, 2):
            if e1 != e2 and fuzz.ratio(q1, q2) >= NEAR_SAME_RATIO:
                findings.append(
                    Finding(
                        "error",
                        e1,
                        f"question {q1!r} is nearly the same as {q2!r} under {e2}",
                        content.origin.get(e1, ""),
                        "questions",
                    )
                )
    return findings
