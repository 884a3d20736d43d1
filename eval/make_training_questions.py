"""Generate template training questions from the parsed corpus into eval/training_questions.jsonl.

These are for fitting the answer-or-refuse decision only, never for evaluation figures:
they come from the same parser the system reads with, so scoring on them would
measure the parser, not the answers. Templates (zh, with some en):

- personnel records (qa.corpus.personnel): 谁被任命为X / X被任命为什么职务 / 免去 / 提名 / 正式任职;
- roster rows (tables rendered by the parser): X领导小组的组长是谁 / Y在X中担任什么;
- document cards: 文号, 发文机关, 成文日期, which document a 文号 is;
- dates of entry into force (自…起施行/实施) and amounts (…元) as cloze questions;
- near-miss unanswerables made by swapping a unit (post), a year (annual documents) or a
  role (rosters), each with the same absence check as eval/sources/part_d.jsonl; a
  candidate whose check fails (the gazette does hold it) is not written.

Evidence is verbatim corpus lines, as in eval/questions.jsonl. The output is
deterministic: same corpus, same file.

    python eval/make_training_questions.py            # writes eval/training_questions.jsonl
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.build_questions import SpecError, check_absence, squash  # noqa: E402
from qa.corpus.parser import parse_issue  # noqa: E402
from qa.corpus.types import Document, Issue  # noqa: E402

CORPUS = ROOT / "corpus"
OUT = ROOT / "eval" / "training_questions.jsonl"
EVAL = ROOT / "eval" / "questions.jsonl"

SUFFIX = re.compile(r"[（(](?:试用期[^）)]*|兼)[）)]")
UNIT = re.compile(r"^(阳泉市[^（(]{1,16}?(?:局|委员会|中心|办公室|中学校|学校|院|所|馆|社))(副?(?:局长|主任|校长|院长|所长|馆长|社长))$")
ROLES = ("组长", "常务副组长", "副组长", "成员", "主任", "副主任", "指挥长", "副指挥长")
SWAP_ROLES = ("秘书长", "常务副组长", "顾问", "联络员", "总指挥")
ENTRY = re.compile(r"自(\d{4})年(\d{1,2})月(\d{1,2})日起(?:施行|实施|执行)")
AMOUNT = re.compile(r"(\d+(?:\.\d+)?)(万元|亿元|元)")
ACTION_Q = {
    "任命": ("{y}年谁被任命为{post}？", "{p}被任命为什么职务？"),
    "免去": ("{y}年谁被免去了{post}职务？", "{p}被免去了什么职务？"),
    "提名": ("{y}年提名谁任{post}？", "{p}被提名担任什么职务？"),
    "正式任职": ("{y}年谁正式任{post}？", "{p}正式任什么职务？"),
}


@dataclass
class Corpus:
    issues: list[Issue]
    lines: dict[str, list[str]]  # issue id -> raw lines of its file
    texts: dict[str, str]  # issue id -> squashed text (for absence checks)


def load(corpus: Path = CORPUS) -> Corpus:
    issues, lines, texts = [], {}, {}
    for path in sorted(corpus.glob("*.txt")):
        issue = parse_issue(path)
        raw = path.read_text(encoding="utf-8")
        issues.append(issue)
        lines[path.stem] = raw.split("\n")
        texts[path.stem] = squash(raw)
    return Corpus(issues, lines, texts)


def _pick(options: list[str], seed: str) -> str:
    """A deterministic choice (no random state): the option a hash of `seed` points at."""
    return options[int(hashlib.sha256(seed.encode("utf-8")).hexdigest(), 16) % len(options)]


def _evidence(c: Corpus, issue: str, start: int, end: int, needles: list[str]) -> list[str] | None:
    """The fewest consecutive lines in [start, end] (1-based) whose squashed text holds every needle."""
    lines = c.lines[issue]
    wanted = [squash(n) for n in needles if squash(n)]
    for first in range(start, end + 1):
        joined = ""
        for last in range(first, min(end, first + 3) + 1):
            joined += squash(lines[last - 1])
            if all(w in joined for w in wanted):
                return [lines[i - 1].strip() for i in range(first, last + 1) if lines[i - 1].strip()]
    return None


def _item(question: str, answer: str, keys: list[str], evidence: list[str], qtype: str, issue: str,
          doc_number: str = "", lang: str = "zh") -> dict:
    return {"question": question, "answer": answer, "must_contain": keys, "type": qtype, "lang": lang,
            "source_file": f"{issue}.txt", "doc_number": doc_number, "evidence": evidence, "issues": [issue]}


def _short_post(post: str) -> str:
    """A post as a key string: without the city prefix (阳泉市商务局副局长 -> 商务局副局长)."""
    return post.removeprefix("阳泉市")


def _cn_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def _topic(doc: Document) -> str:
    """What a clerk calls the document: the issued document's name, else the title after 关于."""
    title = doc.title
    m = re.search(r"关于(?:印发)?(.+?)(?:的通知|的通告|的实施意见|的补充通知|的通报)?$", title)
    topic = m.group(1) if m else title
    return topic.strip("《》") or title


