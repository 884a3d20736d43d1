"""Calibrate the decision to answer at all: refusal rate on the unanswerable eval questions against the
answered rate on the answerable ones, for the score thresholds (ExtractiveParams.min_score,
min_score_en, min_lexical) and with each grounding check (qa/answer/grounding.py CHECKS) left out.

Retrieval and sentence similarities are computed once per question and replayed for every setting, so
a sweep costs seconds after the first pass. Prints markdown tables (benchmarks/results/refusal_calibration.md).

    .venv/bin/python benchmarks/refusal_calibration.py [--index DIR]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from qa.answer import grounding
from qa.answer.chain import AskRequest, build_answer_chain
from qa.answer.extractive import ExtractiveParams
from qa.config import PROJECT_ROOT, Settings
from qa.evaluation.metrics import contains_all
from qa.service import GazetteService


class Replay:
    """The service's search, routes and similarity, memoised: every setting sees the same evidence."""

    def __init__(self, service: GazetteService) -> None:
        self.service = service
        self._search: dict = {}
        self._routes: dict = {}
        self._sim: dict = {}

    def search(self, q, k, filters):
        key = (q, k, json.dumps(filters, sort_keys=True))
        if key not in self._search:
            self._search[key] = self.service.search(q, k, filters)
        return self._search[key]

    def routes(self, q):
        if q not in self._routes:
            self._routes[q] = self.service.searcher.routes(q)
        return self._routes[q]

    def similarity(self, q, sentences):
        key = (q, tuple(sentences))
        if key not in self._sim:
            self._sim[key] = self.service.encoder.similarity(q, sentences)
        return self._sim[key]


def run(replay: Replay, items: list[dict], params: ExtractiveParams) -> dict[str, float]:
    chain = build_answer_chain(replay.search, replay.routes, params, replay.similarity)
    out = {"answered": 0, "n_ans": 0, "refused": 0, "n_unans": 0, "correct": 0}
    for half in ("a", "b"):
        out[f"refused_{half}"] = out[f"n_unans_{half}"] = out[f"answered_{half}"] = out[f"n_ans_{half}"] = 0
    for it in items:
        r = chain.invoke(AskRequest(it["question"]))
        half = it["id"][0]
        if it["type"] == "unanswerable":
            out["n_unans"] += 1
            out[f"n_unans_{half}"] += 1
            out["refused"] += not r.answered
            out[f"refused_{half}"] += not r.answered
            out["correct"] += not r.answered
        else:
            out["n_ans"] += 1
            out[f"n_ans_{half}"] += 1
            out["answered"] += r.answered
            out[f"answered_{half}"] += r.answered
            out["correct"] += r.answered and contains_all(r.answer, it["must_contain"])
    return out


def row(label: str, o: dict) -> str:
    return (f"| {label} | {o['refused'] / o['n_unans']:.3f} ({o['refused']}/{o['n_unans']}) "
            f"| {o['answered'] / o['n_ans']:.3f} ({o['answered']}/{o['n_ans']}) "
            f"| {o['refused_a'] / o['n_unans_a']:.3f} / {o['refused_b'] / o['n_unans_b']:.3f} "
            f"| {o['answered_a'] / o['n_ans_a']:.3f} / {o['answered_b'] / o['n_ans_b']:.3f} "
            f"| {o['correct'] / (o['n_ans'] + o['n_unans']):.3f} |")


HEADER = ("| setting | refused (unanswerable) | answered (answerable) | refused a/b | answered a/b | accuracy |\n"
          "|---|---|---|---|---|---|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=Path, default=PROJECT_ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--index", type=Path, default=None)
    args = ap.parse_args()
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    replay = Replay(GazetteService.load(settings))
    items = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = ExtractiveParams()

    print(f"Chosen: min_score={base.min_score}, min_score_en={base.min_score_en}, min_lexical={base.min_lexical}\n")
    print("## Threshold sweeps (all grounding checks on)\n")
    for name, values in (("min_score", (0.2, 0.3, 0.35, 0.45, 0.55, 0.65, 0.75)),
                         ("min_score_en", (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)),
                         ("min_lexical", (0.0, 0.1, 0.2, 0.25, 0.3, 0.4))):
        print(f"### {name}\n\n{HEADER}")
        for v in values:
            mark = " (chosen)" if getattr(base, name) == v else ""
            print(row(f"{name}={v}{mark}", run(replay, items, replace(base, **{name: v}))))
        print()

    print(f"## Grounding checks left out one at a time\n\n{HEADER}")
    print(row("all checks", run(replay, items, base)))
    checks = dict(grounding.CHECKS)
    for name in checks:
        grounding.CHECKS.clear()
        grounding.CHECKS.update({k: f for k, f in checks.items() if k != name})
        print(row(f"without {name}", run(replay, items, base)))
    grounding.CHECKS.clear()
    print(row("no checks", run(replay, items, base)))
    grounding.CHECKS.update(checks)


if __name__ == "__main__":
    main()
