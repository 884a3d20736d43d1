"""The role and label vocabulary every part reads: roster roles and posts, the labels that mark a roster
row or a named holder, and the kinds of value a question asks for (its cues).

One module, so the sentence splitter, the question analysis, the grounding checks, the answer features
and the answer's form agree on what a 组长 row or a who-question is.
"""
from __future__ import annotations

import re

# A compound role (办公室主任) is one role: asked, it is not the 主任 in a member's title. Longest first:
# the first role found in a question is the one asked.
ROLES = ("常务副组长", "副组长", "组长", "副指挥长", "指挥长", "办公室副主任", "办公室主任", "副主任", "主任", "副局长", "局长", "成员")
POSTS = ("副主任", "主任", "副局长", "局长")  # posts of an office, not only roles in a group

# Roster rows that lost their line breaks in the source (组 长：雷健坤 市长副组长：李文兵 …) split at each role label.
ROSTER_ROW = re.compile(r"(?<!办公室)(?<![副务：:])(?=(?:常务副组长|副组长|组\s*长|副指挥长|指挥长|成\s*员|副主任|主\s*任)\s*[：:])")
# A line that is a roster row: an optional group name, then a role label.
ROLE_LABEL = re.compile(r"^(?:[^：:，,。]{0,30}[：:])?\s*(?:常务副组长|副\s*组\s*长|组\s*长|副指挥长|指挥长|总指挥|副总指挥|成\s*员|副主任|主\s*任)\s*[：:]")
# The role labels of a (flattened) roster row, in order.
ROW_ROLE = re.compile(r"(常务副组长|副组长|组长|副指挥长|指挥长|副主任|主任|成员)[：:]")
# 组长：雷健坤市长 / 办公室主任由梁庆兼任 / 李武为阳泉市公安局西城分局局长
# (由市民政局二级调研员耿胜兼任: the name comes after the post's title)
NAMES_PERSON = re.compile(r"(?:组长|指挥长|总指挥|主任|成员|局长)[：:][\u4e00-\u9fff]{2,3}"
                          r"|由(?:[^，。；]{0,20}?(?:员|长|任|记|师))?[\u4e00-\u9fff]{2,4}(?:同志)?(?:兼任|担任)|^[\u4e00-\u9fff]{2,3}为")
# A roster block's label, ending the lead its unlabelled rows read with (… 副组长:).
BLOCK_ROLE = re.compile(r"(?:组长|指挥长|总指挥|主任|成员|局长)[：:]$")
# A question asking who holds a post.
ROLE_Q = re.compile(r"组长|指挥长|总指挥|主任|局长|校长|院长|支队长|书记|董事长|成员|\b(?:heads?|leads?|leader|director|chief|chair|principal)\b", re.I)
# A list of people is answered by names or role rows.
NAME_EVIDENCE = re.compile(r"(?:组长|主任|指挥长|成员|召集人|总指挥|委员)\s*[：:]")
# A who-question is answered by a name, a post holder (组长：市卫健委主任) or a lead unit (市纪委监委牵头).
PERSON_EVIDENCE = re.compile(r"(?:组长|主任|指挥长|局长|市长|书记|成员|负责人|召集人|总指挥)\s*[：:]|[\u4e00-\u9fff]{2,4}为|牵头|担任|兼任|任命|负责")
# Asked for people (not for the unit that bears a cost: 由谁承担, 谁出).
ASKS_PEOPLE = re.compile(r"(?:是|为)谁|由谁担任|谁担任|哪位|何人|\bwho\s+(?:is|was|were|are)\b|\bwhom\b", re.I)
ASKS_NAMES = re.compile(r"哪些人|什么人|哪几位|哪几个人|成员(?:是|有)(?:谁|哪些)")
# The roles an English question names, as the gazette writes them (heads -> 组长).
ROLE_EN = {"deputy head": "副组长", "deputy leader": "副组长", "head": "组长", "heads": "组长", "leader": "组长",
           "leads": "组长", "director": "主任", "deputy director": "副主任", "chief": "组长"}

# The kinds of value a question asks for (its cues): what the answer must carry.
QUESTION_KINDS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"多少|多大|年龄|几岁|岁数|几[个项家条次天年月日人类万所]|几|数量|比例|金额|标准是|how many|how much|how old|what age|what percentage|what share|(?<!document )number of|amount", re.I),
    "date": re.compile(r"何时|什么时候|哪天|哪一天|日期|期限|截止|多久|时限|几月|哪年|什么时间|when|what date|deadline|by what|how long|which year", re.I),
    "person": re.compile(r"谁|哪位|何人|由谁|担任|任命|免去|组长|任职|\bwho\b|whom|appointed|heads?\b|leader|chair", re.I),
    "document": re.compile(r"哪个文件|什么文件|哪份文件|哪一份|文号|发文字号|哪个通知|(?:文件|通知)是哪[个份一]"
                           r"|(?:which|what) (?:\d{4} )?(?:document|notice|file)s?\b|document number", re.I),
}


def asked_role(question: str) -> str | None:
    """The roster role a question asks about (组长 in 组长是谁; heads -> 组长 in English), or None."""
    flat = question.replace(" ", "")
    found = next((r for r in ROLES if r in flat), None)
    if found:
        return found
    low = question.lower()
    for en in sorted(ROLE_EN, key=len, reverse=True):
        if re.search(rf"\b{en}\b", low):
            return ROLE_EN[en]
    return None
