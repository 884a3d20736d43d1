"""Adding and removing documents over HTTP: POST /v1/documents (multipart upload), DELETE /v1/documents/{id}.

Uploads are written to a private temp folder, then go through the same corpus change as `qa index add`
(qa.index.manage: read and parse every file first, build lock, corpus restored when the index step fails), so a
failed upload changes nothing. The running service is swapped onto the new index before the response is sent.
"""
# No `from __future__ import annotations`: FastAPI reads the annotations of the route functions.
import logging
import re
import tempfile
import unicodedata
from pathlib import Path as FilePath
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator
from starlette.convertors import StringConvertor, register_url_convertor

from qa.api.auth import require_api_key
from qa.api.errors import APIError
from qa.api.schemas import DocumentChangeOut, ErrorOut
from qa.api.state import ServiceHolder, Worker

log = logging.getLogger("qa.api")


class _AnyKeyConvertor(StringConvertor):
    """A path tail of any characters. Starlette's `path` is `.*`, which stops at a line break, so such a key
    fell through to the GET route and got a 405; here it reaches the DELETE route and its 404/422."""

    regex = r"[\s\S]+"


register_url_convertor("anykey", _AnyKeyConvertor())
_UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f\x7f]")
_ERRORS = {
    400: {"model": ErrorOut, "description": "A malformed multipart body."},
    401: {"model": ErrorOut, "description": "Missing or wrong API key (only when one is configured)."},
    404: {"model": ErrorOut, "description": "No such document or file."},
    409: {"model": ErrorOut, "description": "Already in the corpus (send replace=true), or part of a larger file."},
    413: {"model": ErrorOut, "description": "Upload larger than the server's limit (QA_MAX_UPLOAD_BYTES)."},
    415: {"model": ErrorOut, "description": "Not a supported kind of file (told by content, not by name)."},
    422: {"model": ErrorOut, "description": "Empty, encrypted or unreadable file, or a bad collection name."},
    503: {"model": ErrorOut, "description": "The index is loading, or another change is running (retry)."},
}


def form_bool(value: object) -> object:
    """A form's true/false, strictly: the schema says boolean, so "0", "1", "yes" are refused (422) rather than
    guessed, as JSON bodies refuse "5" for 5."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"must be true or false, not {value[:20]!r}")
    return value


def upload_name(raw: str | None, n: int) -> str:
    """The client's file name, reduced to a safe base name (the corpus name is chosen by the intake)."""
    name = unicodedata.normalize("NFC", FilePath((raw or "").replace("\\", "/")).name)
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:150] or f"upload-{n}"


# What the readers say of a file of a kind no reader takes (qa.ingest.detect); any other refusal of a file is
# about this file (empty, encrypted, damaged, no text) and is a 422.
_UNSUPPORTED = ("not a supported kind", "not a Word document", "old binary Office file")


def _refused(exc: Exception, tmp: str = "") -> APIError:
    """Map what the intake and the corpus change refuse to a 4xx/503 with their message (no server paths)."""
    from qa.corpus.intake import IntakeError  # noqa: PLC0415
    from qa.index.manage import CorpusChangeError, IndexBusyError  # noqa: PLC0415

    if isinstance(exc, CorpusChangeError) and isinstance(exc.__cause__, IntakeError):
        exc = exc.__cause__  # a file the intake would not take (ingest_files wraps it)
    text = str(exc).replace(f"{tmp}/", "") if tmp else str(exc)
    if isinstance(exc, IndexBusyError):
        return APIError(503, "busy", "another change of the index is running; try again shortly", {"Retry-After": "10"})
    if isinstance(exc, CorpusChangeError):
        return APIError(409, "conflict", text)
    if isinstance(exc, IntakeError):
        if "no supported files" in text or any(m in text for m in _UNSUPPORTED):
            return APIError(415, "unsupported_file", text)
        if "collection name" in text:
            return APIError(422, "bad_collection", text)
        return APIError(422, "unreadable_file", text)
    raise exc


