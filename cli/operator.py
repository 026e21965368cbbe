"""What operator commands (`pdfchat analytics`, `pdfchat audit`) share: a short-lived pool
around one piece of work, errors printed plainly, and who the operator is."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape

import storage
from config import Settings
from core.errors import PdfchatError

T = TypeVar("T")
console = Console()


def operator() -> str:
    """The audit trail's actor for a command: the operator's login on this machine."""
    return f"cli:{getpass.getuser()}"


def with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """``work`` run with a pool of its own; a refusal or an outage ends the command (exit 1)."""

    async def main() -> T:
        pool = await storage.create_pool(settings.dsn, max_size=2)
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except (PdfchatError, KafkaError, OSError) as exc:
        console.print("[red]failed:[/]", escape(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(1)
