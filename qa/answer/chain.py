"""The retrieval chain: retriever -> answerer -> citation check, as a LangChain runnable.

`build_answer_chain(...)` returns one Runnable that the CLI, the API, the UI and `qa eval` all call
(through GazetteService.ask), so every surface answers the same way.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from langchain_core.runnables import Runnable, RunnableLambda

from qa.answer.extractive import (NOT_FOUND_EN, NOT_FOUND_ZH, ExtractiveParams, SentenceSimilarity, compose,
                                  missing, person_timeline, refuse)
from qa.answer.crossenc import cited_scores
from qa.answer.gate import gate_features, gated
from qa.answer.selection import flat
from qa.question import QuestionInfo, analyse, bigrams, clauses, part_years
from qa.answer.grounding import asked
from qa.answer.types import AnswerResult
from qa.corpus.normalize import canonical_doc_number, parse_doc_numbers
from qa.models import SearchHit
from qa.vocabulary import PERSON_PRONOUN as _PRONOUN

SearchFn = Callable[[str, int, dict | None], list[SearchHit]]
TermsFn = Callable[[str], tuple[tuple[str, ...], ...]]
_MARKER = re.compile(r"\[(\d+)\]")
NO_LLM_NOTICE = "no LLM endpoint configured; extractive answer"
# A question asking who (接替张明川…的是谁) while naming someone: the person named is not the answer.
_ASKS_ANOTHER = re.compile(r"谁|哪位|何人|\bwho\b", re.I)
# The comparing words of a multi-year question (对比…有什么变化 / 是不是同一个人): a year's part asks that year's
# own figure or person, which no passage says in those words.
_COMPARING = re.compile(r"对比|比较|(?:有|发生了?)?(?:什么|何|哪些)(?:变化|不同|区别|差别)|是不是同一(?:个)?人|是否(?:为)?同一(?:个)?人"
                        r"|(?:是否)?一样吗?|是否一致|相同吗")
# A clause saying where someone went, with no subject of its own (8月调任什么 / 又被任命为什么职务).
_SUBJECTLESS_MOVE = re.compile(r"^(?:\d{1,2}月份?|年初|年底|年中|后来|随后|之后|又|再|还)*(?:被)?(?:调任|改任|转任|升任|提任|任命|调到|调往|调入|任职|担任)")
_POSTS_Q = re.compile(r"职务|职位|岗位|任过|担任|任职|履历|调任|调到|调往|调入|改任|转任|posts?|positions?|roles?|appointed", re.I)


@dataclass
class AskRequest:
    question: str
    top_k: int = 5
    filters: dict | None = None
    mode: str = "extractive"


@dataclass
class _State:
    request: AskRequest
    info: QuestionInfo
    hits: list[SearchHit] = field(default_factory=list)
    doc_route: bool = False
    doc_numbers: list[str] = field(default_factory=list)  # indexed document numbers the question names
    persons: list[str] = field(default_factory=list)
    parts: list[tuple[QuestionInfo, list[SearchHit]]] = field(default_factory=list)
    parts_by_clause: bool = False  # each part is the clause naming its year, about the person the question names
    hops: set[int] = field(default_factory=set)  # parts (by index) about the person an earlier part answers
    result: AnswerResult | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _year_uncovered(info: QuestionInfo, hits: list[SearchHit]) -> list[int]:
    """Years the question names that no retrieved passage speaks of: never answer those with another year's figure."""
    missing = []
    for year in info.years:
        if not any(h.chunk.year == year or str(year) in h.chunk.text or str(year) in h.chunk.doc_title for h in hits):
            missing.append(year)
    return missing


def _doc_number_uncovered(info: QuestionInfo, doc_numbers: list[str], hits: list[SearchHit]) -> list[str]:
    """Document numbers the question names that are neither a gazette document nor cited by a retrieved
    passage: 阳政办发〔2024〕3号 is not answered with another document's card."""
    named = parse_doc_numbers(info.normalized)
    if not named or doc_numbers:
        return []
    cited = [n for h in hits for n in parse_doc_numbers(h.chunk.text)]
    missing = []
    for prefix, year, num in named:
        # the question's prefix may carry words before the number's own (按晋政办发…)
        if not any(y == year and n == num and (prefix.endswith(p) or p.endswith(prefix)) for p, y, n in cited):
            own = prefix[max(prefix.rfind("阳"), prefix.rfind("晋"), 0):]
            missing.append(canonical_doc_number(own, year, num))
    return missing


def _issue_uncovered(info: QuestionInfo, hits: list[SearchHit]) -> list[str]:
    """Gazette issues the question names (2022年第1期) that no retrieved passage belongs to."""
    issues = asked(info).issues
    if any(h.chunk.issue in issues for h in hits):
        return []
    return [f"{i[:4]}年第{int(i[5:])}期" for i in issues]


