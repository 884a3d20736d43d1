"""The vocabulary every part reads: roster roles and posts, the labels that mark a roster row or a named
holder, the groups rosters belong to, the words a follow-up question points back with, and the kinds of
value a question asks for (its cues).

One module, so the parser, the sentence splitter, the question analysis, the follow-ups, the grounding
checks, the answer features, the answer's form and the roster display agree on what a 组长 row, a
who-question or 这个文件 is. Word lists are tuples; a module's pattern built from one reads it through
`alternation`. Patterns that are one module's own parsing detail (a follow-up's frame, a number's unit)
stay in that module.
"""
from __future__ import annotations

import re
from collections.abc import Iterable


def alternation(words: Iterable[str]) -> str:
    """The regex alternation of `words` in their order (they are words or regex pieces, not escaped)."""
    return "|".join(words)


# ---- roles and posts ---------------------------------------------------------------------------------
# A compound role (办公室主任) is one role: asked, it is not the 主任 in a member's title. Longest first:
# the first role found in a question is the one asked.
ROLES = ("常务副组长", "副组长", "组长", "副指挥长", "指挥长", "办公室副主任", "办公室主任", "副主任", "主任", "副局长", "局长", "成员")
POSTS = ("副主任", "主任", "副局长", "局长")  # posts of an office, not only roles in a group
# The role labels of a roster row (组长：…), in order: the rows an answer reads a holder off.
ROW_ROLES = ("常务副组长", "副组长", "组长", "副指挥长", "指挥长", "副主任", "主任", "成员")
# The same with an office's own posts told apart (办公室主任：梁庆 is not the group's 主任): rows that state
# the same rule year after year hold the same one of these.
ROW_ROLES_OFFICE = ("常务副组长", "副组长", "组长", "副指挥长", "指挥长", "办公室副主任", "办公室主任", "副主任", "主任", "成员")
# The roles a question may name side by side (组长和副组长是谁: one question each).
NAMED_ROLES = ("常务副组长", "副组长", "组长", "副总指挥", "总指挥", "副指挥长", "指挥长", "办公室副主任", "办公室主任", "副主任",
               "主任")
# The roles a follow-up may swap in (副组长呢？): those, a group's secretaries and its members.
FOLLOW_UP_ROLES = NAMED_ROLES + ("副秘书长", "秘书长", "成员单位", "成员")
# A roster line's role label as printed, spaced to line up (组 长：, 成 员：): the roster display's rows.
ROSTER_LABEL = r"(?:常务副组长|副\s*组\s*长|组\s*长|组\s*员|副总指挥|总指挥|副指挥长|指挥长|成\s*员|副主任|主\s*任)\s*[：:]"

# Roster rows that lost their line breaks in the source (组 长：雷健坤 市长副组长：李文兵 …) split at each role label
# (a roster's members may be 成员 or 组 员).
ROSTER_ROW = re.compile(r"(?<!办公室)(?<![副务：:])(?=(?:常务副组长|副组长|组\s*长|组\s*员|副指挥长|指挥长|成\s*员|副主任|主\s*任)\s*[：:])")
# A line that is a roster row: an optional group name, then a role label.
ROLE_LABEL = re.compile(rf"^(?:[^：:，,。]{{0,30}}[：:])?\s*{ROSTER_LABEL}")
# The role labels of a (flattened) roster row, in order.
ROW_ROLE = re.compile(rf"({alternation(ROW_ROLES)})[：:]")
# A sentence naming someone in a role or post (组长, 局长, …为…, 任, 免去): in a personnel record or roster
# it says who.
NAME_ROLE = re.compile(r"(组长|副组长|指挥长|主任|局长|市长|为|任|免去)")
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
# 谁 asked of a body (主办单位是谁, 牵头部门是谁): an organisation answers, not a person.
NOT_A_PERSON = r"(?<!单位是)(?<!单位为)(?<!部门是)(?<!部门为)(?<!机关是)(?<!机关为)(?<!机构是)(?<!机构为)"
# Asked for people (not for the unit that bears a cost: 由谁承担, 谁出).
ASKS_PEOPLE = re.compile(rf"(?:是|为){NOT_A_PERSON}谁|由谁担任|谁担任|哪位|何人|\bwho\s+(?:is|was|were|are)\b|\bwhom\b", re.I)
ASKS_NAMES = re.compile(r"哪些人|什么人|哪几位|哪几个人|成员(?:是|有)(?:谁|哪些)")

