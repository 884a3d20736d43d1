"""The answer API: /v1/ask, /v1/search, /v1/documents, /v1/collections, /v1/issues, /v1/feedback; /healthz, /readyz."""
# No `from __future__ import annotations`: FastAPI must see the per-app request model classes,
# which are local variables here, not module globals.
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from qa.api.auth import require_api_key
from qa.api.errors import APIError
from qa.api.feedback import FeedbackStorageFull, FeedbackStore, FeedbackUnavailable
from qa.api.schemas import (
    AnswerOut,
    CollectionsOut,
    DocumentOut,
    DocumentsOut,
    ErrorOut,
    FeedbackListOut,
    FeedbackOut,
    HealthOut,
    IssuesOut,
    RequestModels,
    SearchOut,
    history_entries,
)
from qa.api.state import ServiceHolder, Worker, ask_pool
from qa.api.streaming import ANSWER_EVENT_SCHEMA, SSE_HEADERS, answer_events

_ERRORS = {
    400: {"model": ErrorOut, "description": "Malformed request (invalid JSON, unknown filter)."},
    401: {"model": ErrorOut, "description": "Missing or wrong API key (only when one is configured)."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {"model": ErrorOut, "description": "The request does not match the schema (or asks for a mode the server "
                                            "does not offer; or text holds control characters)."},
    429: {"model": ErrorOut, "description": "Too many failed authentication attempts from this client (Retry-After)."},
    503: {"model": ErrorOut, "description": "The index is still loading."},
}
_FEEDBACK_ERRORS = {
    503: {"model": ErrorOut, "description": "The feedback database is unavailable."},
    507: {"model": ErrorOut, "description": "The feedback database's disk is full."},
}
_DOC_KEY = re.compile(r"^(\d{4}-\d{2}|d[0-9a-f]{10})[#\-](\d{1,4})$")


def normalize_doc_key(raw: str) -> str:
    """'2022-03#05', '2022-03-05' and '2022-03#5' all name the 5th document of issue 2022-03; a file's
    own documents have keys like 'd3f9a2c1b7e#01' (or 'd3f9a2c1b7e-01')."""
    m = _DOC_KEY.match(raw.strip())
    return f"{m.group(1)}#{int(m.group(2)):02d}" if m else raw.strip()


def worker(request: Request) -> Worker:
    return request.app.state.worker


def feedback_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback


@contextmanager
def feedback_errors() -> Iterator[None]:
    """A full disk under the feedback database is a 507, an unreachable database a 503: the server's
    storage, not the request, is at fault, and the client may retry later."""
    try:
        yield
    except FeedbackStorageFull as exc:
        raise APIError(507, "insufficient_storage", str(exc)) from None
    except FeedbackUnavailable as exc:
        raise APIError(503, "feedback_unavailable", str(exc), {"Retry-After": "30"}) from None


def build_health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=HealthOut)
    async def healthz() -> dict:
        """The process is up (the index may still be loading)."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
    async def readyz(request: Request) -> JSONResponse:
        """200 once the index is loaded, 503 before (or if loading failed)."""
        holder: ServiceHolder = request.app.state.holder
        if holder.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready", "detail": holder.status()}, status_code=503,
                            headers={"Retry-After": "5"})

    return router


def build_api_router(models: RequestModels) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=_ERRORS)
    AskRequest, SearchRequest, FeedbackRequest = models.AskRequest, models.SearchRequest, models.FeedbackRequest

    @router.post("/ask", tags=["answers"], response_model=AnswerOut,
                 responses={200: {"content": {"text/event-stream": {"schema": ANSWER_EVENT_SCHEMA}},
                                  "description": "The answer; with stream=true, server-sent events "
                                                 "(`answer` pieces, then `citations`, then `done`)."}})
    async def ask(body: Annotated[AskRequest, Body()], w: Annotated[Worker, Depends(worker)],  # type: ignore[valid-type]
                  request: Request):
        """Answer a question with cited source paragraphs."""
        pool = ask_pool(request.app.state.settings, body.mode)
        service = w.service()
        filters = body.filters.to_service() if body.filters else None
        history = await w.run(service.history, history_entries(body.history), body.question, pool=pool) if body.history else []
        result = await w.run(service.ask, body.question, top_k=body.top_k, filters=filters, mode=body.mode, pool=pool,
                             history=history)
        data = result.to_dict()
        if body.stream:
            return StreamingResponse(answer_events(data), media_type="text/event-stream", headers=SSE_HEADERS)
        return JSONResponse(data)

    @router.post("/search", tags=["answers"], response_model=SearchOut)
    async def search(body: Annotated[SearchRequest, Body()], w: Annotated[Worker, Depends(worker)]):  # type: ignore[valid-type]
        """Retrieve passages (hybrid dense + BM25 search), best first."""
        service = w.service()
        filters = body.filters.to_service() if body.filters else None
        hits = await w.run(service.search, body.question, top_k=body.top_k, filters=filters)
        return JSONResponse({"hits": [h.to_dict() for h in hits]})

    @router.get("/documents/{doc_key}", tags=["documents"], response_model=DocumentOut | DocumentsOut,
                responses={200: {"description": "The document; when several documents share the number asked for, "
                                                "`{\"doc_number\", \"documents\": [...]}` (DocumentsOut)."},
                           404: {"model": ErrorOut, "description": "No such document."}})
    async def document(doc_key: Annotated[str, Path(max_length=64, description=(
                           "A document key (2022-03%2305 or 2022-03-05) or a document number (文号) in any bracket "
                           "form (阳政办发〔2022〕34号, 阳政办发[2022]34号), URL-encoded as any path segment"),
                           examples=["2022-03-05", "阳政办发〔2022〕34号"])],
                       w: Annotated[Worker, Depends(worker)]):
        """One document with its sections and paragraphs (with corpus line ranges), by key or by number (文号).
        A number several documents share gives them all: `{"doc_number", "documents": [...]}`."""
        service = w.service()
        key = normalize_doc_key(doc_key)
        doc = await w.run(service.document, key)
        if doc is not None:
            return JSONResponse(doc)
        docs = await w.run(service.documents_numbered, doc_key.strip())
        if len(docs) == 1:
            return JSONResponse(docs[0])
        if docs:
            return JSONResponse({"doc_number": doc_key.strip(), "documents": docs})
        hint = (" (a bare issue: the '#' was probably not URL-encoded; use 2022-03%2305 or 2022-03-05)"
                if re.fullmatch(r"\d{4}-\d{2}", key) else "")
        raise APIError(404, "not_found", f"no document {key!r}{hint}")

    @router.get("/collections", tags=["documents"], response_model=CollectionsOut)
    async def collections(w: Annotated[Worker, Depends(worker)]):
        """The collections in the index (e.g. a city's gazette, the province's, the unit's own files), with counts."""
        service = w.service()
        return JSONResponse({"collections": await w.run(service.collections)})

    @router.get("/issues", tags=["documents"], response_model=IssuesOut)
    async def issues(w: Annotated[Worker, Depends(worker)]):
        """The gazette issues in the index, with their documents."""
        service = w.service()
        return JSONResponse({"issues": await w.run(service.issues)})

    @router.post("/feedback", tags=["feedback"], response_model=FeedbackOut, status_code=201, responses=_FEEDBACK_ERRORS)
    async def add_feedback(body: Annotated[FeedbackRequest, Body()],  # type: ignore[valid-type]
                           store: Annotated[FeedbackStore, Depends(feedback_store)]):
        """Rate an answer (up/down or +1/-1), optionally with a comment."""
        from anyio import to_thread

        with feedback_errors():
            record = await to_thread.run_sync(lambda: store.add(
                body.question, body.answer_id, body.rating_value(), body.comment or "", body.answer or "", "api"))
        return JSONResponse(record.to_dict(), status_code=201)

    @router.get("/feedback", tags=["feedback"], response_model=FeedbackListOut, responses=_FEEDBACK_ERRORS)
    async def list_feedback(store: Annotated[FeedbackStore, Depends(feedback_store)],
                            limit: Annotated[int, Query(ge=1, le=1000, description="Records per page.",
                                                        examples=[100])] = 100,
                            offset: Annotated[int, Query(ge=0, le=10**9, description="Records to skip (newest first).",
                                                         examples=[0])] = 0):
        """Stored feedback, newest first."""
        from anyio import to_thread

        with feedback_errors():
            items, total = await to_thread.run_sync(lambda: (store.list(limit, offset), store.count()))
        return JSONResponse({"items": [r.to_dict() for r in items], "total": total})

    return router
