"""Waiting on conditions, never on bare sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLL_S = 0.1


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, within_s: float, poll: float = POLL_S
) -> None:
    """Poll ``condition`` until it is true; fail with TimeoutError after ``within_s`` seconds."""
    async with asyncio.timeout(within_s):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(poll)
