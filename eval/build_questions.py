"""Build eval/questions.jsonl from the hand-written specs in eval/sources/*.jsonl.

Questions, answers and key strings are written by people reading the corpus; the
evidence is copied here, by program, out of the corpus file, so it is verbatim.
A spec's evidence item is {"file": "2022-03.txt", "text": "...", "line": 123?}:
`text` must occur in the file (on `line` when given, else exactly once).

An unanswerable near miss carries an absence check, verified here against the
corpus text (NFKC, all whitespace removed, so line breaks cannot hide a string):

    "absence": {"kind": "attribute" | "year" | "person" | "city_fact" | "english",
                "near": ["阳泉市第三人民医院"],        # each occurs in scope: a near miss
                "must_not_occur": ["床位"],            # none occurs in scope ...
                "window": 200,                          # ... or, when given, none within
                                                        #     200 characters of a near hit
                "scope": "all" | ["2023-06"]}           # issues (corpus file stems)

Every item names the issue(s) it is about in `issues` (corpus file stems such as
"2022-03"), for leave-one-issue-out folds: taken from the spec when it gives
them (an item without evidence, e.g. an unanswerable one, must), else derived
from its evidence files and source_file. Given issues must include those.
A failing check aborts the build with the item's id and the offending text.

    python eval/build_questions.py            # writes eval/questions.jsonl
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCES = ROOT / "eval" / "sources"
OUT = ROOT / "eval" / "questions.jsonl"

FIELDS = ["id", "question", "answer", "must_contain", "type", "lang", "source_file", "doc_number", "evidence",
          "issues", "absence"]
ABSENCE_KINDS = ("attribute", "year", "person", "city_fact", "english")


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


def squash(text: str) -> str:
    """The form absence checks match in: NFKC, no whitespace (the PDF text breaks lines mid-word)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _occurrences(text: str, needle: str) -> list[int]:
    out, pos = [], text.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = text.find(needle, pos + 1)
    return out


def check_absence(spec: dict, texts: dict[str, str]) -> None:
    """Raise SpecError unless the item is a verified near miss; `texts` maps issue id -> squashed text."""
    absence = spec.get("absence")
    if spec.get("type") != "unanswerable":
        if absence:
            raise SpecError("an absence check on an answerable item")
        return
    if not absence:
        return  # the older hand-checked unanswerables (parts a, b) carry none
    if set(absence) - {"kind", "near", "must_not_occur", "window", "scope"}:
        raise SpecError(f"unknown absence keys {sorted(set(absence) - {'kind', 'near', 'must_not_occur', 'window', 'scope'})}")
    if absence.get("kind") not in ABSENCE_KINDS:
        raise SpecError(f"absence kind {absence.get('kind')!r} not one of {ABSENCE_KINDS}")
    near, forbidden = absence.get("near") or [], absence.get("must_not_occur") or []
    if not near or not forbidden or not all(isinstance(x, str) and squash(x) for x in near + forbidden):
        raise SpecError("absence needs non-empty string lists `near` and `must_not_occur`")
    scope = absence.get("scope", "all")
    issues = sorted(texts) if scope == "all" else scope
    if not isinstance(issues, list) or not issues or set(issues) - set(texts):
        raise SpecError(f"absence scope {scope!r}: not 'all' or a list of issues {sorted(texts)}")
    window = absence.get("window")
    if window is not None and (not isinstance(window, int) or window <= 0):
        raise SpecError(f"absence window {window!r} is not a positive number of characters")
    for term in near:
        if not any(squash(term) in texts[i] for i in issues):
            raise SpecError(f"near term {term!r} does not occur in {scope}: not a near miss")
    for bad in forbidden:
        needle = squash(bad)
        for issue in issues:
            text = texts[issue]
            for pos in _occurrences(text, needle):
                if window is None:
                    context = text[max(0, pos - 30) : pos + len(needle) + 30]
                    raise SpecError(f"{bad!r} occurs in {issue}: …{context}… (the gazette may answer)")
                for term in near:
                    for hit in _occurrences(text, squash(term)):
                        if hit - window <= pos <= hit + len(squash(term)) + window:
                            context = text[max(0, pos - 30) : pos + len(needle) + 30]
                            raise SpecError(f"{bad!r} occurs within {window} characters of {term!r} in {issue}: …{context}…")


def as_list(value) -> list[str]:
    return value if isinstance(value, list) else ([value] if value else [])


def item_issues(spec: dict, known: set[str]) -> list[str]:
    """The item's issues: the spec's own, checked, else those its evidence and source_file name."""
    named = {Path(f).stem for f in as_list(spec.get("source_file"))}
    named |= {Path(e["file"]).stem for e in spec.get("evidence", [])}
    given = spec.get("issues")
    if given is None:
        if not named:
            raise SpecError("no evidence or source_file to take its issues from: give `issues`")
        return sorted(named)
    if not isinstance(given, list) or not given or not all(isinstance(i, str) for i in given):
        raise SpecError(f"`issues` must be a non-empty list of issue ids, got {given!r}")
    if unknown := set(given) - known:
        raise SpecError(f"unknown issues {sorted(unknown)}")
    if missing := named - set(given):
        raise SpecError(f"`issues` leaves out {sorted(missing)}, named by its evidence/source_file")
    if len(set(given)) != len(given):
        raise SpecError(f"`issues` repeats an issue: {given!r}")
    return sorted(given)


def build(sources: Path = SOURCES, corpus: Path = CORPUS) -> list[dict]:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))}
    texts = {Path(name).stem: squash(text) for name, text in files.items()}
    out: list[dict] = []
    errors: list[str] = []
    for spec_file in sorted(sources.glob("*.jsonl")):
        for lineno, raw in enumerate(spec_file.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            spec = None
            try:
                spec = json.loads(raw)
                evidence = [copy_evidence(e, files) for e in spec.get("evidence", [])]
                issues = item_issues(spec, set(texts))
                check_absence(spec, texts)
                record = {k: spec.get(k) for k in FIELDS if k != "evidence"}
                record["lang"] = record["lang"] or "zh"
                record["must_contain"] = record["must_contain"] or []
                record["evidence"] = evidence
                record["issues"] = issues
                if record["absence"] is None:
                    del record["absence"]
                out.append(record)
            except (SpecError, json.JSONDecodeError, KeyError) as exc:
                errors.append(f"{spec_file.name}:{lineno} ({spec.get('id', '?') if isinstance(spec, dict) else '?'}): {exc}")
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
