"""Log set-up for every `qa` command and the server: quiet by default, more with --log-level / QA_LOG_LEVEL."""
from __future__ import annotations

import logging
import sys

LEVELS = ("debug", "info", "warning", "error")
# Loggers whose INFO lines are this project's own (the server's address, readiness, reloads).
OWN = ("qa", "uvicorn")


def default_level(command: str | None) -> str:
    """`qa serve` says where it listens and when the index is ready (info); other commands only warn."""
    return "info" if command == "serve" else "warning"


class _QuietLibraries(logging.Filter):
    """Other libraries' records only from WARNING up, unless the level is debug: ONNX Runtime's fusion and
    quantisation steps (hundreds of INFO lines on the first export), bm25s (which sets its own logger to
    DEBUG), sentence-transformers' model loading."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.library_level = level if level <= logging.DEBUG else max(level, logging.WARNING)

    def filter(self, record: logging.LogRecord) -> bool:
        own = any(record.name == n or record.name.startswith(n + ".") for n in OWN)
        return record.levelno >= (self.level if own else self.library_level)


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (a test runner swaps it per command), not the one at set-up."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configured() -> bool:
    """Whether configure_logging has set up the root logger in this process."""
    return any(getattr(h, "_qa_handler", False) for h in logging.getLogger().handlers)


def configure_logging(level: str) -> None:
    """One stderr handler on the root logger; replaces an earlier set-up (tests call commands repeatedly)."""
    value = getattr(logging, level.upper())
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_qa_handler", False)]:
        root.removeHandler(h)
    handler = _StderrHandler()
    handler._qa_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietLibraries(value))
    root.addHandler(handler)
    root.setLevel(value)