def build_documents_router() -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], tags=["documents"], responses=_ERRORS)

    def worker(request: Request) -> Worker:
        return request.app.state.worker

    @router.post("/documents", status_code=201, response_model=DocumentChangeOut)
    async def add_documents(
        request: Request,
        w: Annotated[Worker, Depends(worker)],
        files: Annotated[list[UploadFile], File(description="One or more files: PDF (text or scanned), Word .docx, "
                                                            "HTML, Markdown, text, PNG/JPEG; gazette issues too.",
                                                            examples=[["通知.docx"]])],
        collection: Annotated[str | None, Form(max_length=64, description="e.g. 本单位文件; default: a gazette's "
                                                                            "masthead, else the server's default",
                                                                            examples=["本单位文件"])] = None,
        replace: Annotated[bool, Form(description="Replace a file already in the corpus under the same name "
                                                  "(true or false)", examples=[False]),
                           BeforeValidator(form_bool)] = False,
    ):
        """Add documents to the index; they are answerable as soon as this returns."""
        from qa.corpus.intake import IntakeError, check_collection  # noqa: PLC0415

        service = w.service()
        holder: ServiceHolder = request.app.state.holder
        settings = request.app.state.settings
        collection = collection if collection and collection.strip() else None  # an empty form field: the default
        if collection is not None:
            try:
                collection = check_collection(collection)
            except IntakeError as exc:
                raise _refused(exc) from None
        total = 0
        with tempfile.TemporaryDirectory(prefix="qa-upload-") as tmp:
            paths: list[FilePath] = []
            seen: set[str] = set()
            for n, upload in enumerate(files, 1):
                name = upload_name(upload.filename, n)
                while name in seen:
                    name = f"{n}-{name}"
                seen.add(name)
                path = FilePath(tmp) / name
                size = 0
                with open(path, "wb") as out:
                    while chunk := await upload.read(1 << 20):
                        size += len(chunk)
                        total += len(chunk)
                        if total > settings.max_upload_bytes:
                            raise APIError(413, "payload_too_large",
                                           f"the upload exceeds the limit of {settings.max_upload_bytes} bytes")
                        out.write(chunk)
                if size == 0:
                    raise APIError(422, "empty_file", f"{name} is empty")
                paths.append(path)
            try:
                plan, change = await w.run_admin(service.add_files, paths, collection, replace)
            except Exception as exc:  # noqa: BLE001 - _refused re-raises what is not a refusal (-> 500, logged)
                raise _refused(exc, tmp) from None
        await anyio.to_thread.run_sync(holder.reload_if_changed)
        return JSONResponse(_change_out(change, plan), status_code=201)

    @router.delete("/documents/{doc_key:anykey}", response_model=DocumentChangeOut)
    async def delete_document(
        request: Request,
        w: Annotated[Worker, Depends(worker)],
        doc_key: Annotated[str, Path(max_length=300, description="A corpus file (本单位文件/通知.docx, 2022-03.txt) "
                                                                  "or the key of a document that is a file by itself",
                                                                  examples=["本单位文件/通知.docx"])],
    ):
        """Remove a file from the index (kept in corpus/removed/); a document inside a gazette issue is removed
        with its issue only (delete the issue's file)."""
        service = w.service()
        holder: ServiceHolder = request.app.state.holder
        source = service.source_of(doc_key)
        if source is None:
            raise APIError(404, "not_found", f"no document or corpus file {doc_key!r}")
        name, n_docs, matched_file = source
        if not matched_file and n_docs > 1:
            raise APIError(409, "part_of_file", f"{doc_key!r} is one of {n_docs} documents of {name}; "
                                                f"delete the whole file: DELETE /v1/documents/{name}")
        try:
            change = await w.run_admin(service.remove_file, name)
        except Exception as exc:  # noqa: BLE001
            raise _refused(exc) from None
        await anyio.to_thread.run_sync(holder.reload_if_changed)
        return JSONResponse(_change_out(change, []))

    return router


def _change_out(change, plan) -> dict:
    report = change.report
    return {
        "added": change.added, "replaced": change.replaced, "removed": change.removed,
        "files": [{"file": i.name, "kind": i.kind, "reader": i.reader, "collection": i.collection, "title": i.label,
                   "documents": i.documents, "pages": i.pages, "ocr_pages": i.ocr_pages, "missing": i.missing}
                  for i in plan],
        "chunks": report.n_chunks if report else None,
        "embedded": report.n_embedded if report else None,
    }