# --- answerable templates ---

def personnel_items(c: Corpus) -> list[dict]:
    out: list[dict] = []
    records = [(i.source_file, d, r) for i in c.issues for d in i.documents for r in d.personnel]
    by_post = Counter((r.issue[:4], r.action, SUFFIX.sub("", r.post)) for _, _, r in records)
    by_person = Counter((r.person, r.action) for _, _, r in records)
    for _, doc, r in records:
        if r.action not in ACTION_Q or not r.person or len(r.person) > 4:
            continue
        post = SUFFIX.sub("", r.post)
        ev = _evidence(c, r.issue, r.line, min(r.line + 2, doc.line_end), [r.person, post[-6:]])
        if not ev:
            continue
        year = r.issue[:4]
        by_post_q, by_person_q = ACTION_Q[r.action]
        if by_post[(year, r.action, post)] == 1:
            out.append(_item(by_post_q.format(y=year, post=post), f"{r.person}（{r.doc_number}）", [r.person], ev,
                             "personnel", r.issue, r.doc_number))
            if r.action == "任命" and len(out) % 4 == 0:  # some English, as staff ask
                out.append(_item(f"Who was appointed {post} in {year}?", r.person, [r.person], ev, "personnel",
                                 r.issue, r.doc_number, lang="en"))
        if by_person[(r.person, r.action)] == 1:
            out.append(_item(by_person_q.format(p=r.person), f"{post}（{r.doc_number}）", [_short_post(post)], ev,
                             "personnel", r.issue, r.doc_number))
            doc_ev = _evidence(c, r.issue, doc.number_line, doc.number_line, [doc.doc_number])
            if doc_ev and r.action in ("任命", "免去"):
                verb = "任" if r.action == "任命" else "免去"
                out.append(_item(f"{r.person}{verb}{_short_post(post)}是哪个文件？", doc.doc_number, [doc.doc_number],
                                 doc_ev + ev, "docnum", r.issue, doc.doc_number))
    return out


def _roster_rows(c: Corpus):
    """(issue, doc, group, role, person, post, evidence) for roster rows whose label and person share a line."""
    for issue in c.issues:
        key = issue.source_file.rsplit(".", 1)[0]
        for doc in issue.documents:
            for para in doc.paragraphs:
                for line in para.readable.split("\n") if para.readable else []:
                    parts = line.split("：", 2)
                    if len(parts) < 3 or parts[1] not in ROLES:
                        continue
                    group, role = parts[0].strip(), parts[1]
                    m = re.match(r"([^（；]{2,4})（([^）]{2,40})）", parts[2])
                    if not m or not 4 <= len(group) <= 30 or "；" in group:
                        continue
                    person, post = m.group(1).strip(), m.group(2)
                    ev = _evidence(c, key, para.line_start, para.line_end, [person])
                    if not ev or not re.search(f"{role}[:：]?{re.escape(person)}", squash("".join(ev))):
                        continue
                    yield key, doc, group, role, person, post, ev


