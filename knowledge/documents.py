"""The matcher's documents: an entry or an out-of-scope matter, its title and sample questions
analysed once. The analysis (segmenting, pinyin, terms) is most of an index build, so it is kept
per document and reused by the next build when the document's texts have not changed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from knowledge.analyzer import Analyzer
from knowledge.normalize import normalize
from knowledge.schema import OutOfScopeIn
from knowledge.store import KnowledgeSnapshot, PublishedEntry
from knowledge.terms import Kind, Term

TITLE_REPEAT = 2


@dataclass(frozen=True)
class Sample:
    text: str
    pinyin: str
    terms: frozenset[Term]


@dataclass(frozen=True)
class Doc:
    key: str
    title: str
    entry: PublishedEntry | None
    out_of_scope: OutOfScopeIn | None
    samples: tuple[Sample, ...]  # the title and the sample questions, analysed
    terms: frozenset[Term]
    # For each term, which samples hold it: per-question coverage without scanning them all.
    term_samples: dict[Term, tuple[int, ...]] = field(default_factory=dict)
    sample_texts: tuple[str, ...] = ()
    sample_sounds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    entry: PublishedEntry | None
    out_of_scope: OutOfScopeIn | None
    # What is analysed: the title and questions, the keywords, the signs of needs it answers.
    texts: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def sources_of(snapshot: KnowledgeSnapshot) -> Iterator[Source]:
    """Each document's texts: its title and sample questions, then the signs of needs it answers
    (``cues``), which count as questions a resident might have asked."""
    signs: dict[str, list[str]] = defaultdict(list)
    for cue in snapshot.cues:
        for entry in cue.entries:
            signs[entry].extend(cue.signs)
    for e in snapshot.entries:
        texts = ((e.title, *e.questions), tuple(e.keywords), tuple(dict.fromkeys(signs[e.id])))
        yield Source(e.id, e.title, e, None, texts)
    for o in snapshot.out_of_scope:
        yield Source(o.id, o.title, None, o, ((o.title, *o.questions), tuple(o.keywords), ()))


@dataclass(frozen=True)
class Analysed:
    """One document's analysis, independent of the entry's other fields (answer, details …)."""

    texts: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
    samples: tuple[Sample, ...]  # the title and the questions
    asked: int  # how many they are
    bag: Counter[Term]
    term_samples: dict[Term, tuple[int, ...]]
    # The document's contribution to the words misspelt questions are corrected towards.
    domain: frozenset[str]

    def doc(self, entry: PublishedEntry | None, out_of_scope: OutOfScopeIn | None) -> Doc:
        key = entry.id if entry else out_of_scope.id if out_of_scope else ""
        title = entry.title if entry else out_of_scope.title if out_of_scope else ""
        return Doc(
            key,
            title,
            entry,
            out_of_scope,
            self.samples,
            frozenset(self.bag),
            self.term_samples,
            # Whole questions to compare whole questions with (a sign is only a phrase).
            tuple(sample.text for sample in self.samples[: self.asked]),
            tuple(sample.pinyin for sample in self.samples[: self.asked]),
        )


def analyse(analyzer: Analyzer, source: Source) -> Analysed:
    questions, keywords, signs = source.texts
    texts = (*questions, *signs)
    bag: Counter[Term] = Counter()
    samples = []
    domain: set[str] = set()
    where: dict[Term, list[int]] = defaultdict(list)
    for position, text in enumerate(texts):
        analyzed = analyzer.analyze(text)
        terms = analyzed.all_terms()
        repeat = TITLE_REPEAT if position == 0 else 1
        for term in terms:
            bag[term] += repeat
        if position >= len(questions):
            # A sign counts in the bag only: per-question coverage and similarity compare whole
            # questions, and signs have their own index (``knowledge.cues``).
            continue
        unique = frozenset(terms)
        for term in unique:
            where[term].append(position)
        samples.append(Sample(analyzed.text, analyzed.pinyin, unique))
        if position == 0:
            domain.add(analyzed.text)
            domain.update(t.text for t in analyzed.terms if t.kind is Kind.WORD)
    if keywords:
        # One pass over all keywords: the separators keep their terms apart.
        analyzed = analyzer.analyze("，".join(keywords))
        domain.update(analyzer.synonyms.apply(normalize(k)) for k in keywords)
        domain.update(t.text for t in analyzed.terms if t.kind is Kind.WORD)
        for term in analyzed.all_terms():
            bag[term] += 1
    return Analysed(
        texts=source.texts,
        samples=tuple(samples),
        asked=len(questions),
        bag=bag,
        term_samples={term: tuple(positions) for term, positions in where.items()},
        domain=frozenset(domain),
    )
