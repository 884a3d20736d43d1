"""Server-sent events: the answer in pieces (never splitting a [n] marker), then citations, then done.

The answer chain returns whole answers, so pieces are cut from the finished text; clients get the
same protocol a token-streaming backend would give them.
"""
from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

_MARKER = re.compile(r"(\[\d+\])")
_CLAUSE = re.compile(r"[^，。；：！？,;:!?\n]*[，。；：！？,;:!?\n]?")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# OpenAPI shape of one event (for docs and schema-driven clients/tests).
ANSWER_EVENT_SCHEMA = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string", "enum": ["answer", "citations", "done"],
              "description": "answer: a piece of the answer text; citations: the cited and related passages; "
                             "done: the rest of the answer (answer_id, answered, mode, timings_ms…)",
              "examples": ["answer"]},
    "data": {"type": "string", "description": "JSON: {delta} | {citations, related} | the rest of the answer",
             "examples": ['{"delta": "互联网租赁自行车用户须年满16周岁"}']}}}
OPENAI_EVENT_SCHEMA = {"type": "object", "required": ["data"], "properties": {
    "data": {"type": "string", "description": "a chat.completion.chunk as JSON, or [DONE]", "examples": ["[DONE]"]}}}


def pieces(text: str, size: int = 16) -> Iterator[str]:
    """Cut text into clause-sized pieces of at most `size` chars; "".join(pieces(t)) == t."""
    for part in _MARKER.split(text):
        if not part:
            continue
        if _MARKER.fullmatch(part):
            yield part
            continue
        for clause in _CLAUSE.findall(part):
            for i in range(0, len(clause), size):
                if clause[i:i + size]:
                    yield clause[i:i + size]


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(result: dict) -> AsyncIterator[str]:
    """`answer` events with {"delta"}, one `citations` event, one `done` event (the rest of the result)."""
    for piece in pieces(result.get("answer", "")):
        yield sse("answer", {"delta": piece})
    yield sse("citations", {"citations": result.get("citations", []), "related": result.get("related", [])})
    done = {k: v for k, v in result.items() if k not in ("citations", "related")}
    yield sse("done", done)
