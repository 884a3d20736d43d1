"""The sentences of a retrieved passage as the answerer reads them: split at sentence ends, roster
rows split at their role labels, and each list item or roster row tied to the sentence that
introduces its list (现成立…领导小组。 / 应当认定为无劳动能力： / 任命：), because an item alone
("组长：雷健坤 市长", "（一）60周岁以上的老年人") does not say what it is an item of.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa.models import Chunk
from qa.vocabulary import ROLE_LABEL as _ROLE_LABEL, ROSTER_ROW as _ROSTER_ROW

_SENTENCES = re.compile(r"[^。；！？!?;\n]+[。；！？!?;]?")
_LIST_MARK = re.compile(r"^(?:[-—·•]\s*|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}\s*[.、．](?!\d)|[①-⑳])")
_INTRO_END = re.compile(r"[：:]\s*$")
_CLOSED = re.compile(r"[。；;！？!?：:]\s*$")


@dataclass(frozen=True)
class Sentence:
    text: str
    lead: str = ""  # the sentence introducing the list or roster this one is an item of
    index: int = 0  # position in the passage
    item: bool = False  # a list item or roster row (its meaning leans on `lead`)
    caption: bool = False  # a bare line naming the list or roster that follows (阳泉市非煤矿山整合工作专班)

    @property
    def intro(self) -> bool:
        """A sentence that only announces a list (…如下： / 任命：): it answers nothing by itself."""
        return bool(_INTRO_END.search(self.text))


def split_sentences(text: str) -> list[str]:
    out = []
    for s in _SENTENCES.findall(text):
        out.extend(part.strip() for part in _ROSTER_ROW.split(s))
    return [s for s in out if len(s) >= 4]


def passage_body(chunk: Chunk) -> str:
    """What the answerer reads of a passage: table chunks as their readable rows."""
    if chunk.chunk_type == "table":
        # embed_text is the header line (issue, number, title), the section path's line when there is
        # one, then the rows: a table without a section path starts its rows on the second line.
        return chunk.embed_text.split("\n", 2 if chunk.section_path else 1)[-1]
    return chunk.text


def is_item(text: str, chunk_type: str = "text") -> bool:
    if _LIST_MARK.match(text) or _ROLE_LABEL.match(text):
        return True
    # Appointment records: every line after 任命：/免去： is one person's item.
    return chunk_type == "personnel" and not _INTRO_END.search(text) and not text.startswith(("经", "根据"))


def is_heading(text: str) -> bool:
    """A short line that does not close like a sentence ((三) 城区 / 二、工作目标): it names what follows."""
    return len(text) <= 24 and not _CLOSED.search(text) and not _ROLE_LABEL.match(text)


# A line the source wrapped mid-sentence (第四十三条 本办法自 2024 年 1 月 5 日起 / 施行。): a long line that
# does not close, followed by one that is no new item or article and closes the sentence.
_NEW_UNIT = re.compile(r"^(?:[-—·•]|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}\s*[.、．](?!\d)|[①-⑳]"
                       r"|第[一二三四五六七八九十百零\d]+[章节条]|[一二三四五六七八九十]+、)")
_WRAP_MIN_CHARS = 16


def unwrap(lines: list[str]) -> list[str]:
    """Lines the source wrapped inside a sentence joined again."""
    out: list[str] = []
    for line in lines:
        prev = out[-1].strip() if out else ""
        first = _SENTENCES.match(line.strip())
        if len(prev) >= _WRAP_MIN_CHARS and not _CLOSED.search(prev) and "\t" not in prev and "|" not in prev \
                and line.strip() and not _NEW_UNIT.match(line.strip()) and first and _CLOSED.search(first.group(0)):
            out[-1] = out[-1].rstrip() + line.strip()
        else:
            out.append(line)
    return out


def passage_sentences(chunk: Chunk) -> list[Sentence]:
    """A passage's sentences, each with its lead: an item's introduction (and roster block label); for
    other sentences the heading above and the first sentence of their paragraph (1. 为0-6岁残疾儿童提供
    全日制康复训练。… 救助标准为15000元/人/年。: the standard is that training's)."""
    out: list[Sentence] = []
    lead = heading = role = ""  # role: the label of the roster block an unlabelled row belongs to (副组长: … - 王立武 …)
    i = 0
    lines = passage_body(chunk).split("\n")
    if chunk.chunk_type != "table":  # a table's lines are its rows, never wrapped
        lines = unwrap(lines)
    for line in lines:
        first = first_item = ""
        for text in split_sentences(line):
            if chunk.chunk_type == "text" and is_heading(text):
                heading = lead = text
                out.append(Sentence(text, "", i, False))
                i += 1
                continue
            # The second person of a two-person roster row (…成员：王志伟（…）；陈鹏（市气象局副局长）) is an
            # item of the same roster block, not a sentence the rows below read with.
            item = is_item(text, chunk.chunk_type) or chunk.chunk_type == "table" and bool(first) and is_item(first, "table")
            if first_item and not item:
                # A later sentence of an item's paragraph belongs to that item (1. 为…全日制康复训练。救助标准为…).
                out.append(Sentence(text, first_item, i, True))
                i += 1
                continue
            role_label = _ROLE_LABEL.match(text)
            if role_label:
                role = role_label.group(0)
            item_lead = f"{lead} {role}" if item and role and not role_label else lead
            paragraph_lead = f"{heading} {first}".strip() if first else heading
            out.append(Sentence(text, item_lead if item else paragraph_lead, i, item))
            i += 1
            if not first:
                first = text
                first_item = text if item and _LIST_MARK.match(text) else ""
            if not item:
                lead, role = text, ""
    for k, s in enumerate(out[:-1]):
        # (a heading that carries a figure, （二）集中办理阶段（2024年1月1日至3月25日）, may itself answer)
        if not s.item and out[k + 1].lead.startswith(s.text) and len(s.text) <= 30 and not _CLOSED.search(s.text) \
                and not re.search(r"\d", s.text):
            out[k] = replace(s, caption=True)
    return out


def continuation(sentences: list[Sentence], at: Sentence, max_chars: int = 120, max_items: int = 4) -> str:
    """The items an introducing sentence announces (第五条 …认定为无劳动能力： -> （一）…；（二）…), joined
    as one answer sentence: the introduction alone names none of them."""
    items: list[str] = []
    used = 0
    for s in sentences[at.index + 1:]:
        if not s.item or not s.lead.startswith(at.text) or len(items) >= max_items or used + len(s.text) > max_chars and items:
            break
        items.append(s.text.lstrip("-—·• ").strip())
        used += len(s.text)
    return " ".join(items)


def introduction(sentences: list[Sentence], item: Sentence) -> Sentence | None:
    """The sentence announcing the list an item belongs to, when it announces one (…纳入公示范围：)."""
    for s in reversed(sentences[: item.index]):
        if not s.item:
            return s if s.intro and item.lead.startswith(s.text) else None
    return None