def _uncovered_reason(state: _State) -> str | None:
    """Why the gazette cannot hold the answer, said in the refusal: the question names an issue no retrieved
    passage belongs to, a document number the gazette neither holds nor cites, or only years no passage
    speaks of. None when none of these holds."""
    info, hits = state.info, state.hits
    zh = info.lang == "zh"
    issues = _issue_uncovered(info, hits)
    if issues:
        return f"（公报中没有{'、'.join(issues)}的相关内容）" if zh else f" (no passage of gazette issue {', '.join(asked(info).issues)})"
    docs = _doc_number_uncovered(info, state.doc_numbers, hits)
    if docs:
        return f"（公报未收录{'、'.join(docs)}）" if zh else f" (no gazette document {', '.join(docs)})"
    years = _year_uncovered(info, hits + [h for _, part_hits in state.parts for h in part_hits])
    if years and len(years) == len(info.years):
        return f"（公报未收录{'、'.join(f'{y}年' for y in years)}的相关内容）" if zh else f" (no passage about {', '.join(map(str, years))})"
    return None


def refused_before_scoring(info: QuestionInfo, hits: list[SearchHit], doc_numbers: list[str] | tuple = ()) -> str | None:
    """The refusal the chain gives before any sentence is scored (`_uncovered_reason`: an issue, document
    number or year no retrieved passage covers), for a question without year parts; None when it scores.
    (`qa train` leaves such questions out of the threshold choice: no threshold changes their outcome.)"""
    return _uncovered_reason(_State(AskRequest(info.text), info, list(hits), doc_numbers=list(doc_numbers)))


def build_answer_chain(search: SearchFn, routes: Callable[[str], object],
                       params: ExtractiveParams = ExtractiveParams(),
                       similarity: SentenceSimilarity | None = None,
                       generative: Callable[[AnswerResult, list[SearchHit]], AnswerResult] | None = None,
                       terms: TermsFn | None = None) -> Runnable:
    """retrieve | answer | check_citations. `terms` gives an English question's words as Chinese index
    terms (the searcher's cross-lingual expansion): the answerer matches sentences on them."""

    def analysed(question: str) -> QuestionInfo:
        info = analyse(question)
        if info.lang == "en" and terms is not None:
            info.terms = terms(question)
        return info

    def retrieve(req: AskRequest) -> _State:
        t0 = time.perf_counter()
        state = _State(req, analysed(req.question))
        matched = routes(req.question)  # RouteMatch: document numbers and person names the question names
        state.doc_route = bool(matched.doc_numbers)
        state.doc_numbers = list(matched.doc_numbers)
        state.persons = list(matched.persons)
        k_hits = max(req.top_k, params.max_passages)
        state.hits = search(req.question, k_hits, req.filters)
        # Multi-part questions over several years: each year answered from its own evidence.
        years = part_years(state.info)
        if len(years) >= 2 and not (req.filters or {}).get("year"):
            part_q = part_question(req.question, years)
            # 叶文鑫在2020年…名单中是什么身份？2021年7月被任命为什么？: each year asks its own clause of that person.
            own = year_clauses(req.question, years)
            if own is not None and not state.persons:
                # 2020年…的市科技局副局长是谁，2021年8月调任什么？: the later clause is about whoever the first names.
                first = next(iter(own.values()))
                state.hops = {k for k, c in enumerate(own.values()) if k and _ASKS_ANOTHER.search(first)
                              and _SUBJECTLESS_MOVE.match(part_question(c, years))}
                own = own if state.hops else None
            state.parts_by_clause = own is not None
            for year in years:
                if own is not None:
                    part_q = part_question(own[year], years)
                    part_q = about(part_q, state.persons) if state.persons else part_q
                part_hits = search(f"{year}年 {part_q}", params.max_passages, {**(req.filters or {}), "year": year})
                # In a Chinese part the year is no selection word: the year filter already chose the part's
                # passages (a 2022年6月17日 lead-in would win on it). An English part keeps it: it is one of
                # the few words matched as written. The grounding checks read `years` either way.
                part_info = analysed(part_q if state.info.lang == "zh" else f"{year}年 {part_q}")
                part_info.years = [year]
                state.parts.append((part_info, part_hits))
        elif not state.persons and state.info.lang == "zh":
            # 2021年2月被任命为市商务局副局长的是谁？他原来是什么职务？: a later clause asks after whoever the first
            # names, from that person's own records (the year a clause names binds that clause only).
            cs = clauses(req.question)
            if len(cs) >= 2 and _ASKS_ANOTHER.search(cs[0]) and all(_PRONOUN.search(c) for c in cs[1:]):
                state.parts_by_clause = True
                state.hops = set(range(1, len(cs)))
                for k, clause in enumerate(cs):
                    named = [y for y in years if str(y) in clause][:1]
                    part_info = analysed(part_question(clause, named) if named else clause)
                    part_info.years = named
                    # the first clause reads the whole question's passages; a later one its person's (the hop)
                    state.parts.append((part_info, [] if k else state.hits[:k_hits]))
        state.timings["retrieve"] = (time.perf_counter() - t0) * 1000
        return state

    def answer(state: _State) -> _State:
        t0 = time.perf_counter()
        info = state.info
        uncovered = _uncovered_reason(state)
        if uncovered is not None:
            state.result = refuse(info, state.hits, uncovered)
        elif state.parts_by_clause:
            state.result = _answer_parts(state, params, similarity, search, lambda text: list(routes(text).persons))
        elif state.persons and not state.doc_route and _asks_posts(info):
            state.result = person_timeline(info, state.persons, state.hits) or compose(
                info, state.hits, params, state.doc_route, similarity)
        elif state.parts:
            state.result = _answer_parts(state, params, similarity)
        else:
            state.result = compose(info, state.hits[: max(state.request.top_k, params.max_passages)], params,
                                   state.doc_route, similarity)
        state.result = _gate(state, params, similarity)
        if state.request.mode == "generative":
            if generative is None:  # asked for, but no endpoint configured (settings.llm_base_url)
                state.result.notice = NO_LLM_NOTICE
            elif state.result.answered:
                state.result = generative(state.result, state.hits)
        state.timings["answer"] = (time.perf_counter() - t0) * 1000
        return state

    def check_citations(state: _State) -> AnswerResult:
        result = state.result
        assert result is not None
        listed = {c.n for c in result.citations}
        used = {int(n) for n in _MARKER.findall(result.answer)}
        if used - listed:  # a marker without its citation is a defect: drop the marker, keep the text
            result.answer = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in listed else "", result.answer)
        result.citations = [c for c in result.citations if c.n in used]
        result.timings_ms = {**state.timings, "total": sum(state.timings.values())}
        result.answer_id = uuid.uuid4().hex[:16]
        if result.mode != "generative":
            result.mode = "extractive"
        return result

    return RunnableLambda(retrieve) | RunnableLambda(answer) | RunnableLambda(check_citations)


