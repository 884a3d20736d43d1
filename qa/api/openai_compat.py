"""POST /v1/chat/completions in OpenAI's shape, so any OpenAI client can ask the gazette.

The last user message is the question; the answer is the assistant message; citations ride in an
extra top-level field `citations` (and on the final stream chunk). Earlier user/assistant turns resolve a
follow-up (这个文件的文号是什么？ 副组长呢？): it is answered as a standalone question, returned in the extra
field `rewritten_question`; the answers themselves still come from the gazette alone.
"""
from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.api.auth import require_api_key
from qa.api.errors import APIError
from qa.api.schemas import CitationOut, ErrorOut, Filters, TopK, check_text
from qa.api.state import Worker, ask_pool
from qa.api.streaming import OPENAI_EVENT_SCHEMA, SSE_HEADERS, pieces

MODEL_ID = "gazette-qa"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type == "text")


class ChatRequest(BaseModel):
    # OpenAI clients send many options (temperature, n, …); they are accepted and ignored.
    model_config = ConfigDict(extra="allow")
    model: str = Field(MODEL_ID, max_length=200)
    messages: list[ChatMessage] = Field(
        ..., min_length=1, max_length=200, description="The last message with role 'user' is the question.",
        json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}})
    stream: bool = False
    top_k: TopK | None = Field(None, description="gazette-qa extension")
    filters: Filters | None = Field(None, description="gazette-qa extension")
    mode: Literal["extractive", "generative"] | None = Field(None, description="gazette-qa extension")

    @field_validator("stream", mode="before")
    @classmethod
    def _strict_bool(cls, v: Any) -> Any:
        if not isinstance(v, bool) and v is not None:
            raise ValueError("stream must be true or false")
        return bool(v)


class ChatChoiceMessage(BaseModel):
    role: str
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: str


class ChatResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int]
    citations: list[CitationOut]
    rewritten_question: str | None = Field(None, description="The standalone question a follow-up was answered as "
                                                            "(from the earlier messages); null when it stood alone.",
                                      examples=["2020年地质灾害防治领导小组组长是谁？"])


def _question(req: ChatRequest, max_chars: int) -> str:
    users = [m for m in req.messages if m.role == "user"]
    if not users:
        raise APIError(422, "invalid_request", "messages: no message with role 'user'")
    try:
        return check_text(users[-1].text(), "the last user message", max_chars)
    except ValueError as exc:
        raise APIError(422, "invalid_request", str(exc)) from None


def _history(req: ChatRequest) -> list[dict]:
    """The turns before the last user message: each user message with the assistant reply after it (and that
    reply's `citations`, when a client sends back what this server returned)."""
    last = max(i for i, m in enumerate(req.messages) if m.role == "user")
    entries: list[dict] = []
    replied = True  # whether the latest user message has its reply (or was no question): a reply is its own
    for m in req.messages[:last]:
        text = m.text().strip()
        if m.role == "user":
            try:  # an earlier message the server could not take as a question is no context either
                entries.append({"question": check_text(text, "message", 2000), "answer": "", "answered": True,
                                "citations": None})
                replied = False
            except ValueError:
                replied = True
        elif m.role == "assistant" and not replied:
            replied = True
            cites = getattr(m, "citations", None) or (m.model_extra or {}).get("citations")
            entries[-1]["answer"] = text
            if isinstance(cites, list):
                entries[-1]["citations"] = [c for c in cites if isinstance(c, dict)]
    return entries


def _usage(question: str, answer: str) -> dict[str, int]:
    # Characters, not tokens: there is no LLM tokenizer in extractive mode; clients only need the shape.
    p, c = len(question), len(answer)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None, **extra: Any) -> str:
    import json

    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _stream(cid: str, created: int, model: str, data: dict):
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""}, None)
    for piece in pieces(data["answer"]):
        yield _chunk(cid, created, model, {"content": piece}, None)
    yield _chunk(cid, created, model, {}, "stop", citations=data["citations"], answered=data["answered"],
                 answer_id=data["answer_id"], rewritten_question=data["rewritten_question"])
    yield "data: [DONE]\n\n"


def build_openai_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai-compatible"], dependencies=[Depends(require_api_key)],
                       responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut},
                                  422: {"model": ErrorOut}, 429: {"model": ErrorOut},
                                  503: {"model": ErrorOut}})

    @router.get("/models")
    async def models() -> dict:
        """The one model this server offers (for OpenAI clients that list models)."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "gazette-qa"}]}

    @router.post("/chat/completions", response_model=ChatResponse,
                 responses={200: {"content": {"text/event-stream": {"schema": OPENAI_EVENT_SCHEMA}}}})
    async def chat_completions(body: Annotated[ChatRequest, Body()], request: Request):
        """OpenAI-compatible chat: the last user message is answered from the gazette, with `citations`."""
        w: Worker = request.app.state.worker
        question = _question(body, request.app.state.settings.max_question_chars)
        pool = ask_pool(request.app.state.settings, body.mode)
        service = w.service()
        filters = body.filters.to_service() if body.filters else None
        entries = _history(body)
        history = await w.run(service.history, entries, question, pool=pool) if entries else []
        result = await w.run(service.ask, question, top_k=body.top_k, filters=filters, mode=body.mode, pool=pool,
                             history=history)
        data = result.to_dict()
        cid = f"chatcmpl-{data.get('answer_id') or uuid.uuid4().hex}"
        created = int(time.time())
        model = body.model or MODEL_ID
        if body.stream:
            return StreamingResponse(_stream(cid, created, model, data), media_type="text/event-stream",
                                     headers=SSE_HEADERS)
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": data["answer"]},
                         "finish_reason": "stop"}],
            "usage": _usage(question, data["answer"]),
            "citations": data["citations"],
            "answered": data["answered"],
            "answer_id": data["answer_id"],
            "rewritten_question": data["rewritten_question"],
        })

    return router
