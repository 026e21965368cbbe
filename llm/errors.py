"""Errors of the chat model layer, in the project's one hierarchy (``core.errors``).

    PdfchatError
    ├── InvalidInput
    │   └── ContextTooLong      no configured model can take the question with its evidence
    ├── BudgetExceeded          the tenant's budget affords no configured model (402-like)
    ├── ModelsUnavailable       every candidate failed or has an open circuit (retriable)
    └── AnswerInterrupted       a model failed after its first token: the answer is cut short

A provider's own failures are ``TransientError`` (429, 408/409, 5xx, timeouts, connection
errors: retried) or ``retrieval.ProviderError`` (401/403/404/400: not retried), as for the
embedders.
"""

from __future__ import annotations

from core.errors import InvalidInput, PdfchatError, TransientError


class ContextTooLong(InvalidInput):
    code = "context_too_long"


class BudgetExceeded(PdfchatError):
    """Refused: the tenant's remaining budget is below what any configured model would cost.
    The web tier should show it as is (HTTP 402 or a WS error with this code)."""

    code = "budget_exceeded"


class ModelsUnavailable(TransientError):
    code = "models_unavailable"


class AnswerInterrupted(PdfchatError):
    """Text had already been streamed to the user when the model failed, so no fallback model
    can take over (the user would see two answers spliced). Not retriable for the same reason:
    the orchestrator ends the stream with an error and the user may ask again."""

    code = "answer_interrupted"

    def __init__(self, message: str, *, model: str, partial_text: str) -> None:
        super().__init__(message)
        self.model = model
        self.partial_text = partial_text