def _gate(state: _State, params: ExtractiveParams, similarity: SentenceSimilarity | None = None) -> AnswerResult:
    """The answer as chosen, with the answer gate's features in its trace; refused as the answerer refuses
    when the gate (params.answer_gate, setting answer_gate) finds it unlikely to be right."""
    result = state.result
    assert result is not None
    route = "parts" if state.parts else "timeline" if state.persons and _asks_posts(state.info) else "compose"
    result.trace.setdefault("route", route)
    if not result.answered:
        return result
    # the question's vector is the one retrieval cached; the cited sentences' are the index's (or cached)
    cosines = similarity(state.info.text, [c.sentence for c in result.citations]) if similarity and result.citations else None
    crossenc = cited_scores(params.answer_crossenc, state.info.text, result.citations)
    result.trace["gate_features"] = gate_features(state.info, state.hits, result, cosines, crossenc)
    if params.answer_gate is None or gated(params.answer_gate, state.info, state.hits, result):
        return result
    refusal = refuse(state.info, state.hits, missing(state.info))
    refusal.trace = {**result.trace, "gated": True}
    return refusal


def _asks_posts(info: QuestionInfo) -> bool:
    """The question asks the posts of the person it names (not who else holds one: 接替张明川…的是谁)."""
    return ("person" in info.cues or bool(_POSTS_Q.search(info.text))) and not _ASKS_ANOTHER.search(info.text)


def year_clauses(question: str, years: list[int]) -> dict[int, str] | None:
    """Each year's own asking clause, when every clause names exactly one of the years and each year has one
    (叶文鑫在2020年…是什么身份？2021年7月被任命为什么？); else None (2020年和2022年的组长分别是谁)."""
    cs = clauses(question)
    if len(cs) < 2:
        return None
    own: dict[int, str] = {}
    for clause in cs:
        named = [y for y in years if str(y) in clause]
        if len(named) != 1 or named[0] in own:
            return None
        own[named[0]] = clause
    return own if len(own) == len(years) else None


def about(clause: str, persons: list[str]) -> str:
    """The clause with the person the question names as its subject (他 / a dropped subject)."""
    if any(p in clause for p in persons):
        return clause
    if _PRONOUN.search(clause):
        return _PRONOUN.sub(persons[0], clause, count=1)
    return f"{persons[0]}{clause}"


