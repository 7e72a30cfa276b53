"""Fit the confidence model on the content itself, then choose the threshold on a dev set.

Training questions come from the shipped entries by cross-validation: in each of five folds a
fifth of every entry's sample questions is held out (the index is built without them) and asked
as residents would type it — as written, with homophone typos, as pinyin, in traditional
characters, and cut down to its key words. Some entries and out-of-scope matters are left out of
the index entirely in each fold, so that their questions teach what an unanswerable question
looks like. The label is whether the top candidate is the question's own entry.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.analyzer import STOPWORDS, _jieba
from knowledge.calibration import LEAD_CAP, Calibration, Features
from knowledge.evaluate import read_cases
from knowledge.loader import Content
from knowledge.matcher import KnowledgeIndex
from knowledge.normalize import normalize
from knowledge.pinyin import readings
from knowledge.ranking import evidence
from knowledge.scope import QuerySignals, ScopeFeatures
from knowledge.store import KnowledgeSnapshot, snapshot_from_content
from knowledge.terms import word

FOLDS = 5
TRAINING_DIR = Path(__file__).resolve().parent / "training"
# The written questions are few beside the generated ones, and the only ones of their kinds.
WRITTEN_REPEAT = 4
TODAY = date(2026, 1, 1)


# Everyday wrapping residents put around a question (no service words in them).
CONTEXT_BEFORE = (
    "我家老头子",
    "我妈年纪大了",
    "我一个人住",
    "听邻居说",
    "老伴身体不好",
    "家里条件不好",
    "我七十多岁了",
    "儿女都不在身边",
    "请问一下",
    "同志你好",
)
CONTEXT_AFTER = ("要怎么弄", "找谁办", "去哪里问", "麻烦告诉我", "谢谢", "急的", "要多久")
# Nouns of other departments' matters, swapped in for a question's key word to make a question
# that shares the everyday words of an entry but not its subject.
FOREIGN_NOUNS = (
    "护照",
    "驾照",
    "机票",
    "社保卡",
    "公积金",
    "快递",
    "电费",
    "车位",
    "股票",
    "手机",
    "宽带",
    "签证",
    "房贷",
    "学区",
    "发票",
    "疫苗",
    "车票",
    "养老金",
)


@dataclass(frozen=True)
class Group:
    """One training question: its candidates (key, features) and the key that is right."""

    candidates: list[tuple[str, Features]]
    truth: str | None
    signals: QuerySignals = field(default_factory=QuerySignals)
    # Asks about civil affairs (an entry's question, even one left out of the index), rather
    # than another department's matter or daily life.
    about: bool = True
    # One of the questions written for fitting (``knowledge/training``), not a generated one.
    written: bool = False


def _group(
    found: tuple[list[tuple[str, Features]], QuerySignals], truth: str | None, about: bool
) -> Group | None:
    candidates, signals = found
    return Group(candidates, truth, signals, about) if candidates else None


def _homophone_table(texts: Iterable[str]) -> dict[str, list[str]]:
    by_sound: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        for char in text:
            sound = readings(char)
            if sound:
                by_sound[sound[0]].add(char)
    return {sound: sorted(chars) for sound, chars in by_sound.items() if len(chars) > 1}


@cache
def _to_traditional() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def _variants(question: str, rng: random.Random, homophones: dict[str, list[str]]) -> list[str]:
    """The question as residents type it: exact, homophone typo, pinyin, traditional, terse."""
    text = normalize(question)
    out = [question]
    chars = [i for i, c in enumerate(text) if readings(c) and readings(c)[0] in homophones]
    if chars:
        typo = list(text)
        for i in rng.sample(chars, k=min(len(chars), rng.choice([1, 1, 2]))):
            options = [c for c in homophones[readings(text[i])[0]] if c != text[i]]
            typo[i] = rng.choice(options)
        out.append("".join(typo))
    words = [w for w in _jieba().lcut(text) if w.strip() and w not in STOPWORDS]
    if words:
        out.append("".join(words[:3]))
        key = "".join(words[:2])
        sounds = [readings(c)[0] for c in key if readings(c)]
        if sounds:
            out.append(("" if rng.random() < 0.5 else " ").join(sounds))
    out.append(_to_traditional().convert(question))
    before = rng.choice(CONTEXT_BEFORE) + "，" if rng.random() < 0.7 else ""
    after = "，" + rng.choice(CONTEXT_AFTER) if rng.random() < 0.5 or not before else ""
    out.append(before + question + after)
    return out


def _foreign_variant(question: str, index: KnowledgeIndex, rng: random.Random) -> str | None:
    """The question with its most specific word replaced by another department's matter."""
    text = index.analyzer.synonyms.apply(normalize(question))
    words = [w for w in _jieba().lcut(text) if w.strip() and w not in STOPWORDS]
    if not words:
        return None
    key = max(words, key=lambda w: index.idf.get(word(w), 0.0))
    return text.replace(key, rng.choice(FOREIGN_NOUNS), 1)


