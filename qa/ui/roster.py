"""Rosters laid out one person per line for display (组 长：雷健坤 市长 / 副组长：… / 成 员：… / 刘 鹏 …).

A gazette roster is a column of `name  post` lines; the parser joins a paragraph's lines, so the chat
answer and the sources panel would show one run-on line (…市长副组长：李文兵 市政府副市长成 员：梁爱卿 …).
This puts the breaks back for display only: the stored text, the citations and the highlighting match are
unchanged (the panel's highlighting ignores whitespace).
"""
from __future__ import annotations

import re

from qa.vocabulary import ROSTER_LABEL

_ROLE = ROSTER_LABEL
# A role label that starts a new roster row: not 副组长's tail (组长：), not 办公室主任：, not right after
# a group name's colon (阳泉市…领导小组：组长：… is one row), not inside a quotation (「组长：雷健坤 市长」).
_ROW_START = re.compile(rf"(?<!^)(?<!办公室)(?<![副务总：:\s\-—·•「『“‘（(\[])\s*(?={_ROLE})")
_ROSTER_LINE = re.compile(rf"^\s*(?:[-—·•]\s*)?(?:[^：:，,。\s]{{0,30}}[：:])?\s*(?:办公室)?{_ROLE}")
_CJK = r"[\u4e00-\u9fff]"
# The end of one member's post (…副部长, …调研员, …主任, …负责人) running into the next member's name (2–3 characters,
# or a 2-character name padded to the width of 3: 刘 鹏), which the name's column gap follows.
_POST_END = "长员任席记官师监理委事人"
# Not inside a post (市委|书记, 市政协|委员, 人|民医院): the break goes before a name, never before a title.
_TITLE_TAIL = "民|书记|委员|常委|主任|主席|秘书|调研员|科员|[局县区市部科处队所站院校]长|经理"
_NEXT_MEMBER = re.compile(rf"(?<={_CJK})([{_POST_END}])(?!{_TITLE_TAIL})((?:{_CJK}{{2,3}}|{_CJK}\s{_CJK})\s+(?={_CJK}))")
# The last member's post running into the sentence after the roster (…二级调研员领导小组下设办公室，…).
_PROSE_TAIL = re.compile(rf"([{_POST_END}])(?=[^\s，。；：、]{{2,}}，[^\s]*$)")


def roster_lines(text: str) -> str:
    """`text` with each roster row and each roster member on a line of its own; other text as it is."""
    if not text or not re.search(_ROLE, text):
        return text
    out: list[str] = []
    for line in text.split("\n"):
        if "|" in line:  # a table row keeps its cells together
            out.append(line)
            continue
        for row in _ROW_START.sub("\n", line).split("\n"):
            if _ROSTER_LINE.match(row):
                row = _NEXT_MEMBER.sub(r"\1\n\2", row)
                head, sep, last = row.rpartition("\n")
                last_gap = max(last.rfind(" "), last.rfind("\t"))
                # only after a `name post` member: 组长：市应急管理局局长。 has no tail to split off
                tail = _PROSE_TAIL.sub(r"\1\n", last[last_gap + 1:], count=1) if last_gap >= 0 else last
                row = head + sep + last[:last_gap + 1] + tail
            out.append(row.rstrip() if row.strip() else row)
    return "\n".join(out)
