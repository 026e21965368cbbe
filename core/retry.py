"""The one retry helper: exponential backoff with jitter, only for retriable errors."""

from __future__ import annotations

import logging

from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger("pdfchat.retry")


def is_retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))


def backoff(*, attempts: int, base_s: float, max_s: float) -> AsyncRetrying:
    """``async for attempt in backoff(...): with attempt: ...`` — reraises the last error."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        # base_s, 2·base_s, 4·base_s, ... plus up to base_s of jitter, never over max_s.
        wait=wait_exponential_jitter(multiplier=base_s, jitter=base_s, max=max_s),
        retry=retry_if_exception(is_retriable),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
