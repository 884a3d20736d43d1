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


class Filters(BaseModel):
    """Restrict retrieval to one year, issue (e.g. "2022-03"), TOC category, document number or collection."""

    model_config = ConfigDict(strict=True, extra="forbid",
                              json_schema_extra={"additionalProperties": False})

    year: Year | None = Field(None, examples=[2022])
    issue: str | None = Field(None, max_length=32, pattern=PLAIN_PATTERN, examples=["2022-03"])
    category: str | None = Field(None, max_length=64, pattern=PLAIN_PATTERN, examples=["市政府办公室文件"])
    doc_number: str | None = Field(None, max_length=64, pattern=PLAIN_PATTERN, examples=["阳政办发〔2022〕34号"])
    collection: str | None = Field(None, max_length=128, pattern=PLAIN_PATTERN, examples=["阳泉市人民政府公报"],
                                   description="A collection name as GET /v1/collections lists it.")

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


_STRICT = ConfigDict(strict=True, extra="forbid")


class HistoryCitation(BaseModel):
    """A citation of an earlier answer, as /v1/ask returned it (only these keys are read; others are ignored)."""

    model_config = ConfigDict(extra="ignore")
    document_title: str | None = Field(None, max_length=1000, description="The cited document's title.",
                                       examples=["阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"])
    doc_title: str | None = Field(None, max_length=1000, description="Another name of document_title.",
                                  examples=["阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"])
    doc_number: str | None = Field(None, max_length=200, description="The cited document's number (文号).",
                                   examples=["阳政办发〔2022〕34号"])
    document_number: str | None = Field(None, max_length=200, description="Another name of doc_number.",
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


class _AskBase(BaseModel):
    model_config = _STRICT
    question: str
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
    top_k: TopK | None = Field(None, description="Passages to retrieve (1–50).")
    filters: Filters | None = None
    mode: Literal["extractive", "generative"] | None = Field(None, description="Answer mode; default from settings.")
    stream: bool = Field(False, description="Stream server-sent events: answer pieces, then citations, then done.")


class _SearchBase(BaseModel):
    model_config = _STRICT
    query: str
    top_k: TopK = 5
    filters: Filters | None = None


class _FeedbackBase(BaseModel):
    model_config = _STRICT
    question: str
    answer_id: str = Field(..., max_length=128, pattern=PLAIN_PATTERN)
    rating: Rating = Field(..., description='"up"/"down", or +1/-1 (number or string).')
    comment: str | None = Field(None, max_length=4000, pattern=PLAIN_PATTERN)
    answer: str | None = Field(None, max_length=20000, pattern=PLAIN_PATTERN,
                               description="The answer text being rated (optional).")

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


def _text_field(name: str, max_chars: int, description: str):
    # The schema states the limits too, so generated clients and schemathesis know them.
    return (str, Field(..., min_length=1, max_length=max_chars, pattern=TEXT_PATTERN, description=description))


def _only_offered_modes(cls, v: Any) -> Any:
    if v == "generative":
        raise ValueError("this server does not offer mode 'generative'; omit mode or ask for 'extractive'")
    return v


def _with_text_check(base: type[BaseModel], field: str, max_chars: int, description: str,
                     **extra: Any) -> type[BaseModel]:
    # "before": our message ("must not be empty") comes first, not pydantic's pattern error;
    # non-strings pass through to the strict type check.
    def _check(cls, v: Any) -> Any:
        return check_text(v, field, max_chars) if isinstance(v, str) else v

    validators = {f"_check_{field}": field_validator(field, mode="before")(_check)}
    if "mode" in extra:
        validators["_check_mode"] = field_validator("mode", mode="before")(_only_offered_modes)
    return create_model(
        base.__name__.lstrip("_").replace("Base", "Request"),
        __base__=base,
        __validators__=validators,
        **{field: _text_field(field, max_chars, description)},
        **extra,
    )


def request_models(max_question_chars: int, generative: bool = True) -> RequestModels:
    """generative: whether clients may ask mode=generative (else the schema's mode enum is extractive only)."""
    only_extractive = {} if generative else {"mode": (Literal["extractive"] | None, Field(
        None, description="Answer mode; this server offers extractive answers only."))}
    return RequestModels(
        AskRequest=_with_text_check(_AskBase, "question", max_question_chars, "The question, Chinese or English.",
                                    **only_extractive),
        SearchRequest=_with_text_check(_SearchBase, "query", max_question_chars, "Search text."),
        FeedbackRequest=_with_text_check(_FeedbackBase, "question", max_question_chars, "The question that was answered."),
    )


# ---- responses (documentation; extra keys allowed so the service can grow) ----

class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class HitOut(_Open):
    score: float
    chunk_id: str
    cite_text: str
    source_file: str
    line_start: int
    line_end: int
    issue: str
    document_number: str
    document_title: str
    doc_key: str
    section_path: list[str]
    category: str
    chunk_type: str
    collection: str = ""
    page_start: int = Field(0, description="Page of line_start in a PDF or scan; 0 = the source has no pages.")
    page_end: int = 0
    page_line_start: int = Field(0, description="line_start's line on page_start.")
    page_line_end: int = 0


class CitationOut(HitOut):
    n: int
    sentence: str


class AnswerOut(_Open):
    answer_id: str
    question: str
    rewritten_question: str | None = Field(
        None, description="The standalone question a follow-up was answered as (from `history`); null when the "
                          "question stood alone.", examples=["《阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见》的文号是什么？"])
    answer: str
    answered: bool
    citations: list[CitationOut]
    related: list[HitOut]
    mode: str
    notice: str
    timings: dict[str, float]


class SearchOut(_Open):
    hits: list[HitOut]


class ParagraphOut(_Open):
    text: str
    line_start: int
    line_end: int
    page: int = Field(0, description="Page of line_start (PDF, scan); 0 = not paged.")
    page_line: int = 0
    kind: str
    section_path: list[str]


class DocumentOut(_Open):
    doc_key: str
    collection: str = ""
    kind: str = Field("gazette", description="gazette: a document of a gazette issue; document: a file of its own.")
    issue: str
    doc_number: str
    title: str
    issuer: str
    date: str
    category: str
    source_file: str
    line_start: int
    line_end: int
    sections: list[Any]
    paragraphs: list[ParagraphOut]


class CollectionOut(_Open):
    name: str = Field(..., description="'' is the collection of files outside any (single documents at the corpus root).")
    files: int
    documents: int
    chunks: int


class CollectionsOut(_Open):
    collections: list[CollectionOut]


class IssueDocOut(_Open):
    doc_key: str
    doc_number: str
    title: str
    category: str


class IssueOut(_Open):
    issue: str
    publish_date: str
    source_file: str
    documents: list[IssueDocOut]


class IssuesOut(_Open):
    issues: list[IssueOut]


class FeedbackOut(BaseModel):
    id: int
    created_at: str
    question: str
    answer_id: str
    rating: int
    comment: str
    answer: str
    source: str


class FeedbackListOut(BaseModel):
    items: list[FeedbackOut]
    total: int


class AddedFileOut(BaseModel):
    file: str = Field(description="Its name in the corpus: 本单位文件/通知.docx, 2024-05.pdf")
    kind: str = Field(description="gazette (an issue of several documents) or document")
    reader: str = Field(description="pdf, docx, html, markdown, text, image")
    collection: str
    title: str = Field(description="The issue (2024-05) or the document's title")
    documents: int
    pages: int = 0
    ocr_pages: int = 0
    missing: list[str] = Field(default_factory=list, description="What was not found in a document (文号, 日期…)")


class DocumentChangeOut(BaseModel):
    added: list[str]
    replaced: list[str]
    removed: list[str]
    files: list[AddedFileOut]
    chunks: int | None = Field(None, description="Chunks in the index after the change")
    embedded: int | None = Field(None, description="Chunks embedded by the change")


class ErrorOut(BaseModel):
    error: str
    detail: Any = None


class HealthOut(BaseModel):
    status: str
    detail: str | None = None
