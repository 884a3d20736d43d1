"""Write an eval report as eval/reports/<name>.json / .md / .png, and diff two reports."""
from __future__ import annotations

import json
import os
from pathlib import Path

from qa.config import PROJECT_ROOT

REPORTS_DIR = PROJECT_ROOT / "eval" / "reports"
HEADLINE = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "accuracy", "accuracy_answerable",
            "citation_precision", "citation_recall", "correct_among_answered", "answered_rate", "refusal_rate")
CHART_METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "accuracy")
BREAKDOWN_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "accuracy", "citation_precision", "answered_rate")
MAX_MD_FAILURES = 150
BASELINE_NAME = "langchain-baseline"


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_report(report: dict, out_dir: Path | str = REPORTS_DIR, name: str | None = None) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or report["name"]
    paths = {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md", "png": out_dir / f"{name}.png"}
    _atomic_write(paths["json"], lambda p: p.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n",
                                                        encoding="utf-8"))
    _atomic_write(paths["md"], lambda p: p.write_text(markdown(report), encoding="utf-8"))
    _atomic_write(paths["png"], lambda p: plot(report, p))
    return paths


# ------------------------------------------------------------------------------------------ markdown


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def _cell(values: list) -> str:
    return " / ".join(_fmt(v) for v in values)


def markdown(report: dict) -> str:
    systems = list(report["systems"])
    figs = [report["systems"][s] for s in systems]
    git = report.get("git") or {}
    out = [f"# Eval report `{report['name']}`", "",
           f"- created: {report['created']}",
           f"- commit: {git.get('commit')}{' (uncommitted changes)' if git.get('dirty') else ''}",
           f"- questions: {report['questions']} ({figs[0]['overall']['n']} asked; selection {report['selection']})",
           f"- systems: {', '.join(systems)}"]
    for s, f in zip(systems, figs):
        cfg = f["config"]
        model = cfg.get("embedding_model") or cfg.get("model")
        out.append(f"- {s}: model {model}, {f['seconds']} s"
                   + (f", index {cfg['index_dir']} ({cfg['index_manifest'].get('chunk_count')} chunks)"
                      if "index_manifest" in cfg else f", {cfg.get('n_chunks')} chunks"))
    out += ["", "## Overall", ""]
    out += _table(["metric", *systems], [[m, *[f["overall"].get(m) for f in figs]] for m in HEADLINE]
                  + [["answer_chars_p50", *[f["overall"].get("answer_chars_p50") for f in figs]],
                     ["errors", *[f["overall"]["errors"] for f in figs]]])
    out += ["", "Retrieval figures are over answerable questions (top 10 of `search`); accuracy over all "
            "(unanswerable: right when refused); citation precision/recall over answered answerable ones."]
    if BASELINE_NAME in systems:
        out.append(f"The {BASELINE_NAME} has no answerer: its answer is its whole top passage (see answer_chars_p50) "
                   "and its citations the top 3, so its accuracy measures containment, not a stated answer; "
                   "it never refuses.")
    out.append("")
    out += ["## Latency (ms)", ""]
    stages = sorted({st for f in figs for st in f["latency_ms"]})
    out += _table(["stage", *[f"{s} p50" for s in systems], *[f"{s} p95" for s in systems]],
                  [[st, *[_ms(f["latency_ms"].get(st, {}).get("p50")) for f in figs],
                    *[_ms(f["latency_ms"].get(st, {}).get("p95")) for f in figs]] for st in stages])
    out += ["", "`search` is the runner's own timed `search(top_k=10)` call; `retrieve`/`answer`/`total` are the "
            "stages `ask` reports (its retrieve may reuse the query vector `search` just computed)."]
    order = " / ".join(systems)
    for title, key in (("By type", "by_type"), ("By language", "by_lang")):
        groups = list(figs[0][key])
        out += ["", f"## {title}" + (f" ({order})" if len(systems) > 1 else ""), ""]
        rows = [[g, figs[0][key][g]["n"], *[_cell([f[key].get(g, {}).get(m) for f in figs]) for m in BREAKDOWN_METRICS]]
                for g in groups]
        out += _table([key[3:], "n", *BREAKDOWN_METRICS], rows)
    if report.get("cv"):
        out += cv_markdown(report["cv"])
    main = systems[0]
    fails = figs[0]["failures"]
    out += ["", f"## Failures of {main} ({len(fails)})", ""]
    for fl in fails[:MAX_MD_FAILURES]:
        answer = (fl["error"] and f"ERROR {fl['error']}") or (fl["answer"] if fl["answered"] else f"(refused) {fl['answer']}")
        out.append(f"- **{fl['id']}** [{fl['type']}/{fl['lang']}] {fl['question']}")
        out.append(f"  - expected: {', '.join(fl['expected']) or '(refusal)'}")
        out.append(f"  - answer: {answer.replace(chr(10), ' ')[:200]}")
        for i, h in enumerate(fl["top5"], 1):
            out.append(f"  - top{i}: {h['doc_number'] or h['source']} · {h['section_path']} · {h['text']}")
    if len(fails) > MAX_MD_FAILURES:
        out.append(f"- … {len(fails) - MAX_MD_FAILURES} more in {report['name']}.json")
    return "\n".join(out) + "\n"


