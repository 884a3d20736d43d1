"""Request and response models of the HTTP API.

Requests are strict (no silent coercion of "5" to 5, no unknown keys) so a client mistake gets a
clear 4xx. The question length limit comes from Settings, so request models are built per app.
Responses are declared for the OpenAPI document; the handlers return the service's own dicts.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, field_validator, model_validator

ALLOWED_FILTERS = ("year", "issue", "category", "doc_number", "collection")
Rating = Literal["up", "down", "+1", "-1", 1, -1]


def _integral(v: Any) -> Any:
    # JSON Schema counts 5.0 as an integer; strict pydantic would not. Strings and booleans stay errors.
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


Int = Annotated[int, BeforeValidator(_integral)]
# Constraints inside the Annotated so the OpenAPI schema states them (minimum/maximum) even under `| None`.
TopK = Annotated[int, Field(ge=1, le=50), BeforeValidator(_integral)]
Year = Annotated[int, Field(ge=1900, le=2100), BeforeValidator(_integral)]


# C0/C1 controls except tab, newline and carriage return; bidi marks, embeddings, overrides and isolates
# (U+202E can make a stored comment read backwards to staff).
_CONTROL_CLASS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
# The same rule in the OpenAPI schema (with "not blank"), so generated clients and schemathesis know it.
TEXT_PATTERN = f"^[^{_CONTROL_CLASS}]*[^\\s{_CONTROL_CLASS}][^{_CONTROL_CLASS}]*$"
PLAIN_PATTERN = f"^[^{_CONTROL_CLASS}]*$"


def control_character(value: str) -> str | None:
    """'U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3' for the first forbidden control character, else None."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    ch = m.group(0)
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'control character')}) at position {m.start()}"


def check_plain(value: str, what: str) -> str:
    found = control_character(value)
    if found:
        raise ValueError(f"{what} contains a control character, {found}; remove it (tabs and newlines are fine)")
    return value


def check_text(value: str, what: str, max_chars: int) -> str:
    """Non-blank, within the limit, encodable (lone surrogates from JSON escapes would break the tokenizer),
    no control characters."""
    check_plain(value, what)
    if not value.strip():
        raise ValueError(f"{what} must not be empty or whitespace")
    if len(value) > max_chars:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {max_chars}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains characters that are not valid Unicode text") from None
    return value.strip()


def F(default: Any = ..., description: str = "", example: Any = None, **kw: Any) -> Any:
    """A field with its description and one example, so every property of the OpenAPI schema has both."""
    return Field(default, description=description, examples=[example], **kw)


class Filters(BaseModel):
    """Restrict retrieval to one year, issue (e.g. "2022-03"), TOC category, document number or collection."""

    model_config = ConfigDict(strict=True, extra="forbid",
                              json_schema_extra={"additionalProperties": False})

    year: Year | None = F(None, "Only documents of this year.", 2022)
    issue: str | None = F(None, "Only this gazette issue (YYYY-MM).", "2022-03", max_length=32, pattern=PLAIN_PATTERN)
    category: str | None = F(None, "Only this table-of-contents category.", "市政府办公室文件",
                             max_length=64, pattern=PLAIN_PATTERN)
    doc_number: str | None = F(None, "Only the document(s) with this number (文号), in any bracket form.",
                               "阳政办发〔2022〕34号", max_length=64, pattern=PLAIN_PATTERN)
    collection: str | None = F(None, "A collection name as GET /v1/collections lists it.", "阳泉市人民政府公报",
                               max_length=128, pattern=PLAIN_PATTERN)

    @field_validator("issue", "category", "doc_number", "collection", mode="before")
    @classmethod
    def _plain(cls, v: Any, info: Any) -> Any:
        return check_plain(v, info.field_name) if isinstance(v, str) else v

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in ALLOWED_FILTERS)
            if unknown:
                raise ValueError(f"unknown filter key(s) {', '.join(map(repr, unknown))}; "
                                 f"allowed: {', '.join(ALLOWED_FILTERS)}")
        return data

    def to_service(self) -> dict | None:
        d = self.model_dump(exclude_none=True)
        return d or None


# `question` is the name on /v1/ask and /v1/search alike; `query` (what /v1/search called it before) is an alias.
# Exactly one of the two: the schema says so with oneOf, so generated clients and the schema fuzz know it.
QUESTION_OR_QUERY = {"oneOf": [{"required": ["question"]}, {"required": ["query"]}]}
_STRICT = ConfigDict(strict=True, extra="forbid")
_STRICT_QUESTION = ConfigDict(strict=True, extra="forbid", json_schema_extra=QUESTION_OR_QUERY)