def _group_name(issue: str, group: str) -> str:
    """The parser leaves a leading year off some group names (`年度地质灾害防治领导小组`): restore the issue's year."""
    return f"{issue[:4]}{group}" if group.startswith("年") else group


def roster_items(c: Corpus) -> list[dict]:
    out: list[dict] = []
    rows = list(_roster_rows(c))
    holders = Counter((k, g, r) for k, _, g, r, *_ in rows)
    for key, doc, group, role, person, post, ev in rows:
        name = _group_name(key, group)
        if role in ("组长", "常务副组长", "指挥长", "主任") and holders[(key, group, role)] == 1:
            out.append(_item(f"{name}的{role}是谁？", f"{person}（{post}）", [person], ev, "table", key, doc.doc_number))
        out.append(_item(f"{person}在{name}里担任什么？", f"{role}（{post}）", [role], ev, "table", key, doc.doc_number))
    return out


def card_items(c: Corpus) -> list[dict]:
    out: list[dict] = []
    for issue in c.issues:
        key = issue.source_file.rsplit(".", 1)[0]
        numbers = Counter(d.doc_number for d in issue.documents)
        titles = Counter(d.title for d in issue.documents)
        for doc in issue.documents:
            num_ev = _evidence(c, key, doc.number_line, doc.number_line, [doc.doc_number])
            if not num_ev:
                continue
            topic = _topic(doc)
            title_ev = _evidence(c, key, doc.line_start, doc.number_line, [topic[-12:]])
            unique_number = numbers[doc.doc_number] == 1
            if titles[doc.title] == 1 and title_ev:
                out.append(_item(f"{topic}的文号是多少？", doc.doc_number, [doc.doc_number], title_ev + num_ev,
                                 "docnum", key, doc.doc_number))
                if len(out) % 5 == 0:
                    out.append(_item(f"What is the document number of {topic}?", doc.doc_number, [doc.doc_number],
                                     title_ev + num_ev, "docnum", key, doc.doc_number, lang="en"))
            if unique_number and title_ev:
                out.append(_item(f"{doc.doc_number}是什么文件？", doc.title, [topic[-12:]], title_ev + num_ev,
                                 "which_doc", key, doc.doc_number))
                if doc.issuer:
                    out.append(_item(f"{doc.doc_number}是哪个单位发的？", doc.issuer, [doc.issuer], title_ev + num_ev,
                                     "fact", key, doc.doc_number))
            if unique_number and doc.date:
                when = _cn_date(doc.date)
                date_ev = _evidence(c, key, doc.number_line, doc.line_end, [when])
                if date_ev and len(date_ev) == 1:
                    out.append(_item(f"{doc.doc_number}是哪天印发的？", when, [when], num_ev + date_ev, "date", key,
                                     doc.doc_number))
    return out


def _doc_text(c: Corpus, key: str, doc: Document) -> tuple[str, list[int]]:
    """The document's squashed text and, per character, its 1-based line."""
    chars, where = [], []
    for n in range(doc.line_start, doc.line_end + 1):
        s = squash(c.lines[key][n - 1])
        chars.append(s)
        where.extend([n] * len(s))
    return "".join(chars), where