def _without(
    snapshot: KnowledgeSnapshot, held: set[tuple[str, int]], dropped: set[str]
) -> KnowledgeSnapshot:
    entries = tuple(
        replace(e, questions=tuple(q for i, q in enumerate(e.questions) if (e.id, i) not in held))
        for e in snapshot.entries
        if e.id not in dropped
    )
    oos = tuple(
        o.model_copy(
            update={"questions": [q for i, q in enumerate(o.questions) if (o.id, i) not in held]}
        )
        for o in snapshot.out_of_scope
        if o.id not in dropped
    )
    return KnowledgeSnapshot(entries, snapshot.synonyms, oos, snapshot.cues)


def training_groups(
    content: Content, written: Sequence[Path] | None = None, seed: int = 7
) -> list[Group]:
    """The generated questions of the content, and those written in ``written`` (default:
    every file of ``knowledge/training``)."""
    rng = random.Random(seed)
    snapshot = snapshot_from_content(content)
    docs: list[tuple[str, tuple[str, ...]]] = [(e.id, e.questions) for e in snapshot.entries] + [
        (o.id, tuple(o.questions)) for o in snapshot.out_of_scope
    ]
    homophones = _homophone_table(q for _, questions in docs for q in questions)
    keys = [key for key, _ in docs]
    entries = {e.id for e in snapshot.entries}
    groups: list[Group | None] = []
    for fold in range(FOLDS):
        held = {(key, i) for key, qs in docs for i in range(len(qs)) if (i + fold) % FOLDS == 0}
        dropped = {key for n, key in enumerate(keys) if n % (FOLDS * 3) == fold * 3}
        index = KnowledgeIndex.build(_without(snapshot, held, dropped), Calibration.default())
        for key, questions in docs:
            truth = None if key in dropped else key
            for i, question in enumerate(questions):
                if (key, i) not in held:
                    continue
                for variant in _variants(question, rng, homophones):
                    found = index.candidate_features(variant, today=TODAY)
                    groups.append(_group(found, truth, key in entries))
                foreign = _foreign_variant(question, index, rng)
                if foreign is not None:
                    found = index.candidate_features(foreign, today=TODAY)
                    groups.append(_group(found, None, False))
    made = [g for g in groups if g is not None]
    index = KnowledgeIndex.build(snapshot, Calibration.default())
    return made + written_groups(index, written_files() if written is None else written)


def written_files() -> list[Path]:
    """The written questions: ``KIND.jsonl``, ``KIND_b.jsonl`` … one suffix per set of writers."""
    return sorted(TRAINING_DIR.glob("*.jsonl"))


def writers() -> list[list[Path]]:
    """The written files by writer (``KIND.jsonl``, ``KIND_b.jsonl``, ``KIND_c.jsonl`` …): the
    models fitted on all writers but one choose the thresholds on that one's questions."""
    by_writer: dict[str, list[Path]] = defaultdict(list)
    for path in written_files():
        stem, _, suffix = path.stem.rpartition("_")
        by_writer[suffix if stem and len(suffix) == 1 else ""].append(path)
    return [by_writer[w] for w in sorted(by_writer)]