class HistoryCitation(BaseModel):
    """A citation of an earlier answer, as /v1/ask returned it (only these keys are read; others, the old
    `document_number` among them, are ignored)."""

    model_config = ConfigDict(extra="ignore")
    document_title: str | None = Field(None, max_length=1000, description="The cited document's title.",
                                       examples=["阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"])
    doc_title: str | None = Field(None, max_length=1000, description="Another name of document_title.",
                                  examples=["阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"])
    doc_number: str | None = Field(None, max_length=200, description="The cited document's number (文号).",
                                   examples=["阳政办发〔2022〕34号"])
    issue: str | None = Field(None, max_length=64, description="The gazette issue it was published in.",
                              examples=["2022-03"])


class HistoryTurn(BaseModel):
    """One earlier exchange: the question as asked, optionally the answer and its citations (as /v1/ask
    returned them). Without citations the server answers the earlier question again to learn its document."""

    model_config = _STRICT
    question: str = Field(..., min_length=1, max_length=2000, pattern=TEXT_PATTERN,
                          description="The earlier question as the user asked it.", examples=["共享单车用户需要满多少岁？"])
    answer: str | None = Field(None, max_length=20000, pattern=PLAIN_PATTERN,
                               description="The answer given to it (people it names can be referred to as 他/她).",
                               examples=["互联网租赁自行车用户须年满 16 周岁。[1]"])
    answered: bool | None = Field(None, description="Whether the earlier answer found something (default true).",
                                  examples=[True])
    citations: list[HistoryCitation] | None = Field(
        None, max_length=50, description="The earlier answer's citations; the first names the document 这个文件 means.",
        examples=[[{"document_title": "阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见", "doc_number": "阳政办发〔2022〕34号", "issue": "2022-03"}]])

    @field_validator("question", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return check_text(v, "history question", 2000) if isinstance(v, str) else v

    @field_validator("answer", mode="before")
    @classmethod
    def _plain(cls, v: Any) -> Any:
        if isinstance(v, str):
            check_plain(v, "history answer")
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("history answer contains characters that are not valid Unicode text") from None
        return v

    def to_service(self) -> dict:
        return {"question": self.question.strip(), "answer": self.answer or "",
                "answered": True if self.answered is None else self.answered,
                "citations": None if self.citations is None else [c.model_dump(exclude_none=True) for c in self.citations]}


def history_entries(history: list[str | HistoryTurn] | None) -> list[dict]:
    """The request's history as the service reads it (a bare string is an earlier question)."""
    return [{"question": h.strip(), "answer": "", "answered": True, "citations": None} if isinstance(h, str)
            else h.to_service() for h in history or []]


class _QuestionBase(BaseModel):
    """`question`, or its alias `query`; after validation `question` holds the text and `query` is None."""

    model_config = _STRICT_QUESTION
    question: str = None  # type: ignore[assignment] - one of the two is set (the validator below)
    query: str = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _question_or_query(self) -> "_QuestionBase":
        if self.question is not None and self.query is not None:
            raise ValueError("send the question once: as `question` or as its alias `query`, not both")
        if self.question is None and self.query is None:
            raise ValueError("`question` is required (or its alias `query`)")
        if self.question is None:
            self.question, self.query = self.query, None
        return self


class _AskBase(_QuestionBase):
    history: list[Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)] | HistoryTurn] | None = Field(
        None, max_length=20,
        description="Earlier turns of the conversation, oldest first (at most 20; the last three are read): questions, or objects with the question and "
                    "optionally the answer and citations. A follow-up (这个文件的文号是什么？ 副组长呢？ 2021年的呢？) is "
                    "answered as the standalone question it stands for, returned in `rewritten_question`.",
        examples=[["共享单车用户需要满多少岁？"]])

    @field_validator("history", mode="before")
    @classmethod
    def _history_text(cls, v: Any) -> Any:
        # The same checks as the question (an earlier question may be answered again to learn its document).
        if isinstance(v, list):
            for i, h in enumerate(v):
                if isinstance(h, str):
                    check_text(h, f"history[{i}]", 2000)
        return v

    top_k: TopK | None = F(None, "Passages to retrieve (1–50); default from settings.", 5)
    filters: Filters | None = F(None, "Restrict retrieval (year, issue, category, doc_number, collection).",
                                {"year": 2022})
    mode: Literal["extractive", "generative"] | None = F(None, "Answer mode; default from settings.", "extractive")
    stream: bool = F(False, "Stream server-sent events: answer pieces, then citations, then done.", False)