def entry_and_amount_items(c: Corpus, amounts_per_doc: int = 4) -> list[dict]:
    out: list[dict] = []
    for issue in c.issues:
        key = issue.source_file.rsplit(".", 1)[0]
        for doc in issue.documents:
            text, where = _doc_text(c, key, doc)
            topic = _topic(doc)
            for m in ENTRY.finditer(text):
                when = f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日"
                ev = [c.lines[key][n - 1].strip() for n in range(where[m.start()], where[m.end() - 1] + 1)]
                out.append(_item(f"{topic}从哪天起施行？", when, [when], [e for e in ev if e], "date", key,
                                 doc.doc_number))
            taken = 0
            for m in AMOUNT.finditer(text):
                if taken >= amounts_per_doc:
                    break
                start = max(text.rfind(mark, 0, m.start()) for mark in "。,;:、")
                lead = text[start + 1 : m.start()]
                if not 6 <= len(lead) <= 40 or re.search(r"\d", lead[-4:]) or lead.startswith(("其中", "上述", "以上")):
                    continue
                value = m.group(0)
                ev = [c.lines[key][n - 1].strip() for n in range(where[m.start() - len(lead)], where[m.end() - 1] + 1)]
                out.append(_item(f"{topic}中，{lead}多少{m.group(2)}？", value, [value], [e for e in ev if e],
                                 "number", key, doc.doc_number))
                taken += 1
    return out


# --- near-miss unanswerables, with absence checks ---

def _checked(question: str, why: str, absence: dict, issues: list[str], c: Corpus, lang: str = "zh") -> dict | None:
    item = {"question": question, "answer": f"公报中未找到：{why}。", "must_contain": [], "type": "unanswerable",
            "lang": lang, "source_file": "", "doc_number": "", "evidence": [], "issues": issues, "absence": absence}
    try:
        check_absence(item, c.texts)
    except SpecError:
        return None
    return item


def unit_swaps(c: Corpus) -> list[dict]:
    records = [r for i in c.issues for d in i.documents for r in d.personnel if r.action == "任命"]
    posts = [UNIT.match(SUFFIX.sub("", r.post)) for r in records]
    # a unit is swapped only for another that has the same kind of head (局长 for a 局, 校长 for a school)
    units_by_title: dict[str, set[str]] = defaultdict(set)
    for m in posts:
        if m:
            units_by_title[m.group(2).removeprefix("副")].add(m.group(1))
    out = []
    for r, m in zip(records, posts):
        if not m:
            continue
        unit, title = m.groups()
        others = sorted(units_by_title[title.removeprefix("副")] - {unit})
        if not others:
            continue
        other = _pick(others, f"unit|{r.issue}|{r.line}")
        swapped = other + title
        short = swapped.removeprefix("阳泉市")
        item = _checked(f"{r.issue[:4]}年谁被任命为{swapped}？", f"公报没有{swapped}的任命",
                        {"kind": "person", "near": [other.removeprefix("阳泉市")], "must_not_occur": [short],
                         "scope": "all"}, [r.issue], c)
        if item:
            out.append(item)
    return out


def year_swaps(c: Corpus) -> list[dict]:
    out = []
    for issue in c.issues:
        key = issue.source_file.rsplit(".", 1)[0]
        for doc in issue.documents:
            topic = _topic(doc)
            m = re.search(r"(20\d\d)年", topic)
            if not m:
                continue
            rest = topic[m.end():]
            rest = rest.removeprefix("度")
            if len(squash(rest)) < 4:
                continue
            for year in (int(m.group(1)) + step for step in (-2, -1, 1, 2)):
                swapped = topic[: m.start()] + f"{year}年" + topic[m.end():]
                item = _checked(f"{swapped}的主要内容是什么？", f"公报只有{topic}，没有{year}年的",
                                {"kind": "year", "near": [rest], "must_not_occur": [f"{year}年{rest}", f"{year}年度{rest}"],
                                 "scope": "all"}, [key], c)
                if item:
                    out.append(item)
    return out


def role_swaps(c: Corpus) -> list[dict]:
    roles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, _, group, role, *_ in _roster_rows(c):
        roles[(key, group)].add(role)
    out = []
    for (key, group), have in sorted(roles.items()):
        name = _group_name(key, group)
        near = group.removeprefix("年度").removeprefix("我市").removeprefix("市")
        for role in SWAP_ROLES:
            if role in have:
                continue
            item = _checked(f"{name}的{role}是谁？", f"{group}名单里没有{role}",
                            {"kind": "person", "near": [near], "must_not_occur": [role], "scope": [key], "window": 400},
                            [key], c)
            if item:
                out.append(item)
    return out


