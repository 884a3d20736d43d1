"""OCR of scans and images: RapidOCR (PP-OCRv4) on ONNX Runtime, with the models its wheel ships.

Nothing is downloaded: rapidocr-onnxruntime 1.4.4 carries its detection, recognition and direction models.
Text boxes are put back into lines by their position; a wide gap inside a line becomes a tab, so a
scanned roster keeps its columns (the parsers read tab-separated rows as tables).
"""
from __future__ import annotations

import re
import threading
from statistics import median
from typing import Any

_LATIN_END = re.compile(r"[A-Za-z0-9]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9]")
TAB_GAP = 2.0  # a gap wider than this many character heights separates two table cells


class OcrEngine:
    """One loaded RapidOCR model set (~0.5 s to load); thread-safe for one caller at a time."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _get(self):
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 - heavy (opencv, onnxruntime)
            except ImportError as exc:  # pragma: no cover - a dependency of the package
                raise RuntimeError("OCR needs rapidocr-onnxruntime==1.4.4 (pip install it)") from exc
            self._engine = RapidOCR()
        return self._engine

    def lines(self, image) -> list[str]:
        """The text lines of an image (a PIL image, numpy array or path), top to bottom."""
        import numpy as np  # noqa: PLC0415

        if hasattr(image, "convert"):
            image = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR takes BGR like OpenCV
        with self._lock:
            result, _ = self._get()(image)
        return boxes_to_lines([(box, text) for box, text, _score in (result or [])])


def boxes_to_lines(boxes: list[tuple[list[list[float]], str]]) -> list[str]:
    """Group OCR boxes (four corner points, text) into reading-order lines."""
    items = []
    for box, text in boxes:
        text = text.strip()
        if not text:
            continue
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        items.append((min(ys), max(ys), min(xs), max(xs), text))
    if not items:
        return []
    items.sort(key=lambda t: ((t[0] + t[1]) / 2, t[2]))
    rows: list[list[tuple]] = []
    for it in items:
        centre = (it[0] + it[1]) / 2
        if rows:
            top = min(r[0] for r in rows[-1])
            bottom = max(r[1] for r in rows[-1])
            if top <= centre <= bottom:
                rows[-1].append(it)
                continue
        rows.append([it])
    out = []
    for row in rows:
        row.sort(key=lambda t: t[2])
        height = median(t[1] - t[0] for t in row) or 1.0
        line = row[0][4]
        for prev, cur in zip(row, row[1:]):
            gap = cur[2] - prev[3]
            if gap > TAB_GAP * height:
                line += "\t"
            elif _LATIN_END.search(prev[4]) and _LATIN_START.search(cur[4]):
                line += " "
            line += cur[4]
        out.append(line)
    return out
