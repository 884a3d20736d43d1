"""Optional generative answers: an OpenAI-compatible chat endpoint rewrites the answer from the
retrieved passages, and the result is kept only if it can be checked against them.

The extractive answer is always computed first; this step may replace it. A generated answer is
accepted when every [n] marker names a passage that was given; then each sentence must be supported by
the passages it cites (qa.answer.generated_support) or it is dropped, and the notice says so. Anything
else (endpoint down, timeout, a reply that is not a chat completion, too large, nothing left after the
checks) falls back to the extractive answer with a notice saying why. The client is never blamed and
never sees the endpoint's own error text: that goes to the log.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from qa.answer.extractive import NOT_FOUND_EN, NOT_FOUND_ZH, split_sentences
from qa.answer.generated_support import MARKER as _MARKER
from qa.answer.generated_support import TermsFn, check_sentence, marker_number
from qa.answer.generated_support import split_sentences as answer_sentences
from qa.answer.llm_http import ReplyTooLarge, capped_client
from qa.question import analyse, bigrams
from qa.answer.types import AnswerResult, Citation
from qa.config import Settings
from qa.corpus.normalize import normalize_for_search, squash
from qa.models import SearchHit, source_name

log = logging.getLogger(__name__)

UNAVAILABLE_NOTICE = "LLM endpoint unavailable; extractive answer"
TIMEOUT_NOTICE = "LLM endpoint did not answer in time; extractive answer"
BAD_REPLY_NOTICE = "LLM endpoint gave an unusable reply; extractive answer"
TOO_LARGE_NOTICE = "LLM reply too large; extractive answer"
REJECTED_NOTICE = "generative answer rejected: {reason}"
DROPPED_NOTICE = "dropped {n} unsupported sentence(s) of the generated answer: {reasons}"
NOT_FOUND_MARK = "公报中未找到"

SYSTEM_PROMPT = """你是阳泉市人民政府公报的问答助手。用户会给出若干带编号的公报段落（[1]、[2]……）和一个问题。
请遵守：
1. 只依据这些段落回答，不使用段落以外的知识，不推测、不计算、不换算。
2. 回答简洁，一般不超过三句话。
3. 每个陈述之后用方括号标注其依据的段落编号，如[1]或[2][3]；只能使用给出的编号。
4. 数字、日期、金额、文号、名称照抄段落原文。
5. 如果这些段落中没有答案，只回答“公报中未找到”（英文问题也用这句话）。
6. 用提问所用的语言作答：中文问题用中文回答，英文问题用英文回答。"""

_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*(?:[,，、;；]|-|–|~)\s*\d+)+)\]")
_THINK = re.compile(r"<think>.*?</think>", re.S)
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_RUN = "[零〇一二两三四五六七八九十百千万亿]+"
# A Chinese numeral counts as a number only next to a measure word or after 第: 一 alone is too common (统一, 一是).
_CN_NUMBER = re.compile(
    rf"第({_CN_RUN})|({_CN_RUN})(?=个|项|家|人|名|天|日|月|年|岁|座|处|次|条|件|倍|元|户|所|辆|吨|亩|米|公里|小时|分钟|周|批|类|级|期|届|种|位|万|亿|%)")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    cited: tuple[int, ...] = ()  # passage numbers (1-based, as given) in order of first mention
    text: str = ""  # the answer without its unsupported sentences
    dropped: tuple[tuple[str, str], ...] = field(default=())  # (sentence, why) of each dropped sentence


def _canonical(number: str) -> str:
    try:
        return format(Decimal(number).normalize(), "f")
    except InvalidOperation:
        return number


def chinese_to_int(run: str) -> int | None:
    """二〇二二 -> 2022, 一百零八 -> 108, 十二 -> 12, 三万五千 -> 35000."""
    if not run:
        return None
    if not any(ch in _CN_UNITS or ch in _CN_BIG for ch in run):  # digit by digit, as in years
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total, section, digit = 0, 0, None
    for ch in run:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:  # 万 / 亿 close a section
            section += digit or 0
            total = (total + section) * _CN_BIG[ch] if ch == "亿" else total + section * _CN_BIG[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


def numbers_in(text: str) -> set[str]:
    """Canonical numbers a text states: Arabic (incl. decimals, 1,000 -> 1000) and Chinese numerals with a measure
    word. A trailing 万/亿 counts as the unit (五万元 -> 5, like 5万元). Compared on squashed (NFKC, whitespace-free)
    text, but digits that whitespace keeps apart (table cells) stay apart."""
    flat = squash(re.sub(r"(?<=\d)\s+(?=\d)", "|", text))
    flat = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", flat)
    out = {_canonical(m) for m in _ARABIC.findall(flat)}
    for m in _CN_NUMBER.finditer(flat):
        value = chinese_to_int((m.group(1) or m.group(2)).rstrip("万亿") or (m.group(1) or m.group(2)))
        if value is not None:
            out.add(str(value))
    return out


def normalize_markers(answer: str) -> str:
    """【1】/［1］ -> [1]; [1,2] / [1、2] -> [1][2]; [1-3] -> [1][2][3]."""
    text = answer.replace("【", "[").replace("】", "]").replace("［", "[").replace("］", "]")

    def expand(m: re.Match) -> str:
        inner = m.group(1)
        ns: list[int] = []
        for part in re.split(r"\s*[,，、;；]\s*", inner):
            bounds = re.split(r"\s*[-–~]\s*", part)
            lo, hi = marker_number(bounds[0]), marker_number(bounds[-1])
            ns.extend(range(lo, hi + 1) if 0 < hi - lo < 20 else [lo, hi] if lo != hi else [lo])
        return "".join(f"[{n}]" for n in ns)

    return _MARKER_GROUP.sub(expand, text)


def verify(answer: str, passages: list[str], min_coverage: float = 0.6, terms: TermsFn | None = None) -> Verdict:
    """Markers within 1..len(passages), else the whole answer is rejected; then each sentence supported by the
    passages it cites (numbers, literals, content), else it is dropped. Rejected when nothing is left."""
    markers = [marker_number(n) for n in _MARKER.findall(answer)]
    if not markers:
        return Verdict(False, "the answer cites no passage")
    bad = sorted({n for n in markers if not 1 <= n <= len(passages)})
    if bad:
        shown = ", ".join(f"[{n}]" if n < 10**7 else "[…]" for n in bad[:5])
        return Verdict(False, f"citation {shown} points to no given passage (1..{len(passages)})")
    checks = [check_sentence(s, passages, numbers_in, min_coverage, terms) for s in answer_sentences(answer)]
    kept = [c for c in checks if c.ok]
    dropped = tuple((c.text.strip(), c.reason) for c in checks if not c.ok)
    cited = tuple(dict.fromkeys(n for c in kept for n in c.cited))
    if not cited:
        return Verdict(False, dropped[0][1] if dropped else "the answer cites no passage", dropped=dropped)
    return Verdict(True, "", cited, "".join(c.text for c in kept).strip(), dropped)


def passage_text(hit: SearchHit) -> str:
    """What the model sees for one passage: where it comes from, then its cite text."""
    c = hit.chunk
    where = " > ".join(c.section_path)
    head = f"《{c.doc_title}》" + (f" {c.doc_number}" if c.doc_number else "") + (f" | {where}" if where else "")
    return f"{head}（{source_name(c)}）\n{c.text}"


def build_messages(question: str, hits: list[SearchHit]) -> list:
    blocks = "\n\n".join(f"[{i}] {passage_text(h)}" for i, h in enumerate(hits, 1))
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(f"公报段落：\n\n{blocks}\n\n问题：{question}")]


def _is_refusal(answer: str) -> bool:
    flat = squash(answer).lower()
    return NOT_FOUND_MARK in flat or "notfoundinthegazette" in flat


def _best_sentence(claim: str, hit: SearchHit) -> str:
    """The passage sentence that shares most with the claim it supports (for highlighting)."""
    want = bigrams(normalize_for_search(claim))
    sentences = split_sentences(hit.chunk.text) or [hit.chunk.text]
    return max(sentences, key=lambda s: len(want & bigrams(normalize_for_search(s))))


def _claims(answer: str) -> dict[int, str]:
    """Marker number -> the text before its first occurrence (back to the previous sentence end)."""
    out: dict[int, str] = {}
    for m in _MARKER.finditer(answer):
        before = _MARKER.sub("", answer[: m.start()])
        out.setdefault(marker_number(m.group(1)), re.split(r"[。！？!?；;\n]", before.rstrip("。！？!?；;\n "))[-1])
    return out


def _fault_notice(exc: BaseException) -> str:
    """What the client is told about a failed LLM call (the details go to the log)."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    if any(isinstance(e, ReplyTooLarge) for e in chain):
        return TOO_LARGE_NOTICE
    if any(isinstance(e, (openai.APITimeoutError, httpx.TimeoutException)) for e in chain):
        return TIMEOUT_NOTICE
    if any(isinstance(e, (openai.APIConnectionError, openai.APIStatusError, httpx.HTTPError)) for e in chain):
        return UNAVAILABLE_NOTICE
    return BAD_REPLY_NOTICE  # no choices, not JSON, HTML, a shape the client library cannot read