def part_question(question: str, years: list[int]) -> str:
    """What each year's part asks: the question without the years it is asked of, nor its comparing words
    (对比…有什么变化 -> the figure; 是不是同一个人 -> 是谁)."""
    part_q = re.sub(rf"(?:{'|'.join(map(str, years))})\s*年?(?:度)?\s*(?:和|与|、|及|and)?", "", question)
    return _COMPARING.sub(lambda m: "是谁" if "人" in m.group(0) else "", part_q)


def _holder(part: AnswerResult, info: QuestionInfo, names: Callable[[str], list[str]]) -> list[str]:
    """The person a part's answer names for the post its question asks (高全红 in a roster row naming ten: the
    one whose post reads like the question's). `names` gives the indexed person names a text holds."""
    if not part.citations:
        return []
    c = part.citations[0]
    text = flat(c.sentence)
    asked = bigrams(info.content)
    best, name = 0.0, ""
    for p in dict.fromkeys([*(p.replace(" ", "") for p in c.hit.chunk.persons), *names(c.sentence)]):
        i = text.find(p)
        if i < 0:
            continue
        # the post follows the name (高全红 市科技局副局长 / 李海民为…局长) or leads to it (办公室主任：王耀东)
        score = len(asked & bigrams(text[i + len(p): i + len(p) + 12])) + 0.5 * len(asked & bigrams(text[max(0, i - 8): i]))
        if score > best:
            best, name = score, p
    return [name] if name else []


def _answer_parts(state: _State, params: ExtractiveParams, similarity: SentenceSimilarity | None,
                  search: SearchFn | None = None, names: Callable[[str], list[str]] | None = None) -> AnswerResult:
    """One answer sentence per part, markers renumbered into one citation list."""
    answers, citations, related, answered = [], [], [], False
    part_params = replace(params, second_adds=params.part_second_adds)
    persons = state.persons
    # labelled by year when each part has its own (clauses asking after one person need no label)
    by_year = all(i.years for i, _ in state.parts) and len({i.years[0] for i, _ in state.parts}) == len(state.parts)
    for k, (part_info, hits) in enumerate(state.parts):
        year = part_info.years[0] if part_info.years else None
        if k in state.hops and persons and search is not None:  # the second hop: that person's record
            part_info, years = analyse(about(part_info.text, persons)), part_info.years
            part_info.years = years
            hits = search(f"{year}年 {part_info.text}" if year else part_info.text, params.max_passages,
                          {**(state.request.filters or {}), **({"year": year} if year else {})})
        # A clause asking that person's post (2021年7月被任命为什么) reads that year's appointment records.
        part = state.parts_by_clause and persons and _asks_posts(part_info) and person_timeline(part_info, persons, hits) \
            or compose(part_info, hits, part_params, False, similarity, split_clauses=False)  # the year is the part
        if k in state.hops and not any(p in flat(part.answer) for p in persons or ["-"]):
            part = refuse(part_info, hits)  # the second hop answers about that person or not at all
        if state.hops and not persons and part.answered and names is not None:
            persons = _holder(part, part_info, names)
        zh = part_info.lang == "zh"
        label = (f"{year}年" if zh else str(year)) if by_year and year else ""
        if not part.answered:
            answers.append(f"{label}：公报中未找到。" if label and zh else f"{label}: not found in the gazette."
                           if label else NOT_FOUND_ZH if zh else NOT_FOUND_EN)
            related.extend(part.related)
            continue
        answered = True
        # renumber into one list; a passage an earlier part cites keeps its number
        number = {c.hit.chunk.chunk_id: c.n for c in citations}
        renumbered: dict[int, int] = {}
        for c in part.citations:
            n = number.get(c.hit.chunk.chunk_id)
            if n is None:
                n = len(citations) + 1
                number[c.hit.chunk.chunk_id] = n
                citations.append(c)
            renumbered[c.n] = n
        for c in part.citations:
            c.n = renumbered[c.n]
        text = _MARKER.sub(lambda m: f"[{renumbered.get(int(m.group(1)), int(m.group(1)))}]", part.answer)
        related.extend(part.related)
        answers.append((f"{label}：{text}" if zh else f"{label}: {text}") if label else text)
    if not answered:
        return refuse(state.info, state.hits)
    seen = {c.hit.chunk.chunk_id for c in citations}
    related = [h for h in dict((h.chunk.chunk_id, h) for h in related).values() if h.chunk.chunk_id not in seen]
    return AnswerResult(state.info.text, ("\n" if by_year else " ").join(answers), True, citations, related)