class _SearchBase(_QuestionBase):
    top_k: TopK = F(5, "Passages to return (1–50).", 5)
    filters: Filters | None = F(None, "Restrict retrieval (year, issue, category, doc_number, collection).",
                                {"issue": "2022-03"})


class _FeedbackBase(BaseModel):
    model_config = _STRICT
    question: str
    answer_id: str = F(..., "The answer_id of the answer being rated (from /v1/ask).", "a3f9c2d1e8b74f60",
                       max_length=128, pattern=PLAIN_PATTERN)
    rating: Rating = F(..., '"up"/"down", or +1/-1 (number or string).', "up")
    comment: str | None = F(None, "Free text from the person rating.", "引用的段落正确", max_length=4000,
                            pattern=PLAIN_PATTERN)
    answer: str | None = F(None, "The answer text being rated (optional).", "互联网租赁自行车用户须年满16周岁[1]。",
                           max_length=20000, pattern=PLAIN_PATTERN)

    @field_validator("answer_id", "comment", "answer", mode="before")
    @classmethod
    def _plain(cls, v: Any, info: Any) -> Any:
        return check_plain(v, info.field_name) if isinstance(v, str) else v

    @field_validator("rating", mode="before")
    @classmethod
    def _no_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):  # True == 1 in Python; a boolean is not a rating
            raise ValueError('rating must be "up", "down", 1 or -1, not a boolean')
        return v

    def rating_value(self) -> int:
        return 1 if self.rating in ("up", "+1", 1) else -1


@dataclass(frozen=True)
class RequestModels:
    AskRequest: type[_AskBase]
    SearchRequest: type[_SearchBase]
    FeedbackRequest: type[_FeedbackBase]


QUESTION_EXAMPLE = "共享单车用户需要满多少岁？"


def _no_default(schema: dict) -> None:
    # An optional text field is no nullable one: null is refused, so the schema shows neither null nor a default.
    schema.pop("default", None)


def _text_field(max_chars: int, description: str, required: bool = True):
    # The schema states the limits too, so generated clients and schemathesis know them.
    kw = dict(min_length=1, max_length=max_chars, pattern=TEXT_PATTERN, description=description,
              examples=[QUESTION_EXAMPLE])
    return (str, Field(..., **kw)) if required else (str, Field(None, json_schema_extra=_no_default, **kw))


def _only_offered_modes(cls, v: Any) -> Any:
    if v == "generative":
        raise ValueError("this server does not offer mode 'generative'; omit mode or ask for 'extractive'")
    return v


def _with_text_check(base: type[BaseModel], fields: dict[str, str], max_chars: int, required: bool = True,
                     **extra: Any) -> type[BaseModel]:
    """fields: name -> description of the text fields to check (non-blank, limit, no control characters)."""
    # "before": our message ("must not be empty") comes first, not pydantic's pattern error;
    # non-strings pass through to the strict type check.
    def _check(cls, v: Any, info: Any) -> Any:
        return check_text(v, info.field_name, max_chars) if isinstance(v, str) else v

    validators = {"_check_text": field_validator(*fields, mode="before")(_check)}
    if "mode" in extra:
        validators["_check_mode"] = field_validator("mode", mode="before")(_only_offered_modes)
    return create_model(
        base.__name__.lstrip("_").replace("Base", "Request"),
        __base__=base,
        __validators__=validators,
        **{name: _text_field(max_chars, description, required) for name, description in fields.items()},
        **extra,
    )


_QUESTION_FIELDS = {
    "question": "The question or search text, Chinese or English. Send it as `question` (or `query`, its alias).",
    "query": "Alias of `question` (the name /v1/search used before); send one of the two, not both.",
}


def request_models(max_question_chars: int, generative: bool = True) -> RequestModels:
    """generative: whether clients may ask mode=generative (else the schema's mode enum is extractive only)."""
    only_extractive = {} if generative else {"mode": (Literal["extractive"] | None, F(
        None, "Answer mode; this server offers extractive answers only.", "extractive"))}
    return RequestModels(
        AskRequest=_with_text_check(_AskBase, _QUESTION_FIELDS, max_question_chars, required=False,
                                    **only_extractive),
        SearchRequest=_with_text_check(_SearchBase, _QUESTION_FIELDS, max_question_chars, required=False),
        FeedbackRequest=_with_text_check(_FeedbackBase, {"question": "The question that was answered."},
                                         max_question_chars),
    )


