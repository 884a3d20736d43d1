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
from qa.api.schemas import QUESTION_EXAMPLE, CitationOut, ErrorOut, F, Filters, TopK, check_text
from qa.api.state import Worker, ask_pool
from qa.api.streaming import OPENAI_EVENT_SCHEMA, SSE_HEADERS, pieces

MODEL_ID = "gazette-qa"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = F(..., "Part type; only 'text' parts are read.", "text")
    text: str | None = F(None, "The text of a 'text' part.", QUESTION_EXAMPLE)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"] = F(
        ..., "Who wrote the message; the last 'user' message is the question.", "user")
    content: str | list[ContentPart] | None = F(None, "The text, or a list of content parts.", QUESTION_EXAMPLE)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type == "text")


class ChatRequest(BaseModel):
    # OpenAI clients send many options (temperature, n, …); they are accepted and ignored.
    model_config = ConfigDict(extra="allow")
    model: str = F(MODEL_ID, "Any name; echoed back.", MODEL_ID, max_length=200)
    messages: list[ChatMessage] = Field(
        ..., min_length=1, max_length=200, description="The last message with role 'user' is the question.",
        examples=[[{"role": "user", "content": QUESTION_EXAMPLE}]],
        json_schema_extra={"contains": {"type": "object", "required": ["role"], "properties": {"role": {
            "const": "user", "description": "At least one message is the user's.", "examples": ["user"]}}}})
    # Nullable as in OpenAI's own schema (null = false); the validator below refuses anything else.
    stream: bool | None = F(False, "Stream chat.completion.chunk events, ending with [DONE]; null = false.", False)
    top_k: TopK | None = F(None, "gazette-qa extension: passages to retrieve (1–50).", 5)
    filters: Filters | None = F(None, "gazette-qa extension: restrict retrieval.", {"year": 2022})
    mode: Literal["extractive", "generative"] | None = F(None, "gazette-qa extension: answer mode.", "extractive")

    @field_validator("stream", mode="before")
    @classmethod
    def _strict_bool(cls, v: Any) -> Any:
        if not isinstance(v, bool) and v is not None:
            raise ValueError("stream must be true or false")
        return bool(v)


class ChatChoiceMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = F(..., "Always 'assistant'.", "assistant")
    content: str = F(..., "The answer with [n] citation markers.", "互联网租赁自行车用户须年满16周岁[1]。")


class ChatChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = F(..., "Always 0 (one choice).", 0)
    message: ChatChoiceMessage = F(..., "The assistant's message.", {"role": "assistant", "content": "…[1]。"})
    finish_reason: str = F(..., "Always 'stop'.", "stop")


class ChatResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = F(..., "chatcmpl- and the answer's id.", "chatcmpl-a3f9c2d1e8b74f60")
    object: str = F(..., "Always 'chat.completion'.", "chat.completion")
    created: int = F(..., "Unix time.", 1764558600)
    model: str = F(..., "The model name sent (or gazette-qa).", MODEL_ID)
    choices: list[ChatChoice] = F(..., "One choice.", [])
    usage: dict[str, int] = F(..., "Characters (not tokens): prompt_tokens, completion_tokens, total_tokens.",
                              {"prompt_tokens": 14, "completion_tokens": 20, "total_tokens": 34})
    citations: list[CitationOut] = F(..., "gazette-qa extension: the cited passages, as /v1/ask gives them.", [])
    answered: bool = F(..., "gazette-qa extension: false when the documents do not hold the answer.", True)
    answer_id: str = F(..., "gazette-qa extension: the answer's id for POST /v1/feedback.", "a3f9c2d1e8b74f60")
    rewritten_question: str | None = Field(None, description="The standalone question a follow-up was answered as "
                                                            "(from the earlier messages); null when it stood alone.",
                                      examples=["2020年地质灾害防治领导小组组长是谁？"])


class ModelOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = F(..., "The model's id.", MODEL_ID)
    object: str = F(..., "Always 'model'.", "model")
    created: int = F(..., "Always 0.", 0)
    owned_by: str = F(..., "Always gazette-qa.", "gazette-qa")


class ModelsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object: str = F(..., "Always 'list'.", "list")
    data: list[ModelOut] = F(..., "The one model this server offers.", [])


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

    @router.get("/models", response_model=ModelsOut)
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
