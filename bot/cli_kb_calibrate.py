"""``minzheng kb calibrate --dev FILE``: fit the confidence and scope models on the shipped
content and the written training questions, then choose both thresholds; writes
``knowledge/calibration.json`` with how it was done."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings
from knowledge.loader import load_shipped


def cmd_kb_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from knowledge.calibrate import fit, halves, reliability, training_groups
    from knowledge.calibration import CALIBRATION_FILE, Calibration
    from knowledge.evaluate import read_cases
    from knowledge.matcher import KnowledgeIndex
    from knowledge.store import snapshot_from_content
    from knowledge.thresholds import choose_thresholds

    content = load_shipped()
    outside = frozenset(o.id for o in content.out_of_scope)
    index = KnowledgeIndex.build(snapshot_from_content(content), Calibration.default())
    today = datetime.now(settings.tz).date()
    dev = read_cases(Path(args.dev))

    def fitted(written: list[Path]) -> tuple[Calibration, list[Any]]:
        calibration, groups = Calibration.default(), []
        for _ in range(args.rounds):
            # Candidates are ranked by the current model, so fit, re-rank and fit again.
            groups = training_groups(content, written)
            calibration = fit(groups, calibration, index.related, outside)
            calibration.dump(CALIBRATION_FILE)
        return calibration, groups

    # Thresholds by cross-fitting: fitted on one writer's questions, chosen on the other's
    # (and the dev set), both ways; then the models are fitted on all of them.
    first, second = halves()
    chosen = []
    for fit_on, choose_on in ((first, second), (second, first)):
        index.calibration, _ = fitted(fit_on)
        sets = {"qa_dev": dev, **{p.stem: read_cases(p) for p in choose_on}}
        chosen.append(choose_thresholds(index, sets, today))
    calibration, groups = fitted(first + second)
    index.calibration = calibration
    threshold = _grid(sum(c[0] for c in chosen) / len(chosen))
    scope_threshold = _grid(sum(c[1] for c in chosen) / len(chosen))
    sweep = [
        {"fitted_on": n, "threshold": c[0], "scope_threshold": c[1], "best": c[2][:3]}
        for n, c in zip(("KIND.jsonl", "KIND_b.jsonl"), chosen, strict=True)
    ]
    right = sum(int(g.candidates[0][0] == g.truth) for g in groups)
    calibration = replace(
        calibration,
        threshold=threshold,
        scope_threshold=scope_threshold,
        notes=(
            f"Three-stage logistic model fitted on {len(groups)} training questions (top "
            f"candidate the own entry for {right}). Stage one scores a candidate as the "
            "question's own entry: for short questions fitted on the generated ones, for long "
            "questions (long_weights, passed to by the question's length) a conditional logit "
            "fitted on the written ones; stage two gives the confidence that the answer is on "
            "the question's topic (its entry or one it lists as related) from that score, the "
            "lead over the best unrelated rival and the question's length; stage three "
            "(knowledge.scope) the probability that the question is about civil affairs at all. "
            "Training: the shipped content's "
            "sample questions by 5-fold cross-validation, each asked as written, with homophone "
            "typos, as pinyin, in traditional characters, cut to key words, wrapped in everyday "
            "words, and with its key word swapped for another department's matter, some entries "
            "left out of each fold's index so that their questions are unanswerable; and the "
            "questions written for fitting (knowledge/training/KIND.jsonl: stories, caregivers, "
            "Wu, dictation, loneliness, other departments, daily life), each counted 4 times. "
            f"Threshold {threshold} and scope threshold {scope_threshold}: by cross-fitting, the "
            "mean of two choices, each made with the models fitted on one writer's questions "
            "(KIND.jsonl or KIND_b.jsonl) and chosen on the other's and on "
            f"{args.dev}: the pair "
            "maximising right answers (mean over the in-scope sets) plus rejections (mean over "
            "the out-of-scope sets), each set weighing the same, the middle of equals. The "
            "held-out sets of tests/knowledge/heldout are never used."
        ),
    )
    calibration.dump(
        CALIBRATION_FILE,
        {"reliability": reliability(groups, calibration, index.related), "threshold_sweep": sweep},
    )
    print(f"wrote {CALIBRATION_FILE}: threshold {threshold}, scope threshold {scope_threshold}")
    return 0


def _grid(value: float) -> float:
    """A threshold on the sweep's grid of 0.025."""
    return round(round(value * 40) / 40, 3)


def add_command(actions: Any) -> None:
    cal = actions.add_parser(
        "calibrate", help="fit the confidence and scope models; thresholds on dev and training"
    )
    cal.add_argument("--dev", required=True, help="the development question set (JSONL)")
    cal.add_argument("--rounds", type=int, default=2, help="fit, re-rank, fit again (default 2)")
    cal.set_defaults(run=cmd_kb_calibrate)