class GenerativeAnswerer:
    """Callable step of the answer chain: (extractive result, retrieved hits) -> result."""

    def __init__(self, settings: Settings, max_passages: int = 5, llm: BaseChatModel | None = None,
                 terms: TermsFn | None = None) -> None:
        self.max_passages = max_passages
        self.max_answer_chars = settings.llm_max_answer_chars
        self.min_coverage = settings.llm_min_coverage
        self.terms = terms
        self.llm = llm or self._chat_model(settings)

    @staticmethod
    def _chat_model(settings: Settings) -> BaseChatModel:
        from langchain_openai import ChatOpenAI  # noqa: PLC0415 - only when a generative endpoint is configured

        kwargs = {"model": settings.llm_model} if settings.llm_model else {}  # else the client's default name
        return ChatOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                          timeout=settings.llm_timeout_s, max_retries=0, temperature=0,
                          http_client=capped_client(settings.llm_max_reply_bytes, settings.llm_timeout_s), **kwargs)

    def _reply(self, question: str, given: list[SearchHit]) -> tuple[str | None, str]:
        """(reply text, "") or (None, notice). Any failure of the endpoint or its reply is the endpoint's fault."""
        try:
            reply = self.llm.invoke(build_messages(question, given))
        except Exception as exc:  # noqa: BLE001 - whatever the endpoint sent, the client gets the extractive answer
            notice = _fault_notice(exc)
            log.warning("LLM call failed (%s): %s: %s", notice, type(exc).__name__, str(exc)[:300])
            return None, notice
        if not isinstance(reply.content, str):
            log.warning("LLM reply content is %s, not text", type(reply.content).__name__)
            return None, BAD_REPLY_NOTICE
        return reply.content, ""

    def __call__(self, extractive: AnswerResult, hits: list[SearchHit]) -> AnswerResult:
        given = hits[: self.max_passages]
        if not given:
            return extractive
        content, notice = self._reply(extractive.question, given)
        if content is None:
            return replace(extractive, mode="extractive", notice=notice)
        answer = normalize_markers(_THINK.sub("", content).strip())
        if not answer:
            return self._reject(extractive, "empty answer")
        if len(answer) > self.max_answer_chars:
            return self._reject(extractive, f"longer than {self.max_answer_chars} characters")
        if _is_refusal(answer):
            text = NOT_FOUND_EN if analyse(extractive.question).lang == "en" else NOT_FOUND_ZH
            return AnswerResult(extractive.question, text, False, [], list(hits), mode="generative")
        verdict = verify(answer, [passage_text(h) for h in given], self.min_coverage, self.terms)
        if not verdict.ok:
            return self._reject(extractive, verdict.reason)
        if verdict.dropped:
            log.info("generated sentences dropped: %s", verdict.dropped)
        result = self._accept(extractive.question, verdict.text, verdict.cited, given, hits)
        if verdict.dropped:
            reasons = "; ".join(f"“{s[:40]}”: {why}" for s, why in verdict.dropped[:3])
            result.notice = DROPPED_NOTICE.format(n=len(verdict.dropped), reasons=reasons)
        return result

    @staticmethod
    def _reject(extractive: AnswerResult, reason: str) -> AnswerResult:
        return replace(extractive, mode="extractive", notice=REJECTED_NOTICE.format(reason=reason))

    @staticmethod
    def _accept(question: str, answer: str, cited: tuple[int, ...], given: list[SearchHit],
                hits: list[SearchHit]) -> AnswerResult:
        new_n = {old: new for new, old in enumerate(cited, 1)}  # markers renumbered in order of first mention
        claims = _claims(answer)
        text = _MARKER.sub(lambda m: f"[{new_n[marker_number(m.group(1))]}]", answer)
        citations = [Citation(new_n[old], given[old - 1], _best_sentence(claims.get(old, ""), given[old - 1]))
                     for old in cited]
        cited_ids = {given[old - 1].chunk.chunk_id for old in cited}
        related = [h for h in hits if h.chunk.chunk_id not in cited_ids]
        return AnswerResult(question, text, True, citations, related, mode="generative")