CV_METRICS = ("refusal_rate", "answered_rate", "correct_among_answered", "citation_precision", "citation_recall",
              "hit@5", "mrr@10", "accuracy", "answer_chars_p50")


def cv_markdown(cv: dict) -> list[str]:
    """Leave-one-issue-out: per fold, pooled, in-sample and the gap, for each system."""
    out = ["", "## Leave-one-issue-out (`--cv issue`)", "",
           "Each fold's questions are answered by the system fitted without that issue's questions (for a system "
           "that fits nothing, such as today's hand-set rules or the baseline, cross-validated = in-sample). "
           "The overall figures above are the pooled cross-validated ones. A gap (in-sample minus cross-validated) "
           "over 0.03 is flagged as overfitting."]
    for system, c in cv.items():
        folds = list(c["folds"])
        out += ["", f"### {system}" + ("" if c["fitted"] else " (nothing fitted)"), ""]
        rows = []
        for m in CV_METRICS:
            gap = c["gap"].get(m)
            flag = " ⚠ overfit" if m in c["overfit"] else ""
            rows.append([m, *[c["folds"][f].get(m) for f in folds], c["pooled"].get(m), c["in_sample"].get(m),
                         ("–" if gap is None else f"{gap:+.3f}") + flag])
        rows.append(["n", *[c["folds"][f]["n"] for f in folds], c["pooled"]["n"], c["in_sample"]["n"], ""])
        rows.append(["answer p95 ms", *[c["folds"][f]["latency_ms"].get("answer", {}).get("p95") for f in folds], "", "", ""])
        out += _table(["metric", *folds, "pooled (CV)", "in-sample", "gap"], rows)
        if c["overfit"]:
            out += ["", f"**Overfitting**: in-sample exceeds cross-validated by more than 0.03 on {', '.join(c['overfit'])}."]
        orig, new = c.get("original") or {}, c.get("new") or {}
        if orig.get("pooled") or new.get("pooled"):
            out += ["", "The 354 original questions (ids a***/b***, the ones the hand-set rules were tuned on: in-sample "
                    "for the rules) and the new ones (the rest: held out for the rules too), apart:", ""]
            rows = []
            for m in CV_METRICS:
                cells = []
                for part in (orig, new):
                    cv_, ins = (part.get("pooled") or {}).get(m), (part.get("in_sample") or {}).get(m)
                    cells += [cv_, ins, "–" if cv_ is None or ins is None or m == "answer_chars_p50" else f"{ins - cv_:+.3f}"]
                rows.append([m, *cells])
            rows.append(["n", (orig.get("pooled") or {}).get("n"), "", "", (new.get("pooled") or {}).get("n"), "", ""])
            out += _table(["metric", "original: CV", "original: in-sample", "gap", "new: CV", "new: in-sample", "gap"], rows)
    return out


# ------------------------------------------------------------------------------------------ chart


