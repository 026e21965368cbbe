"""Admission control: beyond capacity new work is refused with a time to come back (429 for
a tenant over its own share, 503 when everyone's work together is over what the system
takes), instead of queueing without end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from config import Settings
from core.errors import Overloaded, TooManyRequests
from storage import admission


@dataclass(frozen=True)
class Limit:
    what: str  # "documents" or "questions", as the messages say
    per_tenant: int
    in_all: int
    retry_after_s: float

    def check(self, tenant_waiting: int, all_waiting: int) -> None:
        if tenant_waiting > self.per_tenant:
            raise TooManyRequests(
                f"your tenant has {tenant_waiting - 1} {self.what} in progress, the most it may"
                f" have at once is {self.per_tenant}; send this one when some have finished",
                retry_after_s=self.retry_after_s,
                code=f"too_many_{self.what}",
            )
        if all_waiting > self.in_all:
            raise Overloaded(
                f"the service is at capacity ({all_waiting - 1} {self.what} in progress);"
                " try again shortly",
                retry_after_s=self.retry_after_s,
            )


def limit_of(settings: Settings, what: Literal["documents", "questions"]) -> Limit:
    """From the settings named after ``what``: PDFCHAT_TENANT_MAX_PENDING_<WHAT>, ..."""
    return Limit(
        what,
        per_tenant=getattr(settings, f"tenant_max_pending_{what}"),
        in_all=getattr(settings, f"max_pending_{what}"),
        retry_after_s=getattr(settings, f"{what}_retry_after_s"),
    )


async def admit_document(conn: asyncpg.Connection, tenant_id: str, limit: Limit) -> None:
    """Call in the transaction that has just added the document: it counts itself."""
    documents = (await admission.backlog(conn, tenant_id)).documents
    limit.check(documents.tenant, documents.everyone)


async def admit_question(pool: asyncpg.Pool, tenant_id: str, limit: Limit) -> None:
    """Call before the question is added: it counts as one more."""
    questions = (await admission.backlog(pool, tenant_id)).questions
    limit.check(questions.tenant + 1, questions.everyone + 1)