# ---- English role words ------------------------------------------------------------------------------
# The roles an English question names, as the gazette writes them (heads -> 组长): the answer's choice of row
# and its English template read the same. Regex pieces, the first that matches is the one asked: longest first.
ROLES_EN = (("executive deputy head", "常务副组长"), ("deputy commander", "副指挥长"), ("deputy director", "副主任"),
            ("deputy leader", "副组长"), ("deputy head", "副组长"), ("commander", "指挥长"), ("director", "主任"),
            ("members", "成员"), ("leaders?", "组长"), ("heads?", "组长"), ("leads", "组长"), ("chief", "组长"))
# A roster row's role in an English answer (The deputy head (副组长) is …).
ROLE_NAMES_EN = {"常务副组长": "executive deputy head", "副组长": "deputy head", "组长": "leader", "副指挥长": "deputy commander",
                 "指挥长": "commander", "副主任": "deputy director", "主任": "director", "成员": "member"}

# ---- groups ------------------------------------------------------------------------------------------
# What a roster's group is called (…领导小组, …工作专班, …指挥部): the parser names a roster's group with it
# and the answer reads the group back off a rendered row (阳泉市…领导小组：组长：…).
GROUP_NOUNS = ("领导小组", "工作专班", "指挥部", "委员会", "工作组", "专班", "领导组", "小组")
# The groups a follow-up names when it swaps a role (…领导小组, …联席会议). Kept apart from GROUP_NOUNS: the
# union would rewrite more follow-ups (…专班), which the eval, single-turn, cannot show unchanged.
FOLLOW_UP_GROUP_NOUNS = ("领导小组", "工作小组", "专项小组", "工作组", "指挥部", "委员会", "联席会议")

# ---- colophon -----------------------------------------------------------------------------------------
# The short labels a periodical's colophon prints (邮 编：045000) and the words a question asks for them with:
# the colophon's passage is embedded and searched under both, so 邮政编码 finds 邮编.
COLOPHON_LABELS = {"邮编": "邮政编码", "电话": "电话号码"}

# ---- follow-up questions: the words that point back to an earlier turn --------------------------------
# Document nouns after a deictic (这个文件, 该通知, 上述办法).
DOC_NOUNS = ("文件", "公文", "通知", "实施意见", "指导意见", "意见", "办法", "方案", "规定", "决定", "通告", "公告", "细则", "条例",
             "预案", "规划", "批复", "函", "文")
# Deictics before them (regex pieces: 上面的?).
DEICTICS = ("这个", "这份", "这一", "这篇", "这", "那个", "那份", "那篇", "该", "此", "本", "上述", "上面的?", "前面的?", "刚才的?",
            "上一个")
# Attributes a bare follow-up may ask of the document just answered (文号呢？ 发文日期是什么？).
DOC_ATTRIBUTES = ("文号", "发文字号", "发文号", "标题", "名称", "全称", "发文单位", "发文机关", "印发单位", "成文日期", "发文日期", "发布日期",
                  "发布时间", "印发时间")
# A person referred to (他, 她, 此人, 该同志), not 其他, 他们, 他人, 吉他.
PERSON_PRONOUN = re.compile(r"(?:此人|该同志|这位同志|这个人|这位|该人|(?<![其吉利])他(?!们|人)|她(?!们))")
# A year as a question names it (2021; 2021年度): a year follow-up (2021年的呢？) puts it in the earlier question.
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
YEAR_WORD = re.compile(r"((?:19|20)\d{2})\s*年度?")
# English: the same kinds, as an English speaker writes them.
# "it"/"its" alone are no reference to the last document: English questions use them for their own nouns
# (how much of it, its premium rate); only "its document number" and the like are.
EN_DOC_REF = re.compile(r"\b(?:this|that|the same|the above|said) (?:document|notice|file|opinions?|measures|plan|circular)\b"
                        r"|\bthe document\b(?! number)|\bits (?=(?:document )?number|title|issue date|issuer\b)", re.I)
