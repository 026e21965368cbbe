"""`pdfchat flags`: feature flags and dynamic settings (docs/api.md#flags), changed through the
same workflow as `PUT /v1/flags`, so every process learns of the change within seconds."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import click
from rich.markup import escape
from rich.table import Table

from cli.operator import console, operator, with_pool
from config import Settings
from core import tracing
from storage import flags
from storage.flags import Flag
from workflows.flags import EVERY_TENANT, Setting, set_flag

TENANT_HELP = f"A tenant, or {EVERY_TENANT!r}: the default of every tenant."


@click.group("flags")
def flags_command() -> None:
    """Feature flags and dynamic settings, global or per tenant."""


@flags_command.command("list")
@click.option("--tenant", default=None, help="Only this tenant's flags (and the defaults).")
@click.option("--service", default=None, help="Only this service's flags.")
@click.pass_obj
def list_flags(settings: Settings, tenant: str | None, service: str | None) -> None:
    """Every flag, its tenant, state and value."""
    tenants = [EVERY_TENANT, tenant] if tenant else None
    _print(with_pool(settings, lambda pool: flags.flags(pool, tenants=tenants, service=service)))


@flags_command.command("get")
@click.argument("service")
@click.argument("name")
@click.option("--tenant", default=None, help="Only the default and this tenant's own.")
@click.pass_obj
def get_flag(settings: Settings, service: str, name: str, tenant: str | None) -> None:
    """One flag: its default and every tenant's own (exit 1 if it has none)."""
    tenants = [EVERY_TENANT, tenant] if tenant else None
    found = with_pool(
        settings, lambda pool: flags.flags(pool, tenants=tenants, service=service, name=name)
    )
    if not found:
        console.print(f"no flag {escape(service)}/{escape(name)}")
        raise SystemExit(1)
    _print(found)


@flags_command.command("set")
@click.argument("service")
@click.argument("name")
@click.option("--tenant", default=EVERY_TENANT, show_default=True, help=TENANT_HELP)
@click.option("--enabled/--disabled", required=True)
@click.option("--percent", "rollout_percent", type=int, default=100, show_default=True)
@click.option("--value", default=None, help="A dynamic setting, as JSON (e.g. 50, '[\"a\"]').")
@click.pass_obj
def set_command(
    settings: Settings,
    service: str,
    name: str,
    tenant: str,
    enabled: bool,
    rollout_percent: int,
    value: str | None,
) -> None:
    """Set SERVICE/NAME for a tenant, or for every tenant by default."""
    try:
        decoded = json.loads(value) if value is not None else None
    except ValueError:
        raise click.BadParameter("must be JSON", param_hint="--value") from None

    async def change(pool: asyncpg.Pool) -> Flag:
        tracing.setup_tracing(settings, "cli")
        # A span, so the record carries a traceparent like the API's (docs/topics.md#headers).
        with tracing.tracer.start_as_current_span("pdfchat flags set"):
            setting = Setting(tenant, service, name, enabled, rollout_percent, decoded)
            return await set_flag(pool, setting, actor=operator())

    _print([with_pool(settings, change)])


def _print(found: list[Flag]) -> None:
    table = Table("service", "name", "tenant", "enabled", "rollout %", "value", "updated")
    for f in found:
        table.add_row(
            f.service,
            f.name,
            f.tenant_id,
            "yes" if f.enabled else "no",
            str(f.rollout_percent),
            escape(_json(f.value)),
            f"{f.updated_at.isoformat(timespec='seconds')} by {escape(f.updated_by)}",
        )
    console.print(table)


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value)