def title_swaps(c: Corpus) -> list[dict]:
    """Ask for a post of a named unit that the gazette never names (市审计局局长 when only its 副局长 appear)."""
    heads = {"局长": ("局长", "副局长", "党组书记"), "主任": ("主任", "副主任", "党组书记"),
             "校长": ("校长", "副校长", "党委书记"), "院长": ("院长", "副院长", "党委书记"),
             "所长": ("所长", "副所长", "教导员"), "馆长": ("馆长", "副馆长"), "社长": ("社长", "副社长")}
    seen: dict[str, str] = {}
    for issue in c.issues:
        for doc in issue.documents:
            for r in doc.personnel:
                m = UNIT.match(SUFFIX.sub("", r.post))
                if m and m.group(1) not in seen:
                    seen[m.group(1)] = r.issue
    out = []
    for unit, issue in sorted(seen.items()):
        head = next((h for h in heads if unit.endswith(("局", "委员会")) and h == "局长"
                     or unit.endswith(("中心", "办公室", "委员会")) and h == "主任"
                     or unit.endswith("学校") and h == "校长" or unit.endswith("院") and h == "院长"
                     or unit.endswith("所") and h == "所长" or unit.endswith("馆") and h == "馆长"
                     or unit.endswith("社") and h == "社长"), None)
        for title in heads.get(head, ()):
            short = unit.removeprefix("阳泉市")
            item = _checked(f"{unit}的{title}是谁？", f"公报没有{unit}{title}的人选",
                            {"kind": "person", "near": [short], "must_not_occur": [short + title], "scope": "all"},
                            [issue], c)
            if item:
                out.append(item)
    return out


def issue_swaps(c: Corpus) -> list[dict]:
    """Ask about gazette issues the corpus does not hold (2022年第1期 when only 第3期 is there)."""
    have = {(i.year, i.number) for i in c.issues}
    out = []
    for issue in c.issues:
        key = issue.source_file.rsplit(".", 1)[0]
        for number in range(1, 7):
            if (issue.year, number) in have:
                continue
            item = _checked(f"{issue.year}年第{number}期政府公报刊登了哪些文件？",
                            f"语料没有{issue.year}年第{number}期公报",
                            {"kind": "year", "near": [f"{issue.year}"], "must_not_occur":
                             [f"{issue.year}年第{number}期", f"{issue.year}第{number}期"],
                             "scope": "all"}, [key], c)
            if item:
                out.append(item)
    return out


def generate(corpus: Path = CORPUS) -> list[dict]:
    c = load(corpus)
    items = (personnel_items(c) + roster_items(c) + card_items(c) + entry_and_amount_items(c)
             + unit_swaps(c) + year_swaps(c) + role_swaps(c) + title_swaps(c) + issue_swaps(c))
    answers: dict[str, set[str]] = defaultdict(set)
    for item in items:
        answers[item["question"]].add(item["answer"])
    # never the text of an evaluation question: the two sets stay apart
    seen = {squash(json.loads(line)["question"]) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()}
    out = []
    for item in items:
        if squash(item["question"]) in seen or len(answers[item["question"]]) > 1:
            continue  # a template question with two different answers is ambiguous: not written
        joined = squash("".join(item["evidence"]))
        if item["type"] != "unanswerable" and not all(squash(k) in joined for k in item["must_contain"]):
            continue  # a template whose key string its evidence does not hold
        seen.add(squash(item["question"]))
        out.append({"id": f"t{len(out) + 1:04d}", **item})
    return out


def main() -> int:
    items = generate()
    OUT.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    kinds = Counter(i["type"] for i in items)
    print(f"wrote {len(items)} training questions to {OUT.relative_to(ROOT)}: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
