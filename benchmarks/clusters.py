"""Speed and quality of clustering unanswered questions (knowledge.unanswered).

    .venv/bin/python benchmarks/clusters.py [--questions 100000] [--rounds 5] [--one-offs 0.05]
        [--sweep] [--exhaustive]

A synthetic question log is built from the shipped questions (entries and out-of-scope topics)
as templates, drawn with a Zipf-like frequency; 45 % typed exactly as shipped, 40 % as one of
a few favourite variants of the template (Zipf again), 15 % varied once only, perturbed the
way residents type: fillers (请问, 我想问一下, 谢谢), particles, a homophone
for one character, an inserted or dropped character, traditional characters, spaces; plus a
share of one-off stories (halves of two questions) for the long tail.

Prints (asserts nothing):
- time of ``cluster_questions`` over the log (median and max of the rounds), clusters, distinct
  texts and keys, peak RSS; target 10 s for 100,000 questions;
- how the clusters match the templates: purity (questions in a cluster whose most common
  template is theirs) and completeness (questions in the cluster holding most of their
  template's), one-off stories left out;
- the event loop's worst lateness (a task sleeping 10 ms in a loop) while the clustering runs
  in ``asyncio.to_thread``, and without it; target 50 ms;
- with --exhaustive: how far the bounded candidates (inverted index) are from scoring every
  cluster representative (quadratic);
- with --sweep: for thresholds around the default, how many perturbed copies stay with their
  question and how many pairs of different questions would merge (the threshold's evidence).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402

from knowledge.loader import load_shipped  # noqa: E402
from knowledge.normalize import normalize  # noqa: E402
from knowledge.pinyin import readings  # noqa: E402
from knowledge.unanswered import Asked, cluster_questions, question_key  # noqa: E402
from knowledge.unanswered_index import (  # noqa: E402
    SIMILARITY,
    SUBSTITUTION_PENALTY,
    Coder,
    penalty,
)

START = datetime(2026, 11, 1, tzinfo=UTC)
FILLERS_BEFORE = ["请问", "你好，", "您好！", "我想问一下，", "麻烦问下", "老师，", "同志你好 "]
ENDINGS = ["？", "?", "。", "！！", "，谢谢", "谢谢", "吗", "呢？", "啊", "??", " 谢谢！"]
INSERTS = ["要", "去", "的", "我", "可以", "一下", "现在", "还", "都", "那个"]


def templates() -> list[tuple[str, str]]:
    """(topic id, question) for every shipped question."""
    content = load_shipped()
    found = [(e.id, q) for e in content.entries for q in e.questions]
    return found + [(o.id, q) for o in content.out_of_scope for q in o.questions]


class Perturber:
    def __init__(self, corpus: list[str], rng: random.Random) -> None:
        import opencc

        self.rng = rng
        self.to_traditional = opencc.OpenCC("s2t")
        by_sound: dict[str, list[str]] = {}
        for char in sorted({c for q in corpus for c in q if "\u4e00" <= c <= "\u9fff"}):
            if found := readings(char):
                by_sound.setdefault(found[0], []).append(char)
        self.by_sound = {k: v for k, v in by_sound.items() if len(v) > 1}
        self.changes: list[Callable[[str], str]] = [
            lambda q: rng.choice(FILLERS_BEFORE) + q,
            lambda q: q + rng.choice(ENDINGS),
            self.homophone,
            self.insert,
            self.drop,
            lambda q: str(self.to_traditional.convert(q)),
            lambda q: " ".join(q) if rng.random() < 0.3 else q.replace("", " ", 2),
        ]

    def homophone(self, q: str) -> str:
        spots = [i for i, c in enumerate(q) if (r := readings(c)) and r[0] in self.by_sound]
        if not spots:
            return q
        i = self.rng.choice(spots)
        other = self.rng.choice([c for c in self.by_sound[readings(q[i])[0]] if c != q[i]])
        return q[:i] + other + q[i + 1 :]

    def insert(self, q: str) -> str:
        i = self.rng.randrange(len(q) + 1)
        return q[:i] + self.rng.choice(INSERTS) + q[i:]

    def drop(self, q: str) -> str:
        if len(q) < 5:
            return q
        i = self.rng.randrange(len(q))
        return q[:i] + q[i + 1 :]

    def __call__(self, q: str, changes: int) -> str:
        for change in self.rng.sample(self.changes, changes):
            q = change(q)
        return q


def synthetic_log(n: int, seed: int = 1, one_offs: float = 0.05) -> tuple[list[Asked], list[str]]:
    """N questions, and the template (topic id and question) each was made from."""
    rng = random.Random(seed)
    pool = templates()
    rng.shuffle(pool)
    perturb = Perturber([q for _, q in pool], rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(pool))]
    # Each template has a few favourite typings (Zipf again), and some one-off typings.
    variants: dict[int, list[str]] = {}
    items, origin = [], []
    picks = rng.choices(range(len(pool)), weights, k=n)
    for pick in picks:
        topic, question = pool[pick]
        roll = rng.random()
        if roll < one_offs:
            other = rng.choice(pool)[1]
            text = question[: len(question) // 2 + 1] + "，" + other[len(other) // 2 :]
            topic = "one-off"
        elif roll < 0.45:
            text = question
        elif roll < 0.85:
            favourites = variants.setdefault(
                pick, [perturb(question, rng.choice((1, 1, 2))) for _ in range(8)]
            )
            text = rng.choices(favourites, [1 / (i + 1) for i in range(len(favourites))])[0]
        else:
            text = perturb(question, rng.choice((1, 2, 2, 3)))
        asked_at = START + timedelta(seconds=rng.randrange(30 * 86400))
        items.append(Asked(text, asked_at, unhelpful=rng.random() < 0.1))
        origin.append(f"{topic}|{question}" if topic != "one-off" else f"one-off|{text}")
    return items, origin


def quality(items: list[Asked], origin: list[str]) -> tuple[float, float, int]:
    """Purity (questions in a cluster whose most common template is theirs), completeness
    (questions in the cluster holding most of their template's), templates present."""
    clusters = cluster_questions(items, limit=10**9)
    where = {m: i for i, c in enumerate(clusters) for m in c.members}
    by_cluster: dict[int, Counter[str]] = {}
    by_template: dict[str, Counter[int]] = {}
    for item, source in zip(items, origin, strict=True):
        if not question_key(item.text) or source.startswith("one-off"):
            continue
        cluster = where[normalize(item.text)]
        by_cluster.setdefault(cluster, Counter())[source] += 1
        by_template.setdefault(source, Counter())[cluster] += 1
    total = sum(sum(c.values()) for c in by_cluster.values())
    pure = sum(c.most_common(1)[0][1] for c in by_cluster.values())
    whole = sum(c.most_common(1)[0][1] for c in by_template.values())
    return pure / total, whole / total, len(by_template)


def exhaustive(items: list[Asked]) -> None:
    """The same greedy merge scoring every representative (quadratic): what the index misses."""
    from knowledge.unanswered import _Groups
    from knowledge.unanswered_index import merge

    groups = _Groups(items)
    order = sorted(range(len(groups.keys)), key=groups.keys.__getitem__)
    order.sort(key=groups.count.__getitem__, reverse=True)
    keys = [groups.keys[i] for i in order]
    started = time.perf_counter()
    indexed = merge(keys, SIMILARITY)
    indexed_s = time.perf_counter() - started
    started = time.perf_counter()
    coder = Coder()
    reps: list[str] = []
    rep_keys: list[str] = []
    full: list[int] = []
    for key in keys:
        coded = coder.code(key)
        best: tuple[float, int] | None = None
        for _, score, j in process.extract(
            coded, reps, scorer=fuzz.ratio, score_cutoff=SIMILARITY, limit=None
        ):
            score -= penalty(key, rep_keys[j], coded, reps[j])
            if score >= SIMILARITY and (best is None or (score, -j) > best):
                best = (score, -j)
        if best is None:
            full.append(len(reps))
            reps.append(coded)
            rep_keys.append(key)
        else:
            full.append(-best[1])
    full_s = time.perf_counter() - started
    lead_indexed: dict[int, str] = {}
    lead_full: dict[int, str] = {}
    for key, a, b in zip(keys, indexed, full, strict=True):
        lead_indexed.setdefault(a, key)
        lead_full.setdefault(b, key)
    weights = [groups.count[i] for i in order]
    same = sum(
        w for w, a, b in zip(weights, indexed, full, strict=True) if lead_indexed[a] == lead_full[b]
    )
    print(
        f"exhaustive merge: {len(reps):,} clusters in {full_s:.1f} s, indexed {max(indexed) + 1:,} "
        f"in {indexed_s:.1f} s; {same / sum(weights):.2%} of questions get the same cluster"
    )


def spin_for(seconds: float) -> None:
    """Pure-Python work holding the GIL between switches, for comparison."""
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        total += sum(range(100))


class GcPauses:
    """The longest garbage collection (ms) and how many full ones, while in the `with` block."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.full = 0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.longest = max(self.longest, (time.perf_counter() - self._started) * 1000)
        self.full += info["generation"] == 2

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)


async def lateness(work: Callable[[], object] | None, seconds: float = 0.0) -> float:
    """The event loop's worst lateness (ms) of a 10 ms sleep while `work` runs in a thread."""
    worst = 0.0
    done = False

    async def tick() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done:
            started = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - started - 0.01)

    ticker = asyncio.create_task(tick())
    if work is not None:
        await asyncio.to_thread(work)
    else:
        await asyncio.sleep(seconds)
    done = True
    await ticker
    return worst * 1000


