"""The answer chain's output: the one shape the CLI, the API, the UI and `qa eval` share."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qa.models import SearchHit

AnswerMode = Literal["extractive", "generative"]


@dataclass
class Citation:
    n: int  # the [n] marker in the answer
    hit: SearchHit
    sentence: str = ""  # the answering sentence inside the cited passage (for highlighting)

    def to_dict(self) -> dict:
        return {"n": self.n, **self.hit.to_dict(), "sentence": self.sentence}


@dataclass
class AnswerResult:
    question: str
    answer: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    related: list[SearchHit] = field(default_factory=list)
    mode: str = "extractive"
    notice: str = ""  # e.g. generative endpoint down -> extractive fallback
    timings_ms: dict[str, float] = field(default_factory=dict)
    answer_id: str = ""
    # A follow-up answered as this standalone question (qa.conversation); "" when the question stood alone.
    rewritten_question: str = ""
    # What the chain knew when it chose this answer (route, the decision's score and threshold, the answer
    # gate's features and probability): read by the answer gate (qa/answer/gate.py); not serialised.
    trace: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {
            "answer_id": self.answer_id,
            "question": self.question,
            "rewritten_question": self.rewritten_question or None,
            "answer": self.answer,
            "answered": self.answered,
            "citations": [c.to_dict() for c in self.citations],
            "related": [h.to_dict() for h in self.related],
            "mode": self.mode,
            "notice": self.notice,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
