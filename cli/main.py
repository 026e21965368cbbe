"""The `pdfchat` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli import keycloak
from cli.analytics import analytics_command
from cli.ask import ask as ask_question
from cli.audit import audit_command
from cli.database import database_command
from cli.flags import flags_command
from cli.ingest import ingest as ingest_files
from cli.kafka import ensure_jars
from cli.models import ensure_encoder
from cli.observability import ensure_installed
from cli.processes import StackError
from cli.rollout import rollout_command
from cli.stack import ServiceStatus, Stack, with_brokers, with_recorded_brokers
from config import Settings, get_settings
from core.tokens import ROLES, ensure_signing_key, mint
from storage import migrate_database

console = Console()
# The tenant of `token`, `ingest` and `ask` when none is given, so that the three agree.
DEV_TENANT = "dev"


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """pdfchat: chat with your PDF documents."""
    ctx.obj = with_recorded_brokers(get_settings())


@main.command()
@click.option(
    "--observability",
    is_flag=True,
    help="Also run Prometheus, Alertmanager and the trace collector.",
)
@click.option(
    "--brokers",
    type=click.IntRange(1, 5),
    default=None,
    help="Kafka brokers on loopback: 3 replicates every topic three times, and writes go on"
    " while any one broker is down. Remembered for this home.  [default: as last time, or 1]",
)
@click.option(
    "--oidc",
    type=click.Choice(["keycloak", "none"]),
    default=None,
    help="keycloak: also run Keycloak with a development realm, and accept its tokens instead"
    " of `pdfchat token`'s (docs/api.md#tokens). Remembered for this home."
    "  [default: as last time, or none]",
)
@click.pass_obj
def up(settings: Settings, observability: bool, brokers: int | None, oidc: str | None) -> None:
    """Install what is missing, then start PostgreSQL, Kafka, the workers and the web server,
    and the supervisor that restarts whatever dies."""
    if brokers is not None:
        settings = with_brokers(settings, brokers)
    if observability and not settings.otel_endpoint:
        endpoint = f"http://127.0.0.1:{settings.collector_otlp_port}"
        settings = settings.model_copy(update={"otel_endpoint": endpoint})
    settings, with_keycloak = keycloak.chosen(settings, oidc)
    try:
        ensure_jars()
        if settings.rerank_encoder:
            ensure_encoder(settings.encoder_dir)
        ensure_signing_key(settings.signing_key_path)
        if observability:
            ensure_installed(settings)
        if with_keycloak:
            keycloak.ensure_installed()
        stack = Stack(settings, observability=observability, keycloak=with_keycloak)
        statuses = stack.up(prepare=migrate_database)
    except StackError as exc:
        console.print("[red]start-up failed:[/]", escape(str(exc)), highlight=False, soft_wrap=True)
        _print(Stack(settings).status())
        sys.exit(1)
    _print(statuses)
    if not all(s.ok for s in statuses):
        sys.exit(1)
    if with_keycloak:
        console.print(
            f"web: {settings.web_url}   tokens: Keycloak, {keycloak.token_url(settings)}"
            " (users alice, bob, carol: docs/api.md#tokens)"
        )
    else:
        console.print(f"web: {settings.web_url}   token: pdfchat token --tenant T --user U")
    if observability:
        console.print(
            f"dashboards: http://127.0.0.1:{settings.prometheus_port}/consoles/"
            "index.html   runbook: docs/runbook.md"
        )


@main.command()
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop every service of the local stack."""
    stack = Stack(settings)
    try:
        stack.down()
    except StackError as exc:
        console.print("[red]stopping failed:[/]", escape(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(1)
    _print(stack.status())


@main.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Each service with its pid, port and health; exit code 1 unless all are healthy."""
    statuses = Stack(settings).status()
    _print(statuses)
    sys.exit(0 if all(s.ok for s in statuses) else 1)


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Bring the database schema up to date, then exit (`up` does it too; run it once before
    new web and worker containers start: docs/deploy.md)."""
    asyncio.run(migrate_database(settings))


@main.command()
@click.option(
    "--tenant",
    default=DEV_TENANT,
    show_default=True,
    envvar="PDFCHAT_TENANT",
    help="Tenant the token is scoped to.",
)
@click.option("--user", default="dev", show_default=True)
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(ROLES), default=["admin"], show_default=True
)
@click.option("--ttl", "ttl_s", type=int, default=None, help="Lifetime in seconds.")
@click.pass_obj
def token(settings: Settings, tenant: str, user: str, roles: tuple[str, ...], ttl_s: int) -> None:
    """Mint a development JWT signed with the key `up` created."""
    try:
        click.echo(mint(settings, tenant=tenant, user=user, roles=roles, ttl_s=ttl_s))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--tenant", default=DEV_TENANT, show_default=True, envvar="PDFCHAT_TENANT")
@click.option("--user", default="dev", show_default=True)
@click.option("--token", "bearer", envvar="PDFCHAT_TOKEN", help="Use this token instead.")
@click.pass_obj
def ingest(
    settings: Settings, files: tuple[Path, ...], tenant: str, user: str, bearer: str | None
) -> None:
    """Upload PDFs and follow each until it is ready to search, or failed."""
    bearer = bearer or mint(settings, tenant=tenant, user=user, roles=["editor"])
    failed = asyncio.run(ingest_files(settings.web_url, bearer, list(files), console))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("question")
@click.option("--document", "document_ids", multiple=True, help="Ask only these (repeatable).")
@click.option("--conversation", "conversation_id", help="Continue this conversation.")
@click.option("--tenant", default=DEV_TENANT, show_default=True, envvar="PDFCHAT_TENANT")
@click.option("--user", default="dev", show_default=True)
@click.option("--token", "bearer", envvar="PDFCHAT_TOKEN", help="Use this token instead.")
@click.pass_obj
def ask(
    settings: Settings,
    question: str,
    document_ids: tuple[str, ...],
    conversation_id: str | None,
    tenant: str,
    user: str,
    bearer: str | None,
) -> None:
    """Ask your documents a question; the answer streams in, then its sources."""
    bearer = bearer or mint(settings, tenant=tenant, user=user, roles=["viewer"])
    status = asyncio.run(
        ask_question(
            settings.web_url,
            bearer,
            question,
            document_ids=list(document_ids) or None,
            conversation_id=conversation_id,
            notes=Console(stderr=True),
        )
    )
    sys.exit(status)


main.add_command(analytics_command)
main.add_command(audit_command)
main.add_command(database_command)
main.add_command(flags_command)
main.add_command(rollout_command)


def _print(statuses: list[ServiceStatus]) -> None:
    table = Table("service", "pid", "port", "health")
    for s in statuses:
        health = "[green]healthy" if s.healthy else f"[{'red' if s.wanted else 'dim'}]{s.detail}"
        table.add_row(s.name, str(s.pid or "-"), str(s.port or "-"), health)
    console.print(table)