def sweep(seed: int = 3) -> None:
    """Recall of perturbed copies and merges of different questions, per threshold."""
    rng = random.Random(seed)
    pool = templates()
    perturb = Perturber([q for _, q in pool], rng)
    keys = [question_key(q) for _, q in pool]
    topics = [t for t, _ in pool]
    coder = Coder()
    coded = [coder.code(k) for k in keys]

    def score(a: str, b: str) -> float:
        ca, cb = coder.code(a), coder.code(b)
        return fuzz.ratio(ca, cb) - penalty(a, b, ca, cb)

    copies: list[tuple[int, float]] = []
    for key, (_, question) in zip(keys, pool, strict=True):
        for changes in (1, 1, 2, 2, 3):
            other = question_key(perturb(question, changes))
            if other and other != key:
                copies.append((changes, score(key, other)))
    ratios = process.cdist(coded, coded, scorer=fuzz.ratio, workers=-1, score_cutoff=60)
    pairs = [
        (topics[i] == topics[j], score(keys[i], keys[j]))
        for i, j in zip(*np.nonzero(ratios), strict=True)
        if i < j
    ]
    different = len(pool) * (len(pool) - 1) // 2
    print(
        f"\nthreshold sweep (penalty {SUBSTITUTION_PENALTY:g} per substituted character; "
        f"{len(pool)} shipped questions, {len(copies)} perturbed copies, "
        f"{different:,} pairs of questions)"
    )
    print("  threshold   copies kept, with 1 / 2 / 3 changes   pairs merged: other / same topic")
    for threshold in (65, 70, 72, 75, 78, 80, 82, 85, 90):
        kept = [
            statistics.mean(s >= threshold for n, s in copies if n == changes)
            for changes in (1, 2, 3)
        ]
        apart = sum(1 for same, s in pairs if not same and s >= threshold)
        alike = sum(1 for same, s in pairs if same and s >= threshold)
        mark = "  (default)" if threshold == SIMILARITY else ""
        print(
            f"  {threshold:>9}   {kept[0]:>12.1%} {kept[1]:>7.1%} {kept[2]:>7.1%}"
            f"   {apart:>24} {alike:>7}{mark}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--one-offs", type=float, default=0.05, help="share of one-off stories (the long tail)"
    )
    parser.add_argument("--sweep", action="store_true", help="print the threshold evidence")
    parser.add_argument(
        "--exhaustive", action="store_true", help="compare with scoring every representative"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    items, origin = synthetic_log(args.questions, args.seed, args.one_offs)
    built = time.perf_counter() - started
    texts = len({i.text for i in items})
    keys = len({k for i in items if (k := question_key(i.text))})
    print(
        f"synthetic log: {len(items):,} questions, {texts:,} distinct texts, {keys:,} distinct "
        f"keys, {len(set(origin)):,} sources (built in {built:.1f} s)"
    )

    times, clusters = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        clusters = cluster_questions(items, limit=10**9)
        times.append(time.perf_counter() - started)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"cluster_questions: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"of {args.rounds} (target 10 s); {len(clusters):,} clusters; peak RSS {rss:.0f} MB"
    )
    biggest = clusters[:3]
    for cluster in biggest:
        print(f"  {cluster.count:>6}  {cluster.label}  ({len(cluster.members)} variants)")

    purity, completeness, present = quality(items, origin)
    print(
        f"quality: purity {purity:.1%}, completeness {completeness:.1%} (questions in the "
        f"cluster holding most of their template's; {present} templates)"
    )
    if args.exhaustive:
        exhaustive(items)

    idle = asyncio.run(lateness(None, seconds=2.0))
    spin = asyncio.run(lateness(lambda: spin_for(statistics.median(times))))
    print(
        f"event loop worst lateness of a 10 ms sleep (target 50 ms): {idle:.1f} ms idle, "
        f"{spin:.1f} ms beside a plain Python loop in a thread (the GIL alone; switch interval "
        f"{sys.getswitchinterval() * 1000:g} ms)"
    )
    for _ in range(args.rounds):
        with GcPauses() as pauses:
            busy = asyncio.run(lateness(lambda: cluster_questions(items)))
        print(
            f"  {busy:5.1f} ms while cluster_questions runs in asyncio.to_thread; longest garbage "
            f"collection {pauses.longest:.1f} ms, {pauses.full} full"
        )

    if args.sweep:
        sweep()


if __name__ == "__main__":
    main()
