"""A plain BM25 baseline to measure the matcher against: jieba words and ``rank_bm25`` over the
same entries' titles, keywords and sample questions, the best entry answered when its score
passes a threshold chosen on a development set (in-scope accuracy + out-of-scope rejection)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from knowledge.analyzer import STOPWORDS
from knowledge.evaluate import Case, evaluate
from knowledge.matcher import Answer
from knowledge.normalize import normalize
from knowledge.store import PublishedEntry
from knowledge.tokenizer import base_tokenizer

THRESHOLDS = tuple(t / 2 for t in range(41))


class Bm25Baseline:
    def __init__(self, entries: Sequence[PublishedEntry]) -> None:
        from rank_bm25 import BM25Okapi

        self.entries = list(entries)
        corpus = [
            self._tokens(" ".join([e.title, *e.keywords, *e.questions])) for e in self.entries
        ]
        self.bm25 = BM25Okapi(corpus)
        self.threshold = 0.0

    @staticmethod
    def _tokens(text: str) -> list[str]:
        words = base_tokenizer().lcut(normalize(text))
        return [w for w in words if w.strip() and w not in STOPWORDS]

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        tokens = self._tokens(question)
        best, value = None, 0.0
        if tokens and self.entries:
            scores = self.bm25.get_scores(tokens)
            position = max(range(len(scores)), key=lambda i: scores[i])
            best, value = self.entries[position], float(scores[position])
        answered = best is not None and value > self.threshold
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(question, not answered, best if answered else None, value, (), elapsed)

    def choose_threshold(self, cases: Sequence[Case]) -> float:
        """The threshold of ``THRESHOLDS`` with the best in-scope accuracy plus out-of-scope
        rejection on ``cases`` (the lowest of equals)."""
        best_value, best_threshold = -1.0, 0.0
        for threshold in THRESHOLDS:
            self.threshold = threshold
            summary = evaluate(cases, self.ask).summary()
            value = summary["in_scope_accuracy"] + summary["out_of_scope_rejection"]
            if value > best_value:
                best_value, best_threshold = value, threshold
        self.threshold = best_threshold
        return best_threshold
