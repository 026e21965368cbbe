"""`pdfchat database roles-sql`: the SQL a DBA runs once where the owner may not create roles
(docs/deploy.md, "Database roles"). Everything else, `pdfchat migrate` does itself."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import click

from config import Settings
from storage.roles import roles_script


@click.group("database")
def database_command() -> None:
    """The database roles (storage/roles.py)."""


@database_command.command("roles-sql")
@click.option(
    "--owner",
    default=None,
    help="The role `pdfchat migrate` connects as (default: the user of the settings' URL).",
)
@click.pass_obj
def roles_sql_command(settings: Settings, owner: str | None) -> None:
    """Print the SQL that creates the login roles and the vectors role, idempotently. Run it
    as a role that may create roles, then set each login role's password (psql: \\password)."""
    click.echo(roles_script(settings, owner or _owner_of(settings)))


def _owner_of(settings: Settings) -> str:
    return unquote(urlsplit(settings.owner_dsn).username or settings.postgres_user)
