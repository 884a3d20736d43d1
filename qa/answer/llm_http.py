"""The HTTP client for the LLM endpoint: a reply larger than a cap, or one that takes longer in all than the
timeout (a server dripping bytes never trips httpx's per-read timeout), is cut off as an httpx error."""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx


class ReplyTooLarge(httpx.ReadError):
    pass


class ReplyTooSlow(httpx.ReadTimeout):
    pass


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, max_bytes: int, deadline: float, request: httpx.Request) -> None:
        self.inner, self.max_bytes, self.deadline, self.request = inner, max_bytes, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self.inner:
            seen += len(chunk)
            if seen > self.max_bytes:
                raise ReplyTooLarge(f"reply exceeds {self.max_bytes} bytes", request=self.request)
            if time.monotonic() > self.deadline:
                raise ReplyTooSlow("reply took longer than the timeout", request=self.request)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class CappedTransport(httpx.BaseTransport):
    def __init__(self, max_bytes: int, total_timeout_s: float) -> None:
        self.inner = httpx.HTTPTransport()
        self.max_bytes = max_bytes
        self.total_timeout_s = total_timeout_s

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.total_timeout_s
        response = self.inner.handle_request(request)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise ReplyTooLarge(f"reply declares {length} bytes, more than {self.max_bytes}", request=request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CappedStream(response.stream, self.max_bytes, deadline, request)
        return response

    def close(self) -> None:
        self.inner.close()


def capped_client(max_bytes: int, timeout_s: float) -> httpx.Client:
    return httpx.Client(transport=CappedTransport(max_bytes, timeout_s), timeout=timeout_s)
