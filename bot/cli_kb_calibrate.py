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

    from knowledge.calibrate import fit, reliability, training_groups, writers
    from knowledge.calibration import CALIBRATION_FILE, Calibration
    from knowledge.evaluate import read_cases
    from knowledge.matcher import KnowledgeIndex
    from knowledge.store import snapshot_from_content
    from knowledge.thresholds import choose_thresholds, decide

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

    # Thresholds by cross-fitting: each writer's questions (and the dev set) are decided by
    # the models fitted on the other writers' questions; one choice is made over all of them.
    # Then the models are fitted on every writer's questions.
    by_writer = writers()
    decided = {}
    for left_out in by_writer:
        index.calibration, _ = fitted([p for w in by_writer if w is not left_out for p in w])
        sets = {p.stem: read_cases(p) for p in left_out}
        sets[f"qa_dev, fitted without {left_out[0].stem}"] = dev
        decided.update(decide(index, sets, today))
    threshold, scope_threshold, sweep = choose_thresholds(decided)
    calibration, groups = fitted([p for w in by_writer for p in w])
    index.calibration = calibration
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
            "questions written for fitting (knowledge/training/KIND.jsonl, KIND_b.jsonl … "
            f"by {len(by_writer)} sets of writers: stories, caregivers, Wu, dictation, "
            "loneliness, other departments, daily life), each counted 4 times. "
            f"Threshold {threshold} and scope threshold {scope_threshold}: by cross-fitting, one "
            "choice over every writer's questions, each decided by the models fitted on the "
            f"other writers' questions, and over {args.dev} decided by each of those: the pair "
            "maximising right answers less half for each wrong one (mean over the in-scope "
            "sets) plus rejections (mean over "
            "the out-of-scope sets), each set weighing the same; within 0.005 of the best, the "
            "pair whose worst set does best, then the best mean, the middle of equals. The "
            "held-out sets of tests/knowledge/heldout are never used."
        ),
    )
    calibration.dump(
        CALIBRATION_FILE,
        {
            "reliability": reliability(groups, calibration, index.related),
            "threshold_sweep": sweep,
        },
    )
    print(f"wrote {CALIBRATION_FILE}: threshold {threshold}, scope threshold {scope_threshold}")
    return 0


def add_command(actions: Any) -> None:
    cal = actions.add_parser(
        "calibrate", help="fit the confidence and scope models; thresholds on dev and training"
    )
    cal.add_argument("--dev", required=True, help="the development question set (JSONL)")
    cal.add_argument("--rounds", type=int, default=2, help="fit, re-rank, fit again (default 2)")
    cal.set_defaults(run=cmd_kb_calibrate)
