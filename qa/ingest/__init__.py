"""Reading files: which reader a file needs (by content), and its text with page and line provenance."""
from qa.ingest.detect import FileKind, UnsupportedFile, detect_kind
from qa.ingest.reader import read_file
from qa.ingest.types import ExtractedText

__all__ = ["ExtractedText", "FileKind", "UnsupportedFile", "detect_kind", "read_file"]
