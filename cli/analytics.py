"""`pdfchat analytics`: analysts allowed one tenant's data on Kafka (docs/topics.md#tenants)."""

from __future__ import annotations

import secrets
import sys

import click
from rich.markup import escape
from rich.table import Table

from cli.operator import console, operator, with_pool
from config import Settings
from core.kafka_access import SCRAM_MECHANISM
from storage import analytics as grants
from workflows import analytics


@click.group("analytics")
def analytics_command() -> None:
    """Analysts who may read one tenant's records on Kafka, and nothing else."""


@analytics_command.command()
@click.option("--tenant", required=True, help="The tenant whose records the analyst reads.")
@click.option("--user", required=True, help="The analyst's Kafka user (SCRAM).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of making one (shown once).",
)
@click.pass_obj
def grant(settings: Settings, tenant: str, user: str, password_stdin: bool) -> None:
    """Let USER read TENANT's records: its export topics, with one consumer group."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(24)
    access = with_pool(
        settings,
        lambda pool: analytics.grant(
            pool, settings, tenant_id=tenant, user=user, password=password, actor=operator()
        ),
    )
    console.print(f"[green]{escape(user)}[/] may read tenant [bold]{escape(tenant)}[/]'s records:")
    console.print(f"  bootstrap servers  {access.bootstrap or '(the external cluster)'}")
    console.print(f"  security           SASL_PLAINTEXT, {SCRAM_MECHANISM}")
    console.print(f"  user               {escape(user)}")
    if not password_stdin:
        console.print(f"  password           {password}   (shown once)")
    console.print(f"  consumer group     {access.grant.group}")
    for topic in access.topics:
        console.print(f"  topic              {topic}")
    console.print("Records from now on reach these topics within seconds.")


@analytics_command.command()
@click.option("--user", required=True)
@click.pass_obj
def revoke(settings: Settings, user: str) -> None:
    """USER can no longer connect or read; the tenant's export topics stay."""
    gone = with_pool(
        settings, lambda pool: analytics.revoke(pool, settings, user, actor=operator())
    )
    console.print(f"revoked {escape(gone.username)} (tenant {escape(gone.tenant_id)})")


@analytics_command.command("list")
@click.option("--tenant", default=None, help="Only this tenant's analysts.")
@click.pass_obj
def list_grants(settings: Settings, tenant: str | None) -> None:
    """The analysts, their tenants and groups."""
    found = with_pool(settings, lambda pool: grants.grants(pool, tenant))
    table = Table("user", "tenant", "consumer group", "since")
    for g in found:
        table.add_row(g.username, g.tenant_id, g.group, g.created_at.isoformat(timespec="seconds"))
    console.print(table)
