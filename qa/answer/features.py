"""The inputs of the trained answer decision: one row of named features per (question, candidate sentence).

What the hand-set bonuses used to add up is kept apart here, one signal each, for a model to weigh
(qa/answer/decision.py): the share of the question's words the sentence and its context hold, how rare
those words are, the passage's retrieval rank and score, the asked kind of value present (a number, a
date, a name), the roster role agreeing with the one asked, the grounding checks (year, place,
organisation, value, people), the shape of the sentence (a heading, a list's introduction, a roster row),
how well the passage's section heading and document title paraphrase the question (their cosine to it,
the share of its words they hold, synonym pairs the corpus defines: qa/answer/synonyms.py) and, added
after the costly embedding step, the semantic similarity to the question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from qa.answer.grounding import CHECKS, check_failures
from qa.answer.selection import shape_features
from qa.answer.sentences import Sentence
from qa.corpus.normalize import normalize_for_search
from qa.models import SearchHit
from qa.question import QuestionInfo
from qa.vocabulary import NAME_ROLE as _NAME_ROLE, ROLES, POSTS, asked_role

NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万元|亿元|元|万|亿|个|项|家|人|名|天|日|个月|月|年|小时|周岁|岁|公里|千米|米|平方米|亩|吨|户|所|座|辆|处|次|条|件|倍|分钟|kW|千瓦|兆瓦)")
DATE = re.compile(r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?(?:底|前|起|以前|之前)?|\d{1,2}\s*月\s*\d{1,2}\s*日|\d+\s*(?:个)?(?:工作日|日内|天内|小时内|月内|年内)")
# A start point said without a date (自印发之日起施行 / 试用期从原任职时间算起) answers 从什么时候 too.
DATE_RELATIVE = re.compile(r"之日起|时间算起|时起算|日起算|起计算")
_CHUNK_TYPES = ("card", "personnel", "table")

# Computed before embedding (the pre-selection reads these) ...
BASE_FEATURES = (
    "lexical", "lexical_sentence", "selective", "selective_best_gap", "lexical_best_gap", "hit_rank", "hit_score",
    "role_agreement", "number_asked", "number_present", "date_asked", "date_present", "person_asked", "person_present",
    "document_asked", "lang_en", "item", "intro", "length",
    *(f"chunk_{t}" for t in _CHUNK_TYPES),
    *(f"fails_{name}" for name in CHECKS), "fails_any", "other_year",
    "shape_intro", "shape_caption", "shape_heading", "shape_named", "shape_money", "shape_rate",
    "shape_district_section", "shape_range", "shape_table", "shape_other_unit", "shape_removal", "shape_located",
    "shape_extreme_row",
    *(f"{part}_{kind}" for part in ("title", "heading") for kind in ("coverage", "semantic", "semantic_best_gap")),
    "synonym_sentence", "synonym_context",
)
# ... and after it.
SEMANTIC_FEATURES = ("semantic", "semantic_best_gap", "semantic_rank")
FEATURES = BASE_FEATURES + SEMANTIC_FEATURES


@lru_cache(maxsize=16384)
def _norm(text: str) -> str:
    return normalize_for_search(text)


def _flat(text: str) -> str:
    return _norm(text).replace(" ", "")


def role_agreement(question: str, sentence: str, block: str = "") -> float:
    """+1: the sentence assigns the role asked (组长 asked, a 组长： row); -1: it assigns another role (a
    副组长 row); 0: no role asked or none assigned. Read is the role a sentence assigns (a roster label
    副组长：, an appointment …为…局长, a post filled 办公室主任由…兼任), not a member's own title
    (副组长：郭玉霞（市政府金融办主任） is no 主任 row). An unlabelled roster row takes the label of its
    block (`block`: the lead it reads with, ending 副组长：)."""
    return agreement_with_role(asked_role(question), sentence, block)


def agreement_with_role(asked: str | None, sentence: str, block: str = "") -> float:
    """`role_agreement` for a role already read off the question (the hand-set rules read it their own way)."""
    if not asked:
        return 0.0
    flat = _flat(sentence)
    said = [r for r in ROLES if re.search(rf"(?<![副务]){r}(?:[：:]|由)|为.*(?<![副务]){r}", flat)]
    if not said and block:
        label = _flat(block)
        said = [r for r in ROLES if re.search(rf"(?<![副务]){r}[：:]$", label)]
    if not said:
        return 0.0
    if asked in said or asked.startswith("办公室") and asked[3:] in said:  # (an office's roster: 主任：梁爱卿（兼）)
        return 1.0
    # A post (局长, 主任) is also said by a member's title: 成员：岳文明（市教育局副局长）.
    post = asked in POSTS and asked in flat and flat.count("副" + asked) != flat.count(asked)
    return 1.0 if post else -1.0


def value_present(info: QuestionInfo, sentence: str, hit: SearchHit) -> dict[str, float]:
    """Whether the sentence carries a value of each kind (number, date, person)."""
    flat = _norm(sentence)
    return {
        "number_present": 1.0 if NUMBER.search(sentence) else 0.0,
        "date_present": 1.0 if DATE.search(sentence) or DATE_RELATIVE.search(sentence) else 0.0,
        "person_present": 1.0 if (hit.chunk.persons and any(p in flat for p in hit.chunk.persons)
                                  or _NAME_ROLE.search(sentence) and hit.chunk.chunk_type in ("personnel", "table")) else 0.0,
    }


@dataclass
class Row:
    """One candidate sentence of one retrieved passage, with its features."""

    hit_index: int
    sentence: Sentence
    features: dict[str, float] = field(default_factory=dict)
    held: dict[int, float] | None = None  # the question terms the sentence itself holds: index -> weight
    covered: frozenset[int] = frozenset()  # ... and those its context (lead, heading, title) holds too


def base_features(info: QuestionInfo, s: Sentence, hit: SearchHit, hit_index: int, lexical: float,
                  lexical_sentence: float, selective: float, other_year: bool) -> dict[str, float]:
    c = hit.chunk
    fails = check_failures(info, s.text, hit)
    f = {
        "lexical": lexical, "lexical_sentence": lexical_sentence, "selective": selective,
        "hit_rank": float(hit_index), "hit_score": float(hit.score),
        "role_agreement": role_agreement(info.normalized if info.lang == "zh" else info.text, s.text,
                                         s.lead if s.item else ""),
        "number_asked": float("number" in info.cues), "date_asked": float("date" in info.cues),
        "person_asked": float("person" in info.cues), "document_asked": float("document" in info.cues),
        "lang_en": float(info.lang == "en"), "item": float(s.item), "intro": float(s.intro),
        "length": float(len(s.text)),
        **{f"chunk_{t}": float(c.chunk_type == t) for t in _CHUNK_TYPES},
        **{f"fails_{k}": float(v) for k, v in fails.items()}, "fails_any": float(any(fails.values())),
        "other_year": float(other_year),
        **value_present(info, s.text, hit),
        **shape_features(info, s, c),
    }
    return f


def add_relative(rows: list[Row], key: str, out_key: str) -> None:
    """Each row's feature minus the best of its question's rows (a listwise signal for a pointwise model)."""
    best = max((r.features[key] for r in rows), default=0.0)
    for r in rows:
        r.features[out_key] = r.features[key] - best


def add_context_semantic(rows: list[Row], part: str, cosine_of_hit: dict[int, float]) -> None:
    """The cosine of the question to each row's passage's title or heading (`part`), and its gap to the
    best passage's (missing where the passage has none)."""
    best = max(cosine_of_hit.values(), default=float("nan"))
    for r in rows:
        cos = cosine_of_hit.get(r.hit_index, float("nan"))
        r.features[f"{part}_semantic"] = cos
        r.features[f"{part}_semantic_best_gap"] = cos - best


def add_semantic(rows: list[Row], cosines: list[float]) -> None:
    order = sorted(range(len(rows)), key=lambda k: -cosines[k])
    best = max(cosines, default=0.0)
    for pos, k in enumerate(order):
        rows[k].features["semantic"] = cosines[k]
        rows[k].features["semantic_best_gap"] = cosines[k] - best
        rows[k].features["semantic_rank"] = float(pos)


def vector(features: dict[str, float], names: tuple[str, ...] = FEATURES) -> list[float]:
    return [float(features.get(n, float("nan"))) for n in names]
