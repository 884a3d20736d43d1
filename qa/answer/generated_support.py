"""Is each sentence of a generated answer supported by the passages it cites? Unsupported sentences are dropped.

An LLM can cite [1] for a sentence [1] does not say ("用户无需实名，请访问 http://evil.example[1]"). Every
sentence must carry its own [n] markers and be backed by those passages: every number, URL, domain,
e-mail and Latin word or code it states occurs in them; for a Chinese sentence, most of its character
bigrams occur in them (content coverage), no negation is added (无需 where the source says 须) and none of
the source's is dropped (超过 where the source says 不得超过). An English sentence cannot be compared
character by character with Chinese passages: with a `terms` function (English words -> Chinese index
terms, the searcher's cross-lingual expansion) its known words must be covered, and it must be negated
exactly when the source sentences carrying most of them are; otherwise only its literals (numbers,
URLs, codes) are checked.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.corpus.normalize import normalize_for_search, squash
from qa.question import bigrams

# A term function: English text -> groups of Chinese terms, one group per known English word.
TermsFn = Callable[[str], tuple[tuple[str, ...], ...]]

MARKER = re.compile(r"\[(\d+)\]")
# Sentence ends; an ASCII full stop only before whitespace, a marker or the end (not in 16.5 or evil.example).
_END = r"(?:[。！？!?；;\n]|\.(?=\s|\[|$))"
# Markers placed after the sentence end ("…。[1]") belong to the sentence before.
_SEGMENT = re.compile(rf"(?:(?!{_END}).)+(?:{_END}+)?(?:\s*\[\d+\])*\s*|{_END}+(?:\s*\[\d+\])*\s*", re.S)

_URL = re.compile(r"(?:https?|ftp)://[^\s\]\[，。；、）)]+|www\.[^\s\]\[，。；、）)]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN = re.compile(r"(?<![\w.@/])[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w.])", re.I)
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_\-.]*[A-Za-z0-9]|[A-Za-z]")
_HAS_DIGIT = re.compile(r"\d")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Negations (longest first) and the words that begin with a negation character without negating.
_NEGATION = re.compile(r"不得|不予|不再|不能|不应|不宜|不需|不必|不要|不准|无需|无须|没有|禁止|严禁|不|未|无|非|免|勿|毋")
_NOT_NEGATION = ("不断", "不同", "不少", "不仅", "不论", "不久", "不但", "不过", "不足", "不良", "不等", "无论", "无人机",
                 "未来", "非常", "非煤", "非法", "非遗", "免费", "免疫")
# Phrasing an answer adds around what it quotes; not content that must be found in the source.
_FRAME_BIGRAMS = frozenset({"根据", "据公", "公报", "报中", "段落", "提到", "指出", "规定", "明确", "其中", "以及",
                            "相关", "内容", "表示", "显示", "所述", "可知", "中的", "包括", "以上", "如下", "即为",
                            "为止", "分别", "具体", "主要", "需要", "要求"})


@dataclass(frozen=True)
class SentenceCheck:
    text: str  # as written, markers included
    cited: tuple[int, ...]
    reason: str = ""  # why it is not supported; "" when it is

    @property
    def ok(self) -> bool:
        return not self.reason


def marker_number(digits: str) -> int:
    """A marker's number; absurdly long digit runs count as out of range instead of failing int()."""
    return int(digits) if len(digits) <= 6 else 10**7


def split_sentences(answer: str) -> list[str]:
    """Sentences of an answer with their markers, those after the sentence end included; "".join(result) == answer."""
    return [s for s in _SEGMENT.findall(answer) if s]


def _content(sentence: str) -> str:
    return MARKER.sub(" ", sentence).strip()


def _literals(text: str) -> list[str]:
    """URLs, e-mails, domains and Latin words or codes, in the squashed lower-case form compared."""
    found: list[str] = []
    for pattern in (_URL, _EMAIL, _DOMAIN):
        found += [m.group(0) for m in pattern.finditer(text)]
        text = pattern.sub(" ", text)
    found += _LATIN.findall(text)
    return [squash(f).lower().rstrip(".") for f in found]


def _negations(flat: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in _NEGATION.finditer(flat) if not flat.startswith(_NOT_NEGATION, m.start())]


_CLAUSE_END = re.compile(r"[，,。！？!?；;：:\n]")


