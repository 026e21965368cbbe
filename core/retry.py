"""The one retry helper: exponential backoff with jitter, only for retriable errors."""

from __future__ import annotations

import logging
from collections.abc import Callable

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


def backoff(
    *,
    attempts: int,
    base_s: float,
    max_s: float,
    retry_when: Callable[[BaseException], bool] = is_retriable,
) -> AsyncRetrying:
    """``async for attempt in backoff(...): with attempt: ...`` — reraises the last error.
    Retries the errors ``retry_when`` accepts: by default those that say they are retriable."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        # base_s, 2·base_s, 4·base_s, ... plus up to base_s of jitter, never over max_s.
        wait=wait_exponential_jitter(multiplier=base_s, jitter=base_s, max=max_s),
        retry=retry_if_exception(retry_when),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