EN_PERSON = re.compile(r"\b(?:he|she|him|her|his|this person)\b", re.I)

# ---- question kinds ----------------------------------------------------------------------------------
# The kinds of value a question asks for (its cues): what the answer must carry.
QUESTION_KINDS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"多少|多大|年龄|几岁|岁数|几[个项家条次天年月日人类万所]|几|数量|比例|金额|标准是|how many|how much|how old|what age|what percentage|what share|(?<!document )number of|amount", re.I),
    "date": re.compile(r"何时|什么时候|哪天|哪一天|日期|期限|截止|多久|时限|几月|哪年|什么时间|when|what date|deadline|by what|how long|which year", re.I),
    "person": re.compile(rf"{NOT_A_PERSON}谁|哪位|何人|由谁|担任|任命|免去|组长|任职|\bwho\b|whom|appointed|heads?\b|leader|chair", re.I),
    "document": re.compile(r"哪个文件|什么文件|哪份文件|哪一份|文号|发文字号|哪个通知|(?:文件|通知)是哪[个份一]"
                           r"|(?:which|what) (?:\d{4} )?(?:document|notice|file)s?\b|document number", re.I),
}
# Kinds the answer's sentence choice (qa/answer/selection.py) and its English template (qa/answer/phrasing.py)
# both read. Money asked (每人每年救助多少钱 / how much is the subsidy): an amount in 元 answers it.
MONEY_Q = re.compile(r"多少钱|多少资金|多少经费|金额|\b(?:how much (?:money|funding)|subsid(?:y|ies)|allowances?|fees?|costs?|prices?"
                     r"|fund(?:s|ing)?|yuan|rewards?|bonus(?:es)?|fines?|compensation)\b", re.I)
# A rate or share asked for (合格率是多少 / what share): a percentage answers it.
RATE_Q = re.compile(r"率|比例|占比|百分之|\b(?:shares?|percentages?|rates?|proportions?|per ?cent)\b", re.I)
# English questions, as the English answer's template reads them (qa/answer/phrasing.py).
# Asked for an age: the figure in 岁 is the value.
AGE_Q_EN = re.compile(r"\bage\b|how old", re.I)
# Asked for a figure without a how-many (What target does … set): a figure answers.
FIGURE_Q_EN = re.compile(r"\b(?:target|figure|total|area|size|output|capacity|length|volume|quota|scale|limit)\b", re.I)
# Asked for a person without a who (Which deputy director was relieved …): a name answers.
PERSON_Q_EN = re.compile(r"\bwhich (?:deputy |vice[- ])?(?:director|head|leader|official|principal|chief)|\brelieved\b|"
                         r"\bremoved\b|\bdismissed\b|\bwhat post\b|\bwhich post\b", re.I)
# Asked for a document's number (what is the document number / which document), not what it is about.
DOCNUM_Q_EN = re.compile(r"document number|which (?:\d{4} )?(?:document|notice|file)|what (?:\d{4} )?(?:document|notice|file)"
                         r"(?! (?:\S+ )?(?:is|was) about)", re.I)
# Asked when a rule takes effect, by when something is due, or how long a limit is.
TAKES_EFFECT_Q_EN = re.compile(r"take effect|took effect|come into (?:force|effect)|effective|in force", re.I)
DEADLINE_Q_EN = re.compile(r"by (?:what|which) (?:date|day|time)|deadline|by when|no later than", re.I)
HOW_LONG_Q_EN = re.compile(r"how long|within how|how many (?:days|months|hours|working days)", re.I)


def asked_role(question: str) -> str | None:
    """The roster role a question asks about (组长 in 组长是谁; heads -> 组长 in English), or None."""
    flat = question.replace(" ", "")
    found = next((r for r in ROLES if r in flat), None)
    if found:
        return found
    low = question.lower()
    return next((zh for en, zh in ROLES_EN if re.search(rf"\b{en}\b", low)), None)
