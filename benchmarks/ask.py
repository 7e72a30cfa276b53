"""Answer quality and speed of the knowledge matcher, beside a plain BM25 baseline.

    .venv/bin/python benchmarks/ask.py [--dev ../shared/eval/qa_dev.jsonl] [--synthetic 10000]

Prints (asserts nothing):
- accuracy on the development set and on the held-out sets in tests/ (overall, per tag and per
  kind of asking), for the matcher and for a BM25 baseline (``knowledge.baseline``: jieba +
  rank_bm25 over the same entries' titles, keywords and questions; its fallback threshold chosen
  on the same dev set);
- latency per question with the shipped content (p50, p99);
- index build time and p99 latency with N synthetic entries;
- resident memory of a process holding the shipped index, and of `minzheng serve` with it.
Targets: in-scope >= 95 %, out-of-scope rejection >= 95 %, each kind of asking >= 90 %
(issue 14); p50 <= 0.5 ms, p99 <= 2 ms; synthetic: build <= 10 s, p99 <= 10 ms; RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.memory import long_lived  # noqa: E402
from knowledge.analyzer import _jieba  # noqa: E402
from knowledge.baseline import Bm25Baseline  # noqa: E402
from knowledge.evaluate import Case, evaluate, read_cases  # noqa: E402
from knowledge.loader import load_shipped  # noqa: E402
from knowledge.matcher import Answer, KnowledgeIndex  # noqa: E402
from knowledge.store import KnowledgeSnapshot, PublishedEntry, snapshot_from_content  # noqa: E402

TODAY = date(2026, 11, 28)
HELDOUT = ROOT / "tests" / "knowledge" / "heldout"
# As `serve` builds: under the composition root's memory policy.
build = long_lived(KnowledgeIndex.build)


def figures(cases: Sequence[Case], ask: Callable[[str], Answer]) -> dict[str, float]:
    summary = evaluate(cases, ask).summary()
    out = {}
    if summary["in_scope"]:
        out["in-scope"] = summary["in_scope_accuracy"]
    if summary["out_of_scope"]:
        out["out-of-scope rejection"] = summary["out_of_scope_rejection"]
    for tag, tagged in summary["by_tag"].items():
        out[f"tag {tag}"] = tagged["accuracy"]
    return out


def matcher_ask(index: KnowledgeIndex) -> Callable[[str], Answer]:
    return lambda question: index.ask(question, today=TODAY)


def latencies(index: KnowledgeIndex, questions: Sequence[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            index.ask(question, today=TODAY)
            times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def synthetic_snapshot(n: int, base: KnowledgeSnapshot, seed: int = 1) -> KnowledgeSnapshot:
    """N entries made of real Chinese words (jieba's dictionary) and the domain's words."""
    rng = random.Random(seed)
    vocabulary = [w for w, f in _jieba().FREQ.items() if f > 50 and 2 <= len(w) <= 4]
    domain = sorted({k for e in base.entries for k in e.keywords if not k.isascii()})
    template = base.entries[0]
    entries = []
    for i in range(n):
        words = rng.sample(vocabulary, 6) + rng.sample(domain, 2)
        questions = tuple(
            "".join(rng.sample(words, 3)) + rng.choice(["怎么办", "在哪里", "要什么材料", "吗"])
            for _ in range(6)
        )
        entries.append(
            PublishedEntry(
                **{
                    **template.__dict__,
                    "id": f"synthetic-{i}",
                    "title": "".join(words[:3]),
                    "questions": questions,
                    "keywords": tuple(words[3:6]),
                }
            )
        )
    return KnowledgeSnapshot(tuple(entries), base.synonyms, base.out_of_scope)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def matcher_process_rss() -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from knowledge.loader import load_shipped\n"
        "from knowledge.store import snapshot_from_content\n"
        "from knowledge.matcher import KnowledgeIndex\n"
        "from bot.memory import long_lived\n"
        "import datetime\n"
        "i = long_lived(KnowledgeIndex.build)(snapshot_from_content(load_shipped()))\n"
        "i.ask('低保怎么申请', today=datetime.date(2026, 11, 28))\n"
        "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def serve_process_rss() -> float:
    """RSS of `minzheng serve` once its knowledge index is built and a question answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    minzheng = str(Path(sys.executable).with_name("minzheng"))
    with tempfile.TemporaryDirectory() as folder:
        env = {"PATH": os.environ.get("PATH", ""), "MINZHENG_HTTP_PORT": str(port)}
        subprocess.run([minzheng, "seed"], cwd=folder, env=env, capture_output=True, check=True)
        process = subprocess.Popen(
            [minzheng, "serve"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            body = json.dumps({"question": "低保怎么申请"}).encode()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/api/ask", data=body, method="POST"
                    )
                    with urllib.request.urlopen(request, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                time.sleep(0.2)
            time.sleep(1)
            return rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"))
    parser.add_argument("--heldout", default=str(ROOT / "tests/knowledge/heldout_questions.jsonl"))
    parser.add_argument("--synthetic", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--builds", type=int, default=3, help="synthetic builds to time")
    args = parser.parse_args()

    snapshot = snapshot_from_content(load_shipped())
    started = time.perf_counter()
    index = build(snapshot)
    build_s = time.perf_counter() - started
    baseline = Bm25Baseline(snapshot.entries)
    dev = read_cases(Path(args.dev))
    baseline.choose_threshold(dev)
    sets = [("dev", dev)]
    if Path(args.heldout).exists():
        sets.append(("held-out", read_cases(Path(args.heldout))))
    sets.extend((path.stem, read_cases(path)) for path in sorted(HELDOUT.glob("*.jsonl")))

    print(f"shipped content: {len(snapshot.entries)} entries, index built in {build_s:.2f} s")
    for name, cases in sets:
        ours = figures(cases, matcher_ask(index))
        theirs = figures(cases, baseline.ask)
        print(f"\n{name} set ({len(cases)} questions)      matcher   BM25 baseline")
        for key in ours:
            print(f"  {key:<28} {ours[key]:>7.1%}   {theirs.get(key, 0.0):>7.1%}")
    print(f"  (BM25 fallback threshold chosen on dev: {baseline.threshold})")

    questions = [case.question for _, cases in sets for case in cases]
    times = latencies(index, questions, args.rounds)
    print(
        f"\nlatency, shipped content, {len(times)} asks: p50 {percentile(times, 50):.3f} ms, "
        f"p99 {percentile(times, 99):.3f} ms, max {max(times):.3f} ms "
        "(targets 0.5 / 2 ms)"
    )
    long_question = "低保怎么申请" * 20_000
    long_times = [latencies(index, [long_question], 1)[0] for _ in range(50)]
    print(f"  a 120,000-character question: median {statistics.median(long_times):.3f} ms")

    if args.synthetic:
        synthetic = synthetic_snapshot(args.synthetic, snapshot)
        builds = []
        for _ in range(args.builds):
            started = time.perf_counter()
            big = build(synthetic)
            builds.append(time.perf_counter() - started)
        big_build = statistics.median(builds)
        rng = random.Random(2)
        probes = [rng.choice(e.questions) for e in rng.sample(list(synthetic.entries), 1000)]
        big_times = latencies(big, probes + questions, 1)
        print(
            f"\n{args.synthetic} synthetic entries: build median {big_build:.2f} s of "
            f"{args.builds} (min {min(builds):.2f} s; target 10 s), "
            f"p50 {percentile(big_times, 50):.3f} ms, p99 {percentile(big_times, 99):.3f} ms "
            "(target 10 ms)"
        )

    print(f"\nRSS, a process holding the shipped index: {matcher_process_rss():.1f} MB")
    print(
        f"RSS, `minzheng serve` with the shipped index: {serve_process_rss():.1f} MB "
        "(target 200 MB)"
    )


if __name__ == "__main__":
    main()