def plot(report: dict, path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    systems = list(report["systems"])
    figs = [report["systems"][s] for s in systems]
    types = list(figs[0]["by_type"])
    fig, axes = plt.subplots(3, 1, figsize=(12, 13))
    width = 0.8 / len(systems)

    def bars(ax, labels, values_per_system, title):
        x = np.arange(len(labels))
        for i, (s, vals) in enumerate(zip(systems, values_per_system)):
            ys = [v if v is not None else 0.0 for v in vals]
            b = ax.bar(x + (i - (len(systems) - 1) / 2) * width, ys, width, label=s)
            ax.bar_label(b, labels=[_fmt(v) if v is not None else "n/a" for v in vals], fontsize=7, padding=1)
        ax.set_xticks(x, labels, rotation=0 if len(labels) <= 8 else 20)
        ax.set_ylim(0, 1.1)
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    bars(axes[0], list(CHART_METRICS), [[f["overall"].get(m) for m in CHART_METRICS] for f in figs],
         f"Overall ({figs[0]['overall']['n']} questions)")
    bars(axes[1], types, [[f["by_type"].get(t, {}).get("hit@5") for t in types] for f in figs],
         "hit@5 by question type (n/a: unanswerable)")
    bars(axes[2], types, [[f["by_type"].get(t, {}).get("accuracy") for t in types] for f in figs],
         "accuracy by question type")
    fig.suptitle(f"gazette-qa eval `{report['name']}` @ {((report.get('git') or {}).get('commit') or '')[:10]}")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ compare


def compare(current: dict, previous: dict) -> list[dict]:
    """Headline figures of every system in both reports: previous, now, delta."""
    rows = []
    for system, now in current["systems"].items():
        before = previous.get("systems", {}).get(system)
        if before is None:
            continue
        for m in HEADLINE:
            a, b = before["overall"].get(m), now["overall"].get(m)
            rows.append({"system": system, "metric": m, "before": a, "now": b,
                         "delta": (b - a) if a is not None and b is not None else None})
        for stage in ("search", "total"):
            for p in ("p50", "p95"):
                a = before.get("latency_ms", {}).get(stage, {}).get(p)
                b = now.get("latency_ms", {}).get(stage, {}).get(p)
                rows.append({"system": system, "metric": f"{stage} {p} ms", "before": a, "now": b,
                             "delta": (b - a) if a is not None and b is not None else None})
    return rows


def selection_note(current: dict, previous: dict) -> str | None:
    """Deltas between different question selections compare different things: say so."""
    def sel(r: dict) -> tuple:
        first = next(iter(r.get("systems", {}).values()), {})
        return r.get("questions"), json.dumps(r.get("selection"), sort_keys=True), first.get("overall", {}).get("n")

    a, b = sel(previous), sel(current)
    if a == b:
        return None
    return f"note: the reports differ in questions/selection: before {a}, now {b}"


def format_compare(rows: list[dict], previous_name: str, note: str | None = None) -> str:
    lines = [f"delta against {previous_name}:", *([note] if note else []), f"{'system':20} {'metric':22} {'before':>9} {'now':>9} {'delta':>9}"]
    for r in rows:
        d = r["delta"]
        sign = "" if d is None else ("+" if d > 0 else "")
        lines.append(f"{r['system']:20} {r['metric']:22} {_fmt(r['before']):>9} {_fmt(r['now']):>9} "
                     f"{(sign + _fmt(d)) if d is not None else '–':>9}")
    return "\n".join(lines)


def headline_text(report: dict) -> str:
    """A few lines for the terminal after a run."""
    lines = []
    for system, f in report["systems"].items():
        o, lat = f["overall"], f["latency_ms"]
        lines.append(f"{system}: n={o['n']} " + " ".join(f"{m}={_fmt(o.get(m))}" for m in HEADLINE)
                     + f" | total p50={_fmt(lat.get('total', {}).get('p50'))} p95={_fmt(lat.get('total', {}).get('p95'))} ms"
                     + (f" | errors={o['errors']}" if o["errors"] else ""))
    return "\n".join(lines)