# ---- responses: every key the handlers return is declared (extra="forbid": the schema says additionalProperties
# false), so a response validates against the OpenAPI document; tests/test_api_schema.py checks that it does.

_OUT = ConfigDict(extra="forbid")
DOC_NUMBER = "阳政办发〔2022〕34号"
TITLE = "阳泉市人民政府办公室关于印发阳泉市互联网租赁自行车管理办法的通知"
SECTION = ["第二章 用户管理", "第十条"]
CITE = "互联网租赁自行车用户须年满16周岁，并实名注册和使用。"


class HitOut(BaseModel):
    model_config = _OUT
    score: float = F(..., "Fused retrieval score (higher is better; comparable within one response only).", 0.0327)
    chunk_id: str = F(..., "The passage's id in the index.", "2022-03#05:c0012")
    cite_text: str = F(..., "The passage, verbatim corpus text.", CITE)
    source_file: str = F(..., "Corpus file holding it.", "2022-03.txt")
    line_start: int = F(..., "First line in source_file (1-based).", 166)
    line_end: int = F(..., "Last line in source_file (inclusive).", 168)
    issue: str = F(..., "Gazette issue (YYYY-MM); '' for a document that is a file of its own.", "2022-03")
    doc_number: str = F(..., "The document's number (文号); '' when it has none. (Was `document_number`.)",
                        DOC_NUMBER)
    document_title: str = F(..., "The document's title.", TITLE)
    doc_key: str = F(..., "The document's key: GET /v1/documents/{doc_key} (with '#' URL-encoded, or '-').",
                     "2022-03#05")
    section_path: list[str] = F(..., "Headings from the document's top down to the passage.", SECTION)
    category: str = F(..., "The table-of-contents category of the document.", "市政府办公室文件")
    chunk_type: str = F(..., "text, table, personnel (an appointment record) or card (the document's header).",
                        "text")
    collection: str = F(..., "The collection the file belongs to.", "阳泉市人民政府公报")
    page_start: int = F(..., "Page of line_start in a PDF or scan; 0 = the source has no pages.", 0)
    page_end: int = F(..., "Page of line_end; 0 = not paged.", 0)
    page_line_start: int = F(..., "line_start's line on page_start (0 = not paged).", 0)
    page_line_end: int = F(..., "line_end's line on page_end (0 = not paged).", 0)


class CitationOut(HitOut):
    n: int = F(..., "The [n] marker in the answer that cites this passage.", 1)
    sentence: str = F(..., "The answering sentence inside the passage (for highlighting); may be ''.", CITE)


class AnswerOut(BaseModel):
    model_config = _OUT
    answer_id: str = F(..., "Id of this answer (send it with POST /v1/feedback).", "a3f9c2d1e8b74f60")
    question: str = F(..., "The question as answered.", QUESTION_EXAMPLE)
    rewritten_question: str | None = Field(
        ..., description="The standalone question a follow-up was answered as (from `history`); null when the "
                         "question stood alone.", examples=["《阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见》的文号是什么？"])
    answer: str = F(..., "The answer with [n] citation markers, or why the documents do not hold one.",
                    "互联网租赁自行车用户须年满16周岁[1]。")
    answered: bool = F(..., "False when the documents do not hold the answer (a refusal).", True)
    citations: list[CitationOut] = F(..., "The passages the answer cites, by marker n.", [])
    related: list[HitOut] = F(..., "Other retrieved passages (shown when nothing was answered).", [])
    mode: str = F(..., "extractive or generative (as answered, after any fallback).", "extractive")
    notice: str = F(..., "A note for the reader, e.g. a fallback to extractive; usually ''.", "")
    timings_ms: dict[str, float] = F(..., "Milliseconds per stage (retrieve, answer, total).",
                                     {"retrieve": 41.2, "answer": 12.5, "total": 53.7})


class SearchOut(BaseModel):
    model_config = _OUT
    hits: list[HitOut] = F(..., "Passages, best first.", [])


class ParagraphOut(BaseModel):
    model_config = _OUT
    text: str = F(..., "The paragraph, verbatim (line breaks of the source removed).", CITE)
    line_start: int = F(..., "First line in the corpus file.", 166)
    line_end: int = F(..., "Last line in the corpus file.", 168)
    kind: str = F(..., "text, heading, table, list, date, signature, marker, attachment or title.", "text")
    section_path: list[str] = F(..., "Headings from the document's top down to this paragraph.", SECTION)
    readable: str = F(..., "Tables and rosters as `组长：姓名（职务）` lines; '' otherwise.", "")
    page: int = F(..., "Page of line_start (PDF, scan); 0 = not paged.", 0)
    page_line: int = F(..., "line_start's line on that page; 0 = not paged.", 0)