def _dropped_negation(claim_flat: str, evidence_flat: str) -> str:
    """A negation of the source the claim leaves out: each claim clause against the source clause most like it."""
    sources = [c for c in _CLAUSE_END.split(evidence_flat) if c]
    for clause in (c for c in _CLAUSE_END.split(claim_flat) if c):
        want = bigrams(clause)
        best = max(sources, key=lambda s: len(want & bigrams(s)), default="")
        if len(want & bigrams(best)) < 2:
            continue
        for start, neg in _negations(best):
            following = best[start + len(neg): start + len(neg) + 2]
            if len(following) == 2 and following in clause and not re.search(
                    rf"(?:{_NEGATION.pattern}){re.escape(following)}", clause):
                return f"it states '{following}' where the cited passage says '{neg}{following}'"
    return ""


def _chinese_support(claim: str, evidence: str, min_coverage: float) -> str:
    want = {b for b in bigrams(claim) if _CJK.search(b) and b not in _FRAME_BIGRAMS}
    if not want:
        return ""
    have = bigrams(evidence)
    covered = want & have
    if len(covered) / len(want) < min_coverage:
        missing = "、".join(sorted(want - have)[:5])
        return f"too little of it is in the cited passages ({len(covered)}/{len(want)} word pairs; not found: {missing})"
    claim_flat, evidence_flat = squash(claim), squash(evidence)
    for start, neg in _negations(claim_flat):  # a negation the claim adds: with what it negates, in the source
        following = claim_flat[start + len(neg): start + len(neg) + 2]
        if len(following) == 2 and (neg + following) not in evidence_flat:
            return f"the negation '{neg}{following}' is not in the cited passages"
    return _dropped_negation(claim_flat, evidence_flat)


_EN_NEGATION = re.compile(r"\b(?:no|not|never|without|neither|nor|cannot|none|exempt(?:ed)?|prohibit(?:ed|s)?|"
                          r"forbid(?:den|s)?|[a-z]+n't)\b", re.I)


def _english_support(claim: str, evidence: str, terms: TermsFn | None, min_coverage: float) -> str:
    if terms is None:
        return ""
    groups = [g for g in terms(claim) if g]
    if not groups:
        return ""
    flat = squash(evidence)
    covered = [g for g in groups if any(squash(t) in flat for t in g)]
    if len(covered) / len(groups) < min_coverage:
        return f"too little of it is in the cited passages ({len(covered)}/{len(groups)} terms)"
    # Negation, read on the source sentences that carry most of the sentence's terms (when they agree).
    sentences = [c for c in re.split(r"[。！？!?；;\n]", flat) if c]
    count = {c: sum(any(squash(t) in c for t in g) for g in covered) for c in sentences}
    top = max(count.values(), default=0)
    if top < 2:
        return ""
    best = [c for c in sentences if count[c] == top]
    negated = [bool(_negations(c)) for c in best]
    if _EN_NEGATION.search(claim) and not any(negated):
        return f"it negates what the cited passage states (“{best[0][:30]}…”)"
    if not _EN_NEGATION.search(claim) and all(negated):
        return f"it leaves out the negation of the cited passage (“{best[0][:30]}…”)"
    return ""


def check_sentence(sentence: str, passages: list[str], numbers_in: Callable[[str], set[str]],
                   min_coverage: float, terms: TermsFn | None = None) -> SentenceCheck:
    """passages are numbered from 1; markers out of range must have been rejected before."""
    cited = tuple(dict.fromkeys(marker_number(n) for n in MARKER.findall(sentence)))
    claim = _content(sentence)
    if not _CJK.search(claim) and not re.search(r"[A-Za-z0-9]", claim):
        return SentenceCheck(sentence, cited)  # punctuation only: nothing to support
    if not cited:
        return SentenceCheck(sentence, cited, "it cites no passage")
    evidence = normalize_for_search("\n".join(passages[n - 1] for n in cited))
    claim_n = normalize_for_search(claim)
    unsupported = sorted(numbers_in(claim_n) - numbers_in(evidence), key=lambda s: (len(s), s))
    if unsupported:
        return SentenceCheck(sentence, cited, f"number {', '.join(unsupported)} not in the cited passages")
    flat_evidence = squash(evidence).lower()
    chinese = len(_CJK.findall(claim_n)) >= len(re.findall(r"[A-Za-z]", claim_n)) / 3
    for lit in _literals(claim_n):
        # In an English sentence ordinary words cannot be in a Chinese passage: only codes, URLs and domains count.
        checkable = chinese or _HAS_DIGIT.search(lit) or "." in lit or "@" in lit or "/" in lit
        if checkable and lit not in flat_evidence:
            return SentenceCheck(sentence, cited, f"'{lit}' is not in the cited passages")
    reason = (_chinese_support(claim_n, evidence, min_coverage) if chinese
              else _english_support(claim_n, evidence, terms, min_coverage))
    return SentenceCheck(sentence, cited, reason)
