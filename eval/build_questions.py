"""Build eval/questions.jsonl from the hand-written specs in eval/sources/*.jsonl.

Questions, answers and key strings are written by people reading the corpus; the
evidence is copied here, by program, out of the corpus file, so it is verbatim.
A spec's evidence item is {"file": "2022-03.txt", "text": "...", "line": 123?}:
`text` must occur in the file (on `line` when given, else exactly once).

    python eval/build_questions.py            # writes eval/questions.jsonl
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCES = ROOT / "eval" / "sources"
OUT = ROOT / "eval" / "questions.jsonl"

FIELDS = ["id", "question", "answer", "must_contain", "type", "lang", "source_file", "doc_number", "evidence"]


class SpecError(ValueError):
    pass


def copy_evidence(item: dict, files: dict[str, str]) -> str:
    name, text = item["file"], item["text"]
    if name not in files:
        raise SpecError(f"unknown corpus file {name!r}")
    content = files[name]
    if "line" in item:
        lines = content.split("\n")
        n = int(item["line"])
        if not 1 <= n <= len(lines):
            raise SpecError(f"{name}: line {n} out of range")
        line = lines[n - 1]
        pos = line.find(text)
        if pos < 0:
            raise SpecError(f"{name}:{n}: {text!r} not on that line: {line!r}")
        return line[pos : pos + len(text)]
    count = content.count(text)
    if count == 0:
        raise SpecError(f"{name}: {text!r} not found")
    if count > 1:
        raise SpecError(f"{name}: {text!r} occurs {count} times; give its line")
    pos = content.find(text)
    return content[pos : pos + len(text)]


def build(sources: Path = SOURCES, corpus: Path = CORPUS) -> list[dict]:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))}
    out: list[dict] = []
    errors: list[str] = []
    for spec_file in sorted(sources.glob("*.jsonl")):
        for lineno, raw in enumerate(spec_file.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                spec = json.loads(raw)
                evidence = [copy_evidence(e, files) for e in spec.get("evidence", [])]
                record = {k: spec.get(k) for k in FIELDS if k != "evidence"}
                record["lang"] = record["lang"] or "zh"
                record["must_contain"] = record["must_contain"] or []
                record["evidence"] = evidence
                out.append(record)
            except (SpecError, json.JSONDecodeError, KeyError) as exc:
                errors.append(f"{spec_file.name}:{lineno}: {exc}")
    if errors:
        raise SpecError("\n".join(errors))
    return out


def main() -> int:
    try:
        records = build()
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} questions to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