class SectionOut(BaseModel):
    model_config = _OUT
    heading: str = F(..., "The section's heading.", "第二章 用户管理")
    marker: str = F(..., "Numbering style: 章, 节, 条, cn (一、), pcn (（一）), arabic, parabic, circled, dec1…", "章")
    line: int = F(..., "Line of the heading in the corpus file.", 150)
    children: list["SectionOut"] = F(..., "Sub-sections.", [])


class AttachmentOut(BaseModel):
    model_config = _OUT
    title: str = F(..., "The attachment's title.", "阳泉市互联网租赁自行车管理办法")
    omitted: bool = F(..., "Only named in the gazette ((略), (见网络版)), its text not printed.", False)


class PersonnelOut(BaseModel):
    model_config = _OUT
    person: str = F(..., "The person's name.", "张三")
    action: str = F(..., "任命, 免去, 提名, 提名免去, 正式任职, 聘任 or 解聘.", "任命")
    post: str = F(..., "The post.", "阳泉市统计局副局长")
    doc_number: str = F(..., "Number of the document recording it.", "阳政任字〔2021〕32号")
    date: str = F(..., "Date of the document (ISO).", "2021-07-29")
    issue: str = F(..., "Gazette issue (YYYY-MM).", "2021-04")
    line: int = F(..., "Line in the corpus file.", 40)


class DocumentOut(BaseModel):
    model_config = _OUT
    doc_key: str = F(..., "The document's key (issue#position, or the file's id#position).", "2022-03#05")
    issue: str = F(..., "Gazette issue (YYYY-MM); '' for a document that is a file of its own.", "2022-03")
    position: int = F(..., "1-based order in its issue or file.", 5)
    doc_number: str = F(..., "The document's number (文号); '' when it has none.", DOC_NUMBER)
    title: str = F(..., "The title, from the document's body.", TITLE)
    issuer: str = F(..., "Issuing body.", "阳泉市人民政府办公室")
    addressee: str = F(..., "Who it is addressed to.", "各县（区）人民政府，市人民政府各委、局、办")
    date: str = F(..., "Signature date (ISO); '' when not found.", "2022-05-23")
    disclosure: str = F(..., "此件公开发布 / 此件部分公开 / ''.", "此件公开发布")
    category: str = F(..., "The table-of-contents category.", "市政府办公室文件")
    line_start: int = F(..., "First line in the corpus file.", 120)
    line_end: int = F(..., "Last line in the corpus file.", 260)
    number_line: int = F(..., "Line of the document number.", 122)
    attached_title: str = F(..., "For a cover notice: the title of the document it issues.", "阳泉市互联网租赁自行车管理办法")
    attachments: list[AttachmentOut] = F(..., "Attachments named at the end.", [])
    paragraphs: list[ParagraphOut] = F(..., "The text, paragraph by paragraph, with line ranges.", [])
    sections: list[SectionOut] = F(..., "The section tree.", [])
    personnel: list[PersonnelOut] = F(..., "Appointments and removals recorded in the document.", [])
    toc_title: str = F(..., "The title as the issue's table of contents gives it.", TITLE)
    toc_page: int | None = F(..., "Page given in the table of contents; null when none.", 12)
    collection: str = F(..., "The collection the file belongs to.", "阳泉市人民政府公报")
    source_id: str = F(..., "The file's id in doc keys when it is not a gazette issue; '' otherwise.", "")
    source_file: str = F(..., "Corpus file holding it.", "2022-03.txt")
    missing: list[str] = F(..., "What the parser did not find (title, doc_number, date, sections).", [])
    kind: str = F(..., "gazette: a document of a gazette issue; document: a file of its own.", "gazette")
    reader: str = F(..., "How the file was read: text, pdf, docx, html, markdown, image.", "text")
    n_pages: int = F(..., "Pages of the file (PDF, scan); 0 = not paged.", 0)


class DocumentsOut(BaseModel):
    """Several documents for one GET /v1/documents/{id}: a document number (文号) that several documents share."""

    model_config = _OUT
    doc_number: str = F(..., "The number asked for, as sent.", "阳政任字〔2021〕32号")
    documents: list[DocumentOut] = F(..., "Every document with that number, in corpus order.", [])


