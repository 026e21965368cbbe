"""The plumbing every remote model provider shares: embedders and re-rankers (retrieval/) and
chat models (llm/) alike.

    api_key_for(provider, secret, base_url)   the key from the environment, or a clear error
    openai_client(...), cohere_client(...)    the official SDK clients, own retries off
    call_with_retry(call, RetryPolicy(...))   the project's one backoff (core.retry), per call
    openai_error(exc, op), cohere_error(...)  an SDK's exception as ours: TransientError (worth
                                              retrying) or ProviderError (a clear refusal)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from config import Settings
from core.errors import InvalidInput, PdfchatError, TransientError
from core.retry import backoff

if TYPE_CHECKING:
    import openai

__all__ = [
    "COHERE_DEFAULT_URL",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_TIMEOUT_S",
    "OPENAI_DEFAULT_URL",
    "ProviderError",
    "RetryPolicy",
    "api_key_for",
    "call_with_retry",
    "cohere_client",
    "cohere_error",
    "openai_client",
    "openai_error",
    "status_error",
    "transient_status",
]

T = TypeVar("T")

# Attempts per remote call (the first one included). The embedding agent re-queues a document
# whose embedding still fails, so a handful of quick attempts is enough here.
DEFAULT_ATTEMPTS = 4
# Per HTTP request. Generous: a batch of 2048 long segments can take a while on a busy server.
DEFAULT_TIMEOUT_S = 60.0

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
COHERE_DEFAULT_URL = "https://api.cohere.com"


class ProviderError(PdfchatError):
    """The provider refused the request in a way retrying cannot fix (bad key, unknown model,
    input it rejects). ``status`` is the HTTP status when there was one."""

    code = "provider_error"

    def __init__(self, message: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    base_s: float = 0.5
    max_s: float = 30.0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(base_s=settings.retry_base_s, max_s=settings.retry_max_s)


async def call_with_retry(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run ``call`` under the project's one backoff policy (only retriable errors retried)."""
    async for attempt in backoff(
        attempts=policy.attempts, base_s=policy.base_s, max_s=policy.max_s
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: backoff reraises the last error")


def api_key_for(provider: str, secret: Any, base_url: str | None) -> str:
    """The configured key; servers behind a custom base URL (vLLM, Ollama) often need none."""
    if secret is not None and secret.get_secret_value():
        return str(secret.get_secret_value())
    if base_url:
        return "unused"
    raise InvalidInput(
        f"{provider} needs an API key: set PDFCHAT_{provider.upper()}_API_KEY "
        f"(or PDFCHAT_{provider.upper()}_BASE_URL for a server without keys)"
    )


def openai_client(*, api_key: str, base_url: str | None, timeout_s: float) -> openai.AsyncOpenAI:
    """AsyncOpenAI with its own retries off (ours are call_with_retry's) and an explicit base
    URL, so OPENAI_BASE_URL in the environment cannot redirect us unseen."""
    import openai

    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url or OPENAI_DEFAULT_URL,
        max_retries=0,
        timeout=timeout_s,
    )


def cohere_client(
    *, api_key: str, base_url: str | None, timeout_s: float
) -> tuple[Any, httpx.AsyncClient]:
    """AsyncClientV2 on an httpx client we own (so ``aclose`` really closes it), own retries
    off, and an explicit base URL so CO_API_URL in the environment cannot redirect us."""
    import cohere

    http = httpx.AsyncClient(timeout=timeout_s)
    client = cohere.AsyncClientV2(
        api_key=api_key,
        base_url=base_url or COHERE_DEFAULT_URL,
        timeout=timeout_s,
        max_retries=0,
        httpx_client=http,
    )
    return client, http


def transient_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


def status_error(provider: str, operation: str, status: int | None, detail: str) -> PdfchatError:
    """TransientError for statuses worth retrying, otherwise a clear ProviderError."""
    message = f"{provider} {operation} failed with HTTP {status}: {detail}"
    if transient_status(status):
        return TransientError(message)
    if status in (401, 403):
        message += f" (check PDFCHAT_{provider.upper()}_API_KEY)"
    elif status == 404:
        message += " (check the model name and the base URL)"
    return ProviderError(message, provider=provider, status=status)


def openai_error(exc: Exception, operation: str) -> PdfchatError:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return TransientError(f"openai {operation}: {type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return status_error("openai", operation, exc.status_code, exc.message)
    return ProviderError(f"openai {operation}: {type(exc).__name__}: {exc}", provider="openai")


def cohere_error(exc: Exception, operation: str) -> PdfchatError:
    from cohere.core.api_error import ApiError

    if isinstance(exc, httpx.TransportError):  # timeouts, refused and dropped connections
        return TransientError(f"cohere {operation}: {type(exc).__name__}: {exc}")
    if isinstance(exc, ApiError):
        body = exc.body
        detail = body.get("message", body) if isinstance(body, dict) else body
        return status_error("cohere", operation, exc.status_code, str(detail))
    return ProviderError(f"cohere {operation}: {type(exc).__name__}: {exc}", provider="cohere")
