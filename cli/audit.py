"""`pdfchat audit verify`: every tenant's audit trail checked, event by event."""

from __future__ import annotations

import sys

import asyncpg
import click
from rich.markup import escape

from cli.operator import console, with_pool
from config import Settings
from storage import audit
from storage.blobs import create_blob_store
from workflows.audit import Verdict, verify


@click.group("audit")
def audit_command() -> None:
    """The audit trail (docs/api.md#audit)."""


@audit_command.command("verify")
@click.option("--tenant", default=None, help="Only this tenant's trail.")
@click.pass_obj
def verify_command(settings: Settings, tenant: str | None) -> None:
    """Check each trail's hash chain and its daily archives: exit 1 if an event was changed,
    removed or inserted."""

    async def check(pool: asyncpg.Pool) -> list[Verdict]:
        tenants = [tenant] if tenant else await audit.tenants(pool)
        store = create_blob_store(settings.blob_backend, settings.blob_root)
        return [await verify(pool, t, store) for t in tenants]

    verdicts = with_pool(settings, check)
    for v in verdicts:
        state = "[green]intact[/]" if not v.problems else "[red]broken[/]"
        console.print(f"{escape(v.tenant_id)}: {v.entries} events, {state}")
        for problem in v.problems:
            console.print(f"  {escape(problem)}")
    sys.exit(1 if any(v.problems for v in verdicts) else 0)
