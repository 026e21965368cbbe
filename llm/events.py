"""What a chat stream yields: text deltas, then one ``Finished``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    model: str  # "provider:name" of the model that answered
    tokens_in: int
    tokens_out: int
    cost_usd: float = 0.0
    estimated: bool = False  # True when the provider did not report token counts


@dataclass(frozen=True, slots=True)
class Citation:
    document_id: str
    page: int
    segment_id: str
    quote: str  # verbatim from the evidence text
    marker: int | None = None  # the [n] in the answer text that points here


@dataclass(frozen=True, slots=True)
class Finished:
    text: str  # the whole answer, as streamed
    usage: Usage
    citations: list[Citation] = field(default_factory=list)
    # Models tried before the one in ``usage`` and why each was passed over, in order.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Provider calls that failed before this answer: retries, and the calls of skipped models.
    failed_calls: int = 0
    # False when the answer is that the documents do not have it (``llm.prompt.is_refusal``).
    found: bool = True


Event = Delta | Finished