class CollectionOut(BaseModel):
    model_config = _OUT
    name: str = F(..., "'' is the collection of files outside any (single documents at the corpus root).",
                  "阳泉市人民政府公报")
    files: int = F(..., "Corpus files in it.", 5)
    documents: int = F(..., "Documents in it.", 120)
    chunks: int = F(..., "Indexed passages in it.", 1800)


class CollectionsOut(BaseModel):
    model_config = _OUT
    collections: list[CollectionOut] = F(..., "Collections, largest first.", [])


class IssueDocOut(BaseModel):
    model_config = _OUT
    doc_key: str = F(..., "The document's key.", "2022-03#05")
    doc_number: str = F(..., "The document's number (文号).", DOC_NUMBER)
    title: str = F(..., "The document's title.", TITLE)
    category: str = F(..., "The table-of-contents category.", "市政府办公室文件")


class IssueOut(BaseModel):
    model_config = _OUT
    issue: str = F(..., "The issue (YYYY-MM).", "2022-03")
    year: int = F(..., "Its year.", 2022)
    number: int = F(..., "Its number in the year.", 3)
    publish_date: str = F(..., "Publication date (ISO).", "2022-06-30")
    source_file: str = F(..., "Corpus file.", "2022-03.txt")
    collection: str = F(..., "The collection (the gazette's name).", "阳泉市人民政府公报")
    documents: list[IssueDocOut] = F(..., "Its documents in order.", [])


class IssuesOut(BaseModel):
    model_config = _OUT
    issues: list[IssueOut] = F(..., "The gazette issues in the index.", [])


class FeedbackOut(BaseModel):
    model_config = _OUT
    id: int = F(..., "The record's id.", 1)
    created_at: str = F(..., "When it was stored (ISO, UTC).", "2026-12-01T03:10:00+00:00")
    question: str = F(..., "The question that was answered.", QUESTION_EXAMPLE)
    answer_id: str = F(..., "The rated answer's id.", "a3f9c2d1e8b74f60")
    rating: int = F(..., "+1 or -1.", 1)
    comment: str = F(..., "The comment ('' when none).", "引用的段落正确")
    answer: str = F(..., "The rated answer text ('' when not sent).", "互联网租赁自行车用户须年满16周岁[1]。")
    source: str = F(..., "api or ui.", "api")


class FeedbackListOut(BaseModel):
    model_config = _OUT
    items: list[FeedbackOut] = F(..., "Feedback, newest first.", [])
    total: int = F(..., "Records stored in all.", 1)


class AddedFileOut(BaseModel):
    model_config = _OUT
    file: str = F(..., "Its name in the corpus.", "本单位文件/通知.docx")
    kind: str = F(..., "gazette (an issue of several documents) or document.", "document")
    reader: str = F(..., "pdf, docx, html, markdown, text, image.", "docx")
    collection: str = F(..., "The collection it was added to.", "本单位文件")
    title: str = F(..., "The issue (2024-05) or the document's title.", "关于调整周末办理时间的通知")
    documents: int = F(..., "Documents found in it.", 1)
    pages: int = F(0, "Pages (PDF, scan); 0 = not paged.", 0)
    ocr_pages: int = F(0, "Pages read by OCR.", 0)
    missing: list[str] = Field(default_factory=list, description="What was not found in a document (文号, 日期…).",
                               examples=[["date"]])


class DocumentChangeOut(BaseModel):
    model_config = _OUT
    added: list[str] = F(..., "Corpus files added.", ["本单位文件/通知.docx"])
    replaced: list[str] = F(..., "Corpus files replaced.", [])
    removed: list[str] = F(..., "Corpus files removed (kept in corpus/removed/).", [])
    files: list[AddedFileOut] = F(..., "What was read from each uploaded file.", [])
    chunks: int | None = F(None, "Chunks in the index after the change.", 1850)
    embedded: int | None = F(None, "Chunks embedded by the change.", 12)


class ErrorOut(BaseModel):
    model_config = _OUT
    error: str = F(..., "A short machine-readable code.", "not_found")
    detail: Any = F(None, "What went wrong, for a person.", "no document '2022-03#99'")
    errors: list[dict[str, Any]] | None = F(None, "Validation errors (422 only): location and message of each.",
                                           [{"loc": "body.question", "msg": "Field required"}])


class HealthOut(BaseModel):
    model_config = _OUT
    status: str = F(..., "ok (/healthz); ready or not_ready (/readyz).", "ready")
    detail: str | None = F(None, "Why the index is not ready (loading, or the error).", "loading the index")
