"""Dump, per eval question, the answerer's candidate sentences with their score components, so the
extractive parameters (weights, refusal threshold) can be chosen offline on the eval set.

    .venv/bin/python benchmarks/answer_features.py --out /tmp/features.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.answer.extractive import ExtractiveParams, _cue_bonus, _overlap, split_sentences
from qa.question import analyse, bigrams
from qa.config import PROJECT_ROOT, Settings
from qa.corpus.normalize import squash
from qa.service import GazetteService


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=Path, default=PROJECT_ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--index", type=Path, default=None)
    args = ap.parse_args()
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    service = GazetteService.load(settings)
    params = ExtractiveParams()
    rows = []
    items = [json.loads(l) for l in args.questions.read_text(encoding="utf-8").splitlines() if l.strip()]
    for item in items:
        info = analyse(item["question"])
        hits = service.search(item["question"], top_k=10)
        routes = service.searcher.routes(item["question"])
        cands = []
        for i, hit in enumerate(hits[:5]):
            c = hit.chunk
            context = f"{c.doc_title} {' '.join(c.section_path)}"
            body = c.embed_text.split("\n", 2)[-1] if c.chunk_type == "table" else c.text
            sents = split_sentences(body)
            cos = service.encoder.similarity(info.text, sents) if sents else []
            for s, cs in zip(sents, cos):
                cands.append({
                    "hit": i, "sentence": s, "lexical": _overlap(bigrams(info.content), s, context),
                    "cue": _cue_bonus(info, s, hit), "cos": cs,
                    "keys": all(squash(k) in squash(s) for k in item["must_contain"]) if item["must_contain"] else False,
                    "evidence": any(squash(e) in squash(c.text) for e in item["evidence"]),
                })
        rows.append({"id": item["id"], "type": item["type"], "lang": item["lang"], "question": item["question"],
                     "unanswerable": item["type"] == "unanswerable", "must_contain": item["must_contain"],
                     "years": info.years, "cues": sorted(info.cues), "doc_route": bool(routes.doc_numbers),
                     "persons": routes.persons,
                     "hits": [{"dense": h.scores.get("dense"), "bm25": h.scores.get("bm25"), "fused": h.score,
                               "type": h.chunk.chunk_type, "year": h.chunk.year,
                               "evidence": any(squash(e) in squash(h.chunk.text) for e in item["evidence"])} for h in hits],
                     "candidates": cands})
    args.out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