def written_groups(index: KnowledgeIndex, files: Sequence[Path]) -> list[Group]:
    """Each written question ``WRITTEN_REPEAT`` times, against the whole index: none of them is a
    sample question, so none needs holding out."""
    groups = []
    for case in (case for path in files for case in read_cases(path)):
        found = index.candidate_features(case.question, today=TODAY)
        group = _group(found, None if case.out_of_scope else case.entry, not case.out_of_scope)
        if group is not None:
            groups.extend([replace(group, written=True)] * WRITTEN_REPEAT)
    return groups


def _logistic(
    rows: Sequence[Sequence[float]],
    labels: Sequence[int],
    *,
    l2: float = 1e-3,
    steps: int = 50,
    balanced: bool = False,
) -> tuple[tuple[float, ...], float]:
    """Logistic regression by Newton's method (IRLS) with a little ridge; converges in a few
    dozen steps whatever the features' scale. ``balanced``: both labels weigh the same in
    total, so 0.5 means even odds rather than the training set's mix. numpy: a dev-tool
    dependency."""
    import numpy as np

    x = np.hstack([np.asarray(rows, dtype=float), np.ones((len(rows), 1))])
    y = np.asarray(labels, dtype=float)
    w = np.ones(len(y))
    if balanced and 0 < y.sum() < len(y):
        w = np.where(y > 0, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    beta = np.zeros(x.shape[1])
    ridge = l2 * len(y) * np.eye(x.shape[1])
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (w * (p - y)) + ridge @ beta
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return tuple(round(float(w), 4) for w in beta[:-1]), round(float(beta[-1]), 4)


def _listwise(
    groups: Sequence[Group], *, l2: float = 1e-3, steps: int = 60
) -> tuple[tuple[float, ...], float]:
    """Stage one fitted for choosing: a conditional logit over each question's candidates and
    a null choice scored 0 (the answer is none of them), maximising the chance that the right
    one (or none, when none is right) comes first. The bias sets where a candidate beats
    nothing. Newton's method over padded arrays; numpy: a dev-tool dependency."""
    import numpy as np

    width = max(len(g.candidates) for g in groups) + 1
    dims = len(Features.names()) + 1
    x = np.zeros((len(groups), width, dims))
    mask = np.zeros((len(groups), width), dtype=bool)
    target = np.zeros((len(groups), width))
    for n, group in enumerate(groups):
        keys = [key for key, _ in group.candidates]
        for k, (_, features) in enumerate(group.candidates):
            x[n, k, :-1] = features.vector()
            x[n, k, -1] = 1.0
        mask[n, : len(keys)] = True
        mask[n, -1] = True  # the null choice: all zeros, score 0
        target[n, keys.index(group.truth) if group.truth in keys else -1] = 1.0
    beta = np.zeros(dims)
    ridge = l2 * len(groups) * np.eye(dims)
    ridge[-1, -1] = 0.0
    for _ in range(steps):
        z = np.where(mask, x @ beta, -np.inf)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        mean = np.einsum("gk,gkd->gd", p, x)
        gradient = np.einsum("gk,gkd->d", p - target, x) + ridge @ beta
        centred = x - mean[:, None, :]
        hessian = np.einsum("gk,gkd,gke->de", p, centred, centred) + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return tuple(round(float(w), 4) for w in beta[:-1]), round(float(beta[-1]), 4)


def _scored(
    group: Group, calibration: Calibration, related: dict[str, frozenset[str]]
) -> list[tuple[str, float, float]]:
    """(key, score, lead) for each candidate, best first, as the matcher computes them."""
    scores = sorted(
        ((key, calibration.score(f)) for key, f in group.candidates), key=lambda t: -t[1]
    )
    return [
        (key, score, lead)
        for (key, _), (score, lead) in zip(scores, evidence(scores, related), strict=True)
    ]


def _length(group: Group) -> float:
    """The question's length (the same in every candidate's features)."""
    return group.candidates[0][1].length if group.candidates else 0.0


def _right(key: str, group: Group, related: dict[str, frozenset[str]]) -> int:
    """Right: the question's own entry, or one closely related to it (same topic)."""
    if group.truth is None:
        return 0
    return int(key == group.truth or key in related.get(group.truth, frozenset()))


def fit(
    groups: Sequence[Group],
    base: Calibration,
    related: dict[str, frozenset[str]],
    outside: frozenset[str] = frozenset(),
) -> Calibration:
    """Stage one: candidate features -> score (is this the question's own entry?), fitted on
    the generated questions; and for long questions a second stage one fitted on the written
    questions (``_listwise``), which the score passes to with the question's length.
    Stage two: score, lead and length -> confidence (is the answer on the question's topic?).
    Stage three: the question's scope features -> is it about civil affairs at all?
    ``outside``: the keys of the out-of-scope matters."""
    generated = [g for g in groups if not g.written]
    written = [g for g in groups if g.written]
    rows = [f.vector() for g in generated or groups for _, f in g.candidates]
    labels = [int(key == g.truth) for g in generated or groups for key, _ in g.candidates]
    weights, bias = _logistic(rows, labels)
    staged = replace(base, weights=weights, bias=bias)
    if written:
        long_weights, long_bias = _listwise(written)
        staged = replace(staged, long_weights=long_weights, long_bias=long_bias)
    second_rows, second_labels = [], []
    for group in groups:
        # The confidence that matters is the winner's: fit it on winners.
        key, score, lead = _scored(group, staged, related)[0]
        second_rows.append([score, min(max(lead, -LEAD_CAP), LEAD_CAP), _length(group)])
        second_labels.append(_right(key, group, related))
    (score_weight, lead_weight, length_weight), final_bias = _logistic(second_rows, second_labels)
    staged = replace(
        staged,
        score_weight=score_weight,
        lead_weight=lead_weight,
        length_weight=length_weight,
        final_bias=final_bias,
    )
    # Stage three: is the question about civil affairs at all?
    scope_rows = [_scope_features(g, staged, related, outside).vector() for g in groups]
    scope_weights, scope_bias = _logistic(scope_rows, [int(g.about) for g in groups], balanced=True)
    return replace(staged, scope_weights=scope_weights, scope_bias=scope_bias)


def _scope_features(
    group: Group,
    calibration: Calibration,
    related: dict[str, frozenset[str]],
    outside: frozenset[str],
) -> ScopeFeatures:
    """As ``KnowledgeIndex.scope`` reads them: the best entry's confidence, the best
    out-of-scope matter's score, the question's signals."""
    ranked = _scored(group, calibration, related)
    entry = next(((k, s, lead) for k, s, lead in ranked if k not in outside), None)
    matter = next((s for key, s, _ in ranked if key in outside), None)
    confidence = calibration.confidence(*entry[1:], _length(group)) if entry else 0.0
    features = dict(group.candidates)
    coverage = features[entry[0]].text_coverage if entry else 0.0
    return ScopeFeatures.of(group.signals, confidence, coverage, matter)


def reliability(
    groups: Sequence[Group],
    calibration: Calibration,
    related: dict[str, frozenset[str]],
    bins: int = 10,
) -> list[dict[str, float]]:
    """For the winner of each question: predicted confidence against how often it was right."""
    grouped: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for group in groups:
        key, score, lead = _scored(group, calibration, related)[0]
        p = calibration.confidence(score, lead, _length(group))
        grouped[min(int(p * bins), bins - 1)].append((p, _right(key, group, related)))
    table = []
    for b in sorted(grouped):
        rows = grouped[b]
        table.append(
            {
                "bin": b / bins,
                "count": len(rows),
                "mean_confidence": round(sum(p for p, _ in rows) / len(rows), 3),
                "accuracy": round(sum(y for _, y in rows) / len(rows), 3),
            }
        )
    return table
