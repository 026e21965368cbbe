"""The database roles (storage/roles.py) on the real PostgreSQL: every table has an entry,
the grants are exactly the map's, and each role is refused what its tier must not do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from pydantic import SecretStr

import storage
from config import Settings
from config.settings import LOGIN_ROLES, LoginRole
from storage import migrate_database, roles, search, segments
from storage.segments import NewSegment
from tests.rows import new_document

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
Connect = Callable[[LoginRole], Awaitable[asyncpg.Connection]]


@pytest.fixture
async def as_role(postgres_settings: Settings, pg: asyncpg.Pool) -> AsyncIterator[Connect]:
    """``await as_role("web")``: a connection as that role, as its processes connect."""
    opened: list[asyncpg.Connection] = []

    async def connect(role: LoginRole) -> asyncpg.Connection:
        conn = await storage.connect(postgres_settings.role_dsn(role))
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        await conn.close()


async def test_every_table_and_function_has_an_entry(pg: asyncpg.Pool) -> None:
    # A new migration's table or function must say who may use it: storage/roles.py.
    tables = await roles.schema_tables(pg)
    assert sorted(set(tables) - set(roles.TABLES)) == [], "tables without an entry"
    assert sorted(set(roles.TABLES) - set(tables)) == [], "entries without a table"
    functions = await roles.schema_functions(pg)
    assert sorted(set(functions) - set(roles.FUNCTIONS)) == [], "functions without an entry"
    assert sorted(set(roles.FUNCTIONS) - set(functions)) == [], "entries without a function"


async def test_each_role_holds_exactly_the_privileges_of_the_map(
    pg: asyncpg.Pool, postgres_settings: Settings
) -> None:
    for table, grants in roles.TABLES.items():
        for role in LOGIN_ROLES:
            name = postgres_settings.database_role_name(role)
            held = {
                p
                for p in PRIVILEGES
                if await pg.fetchval("SELECT has_table_privilege($1, $2, $3)", name, table, p)
            }
            owns = role == "worker" and table in roles.WORKER_OWNED
            assert held == (set(PRIVILEGES) if owns else set(grants[role])), (table, role)
    for function, allowed in roles.FUNCTIONS.items():
        for role in LOGIN_ROLES:
            name = postgres_settings.database_role_name(role)
            may = await pg.fetchval(
                "SELECT has_function_privilege($1, $2, 'EXECUTE')", name, function
            )
            assert may == (role in allowed), (function, role)


async def test_migrating_again_changes_nothing_and_undoes_a_stray_grant(
    pg: asyncpg.Pool, postgres_settings: Settings
) -> None:
    acl = "SELECT relname, relacl::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    before = sorted(await pg.fetch(acl))
    web = postgres_settings.database_role_name("web")
    await pg.execute(f'GRANT DELETE, UPDATE ON audit_log TO "{web}"')
    await pg.execute(f"GRANT EXECUTE ON FUNCTION {next(iter(roles.FUNCTIONS))} TO PUBLIC")
    await migrate_database(postgres_settings)
    assert sorted(await pg.fetch(acl)) == before


async def test_web_reads_the_audit_trail_and_cannot_write_it_or_drop_tables(as_role) -> None:
    web = await as_role("web")
    await web.fetch("SELECT * FROM audit_log LIMIT 1")
    for statement in (
        "INSERT INTO audit_log (tenant_id, seq, audit_id, at, actor, action, target,"
        " prev_hash, hash) VALUES ('t', 1, gen_random_uuid(), now(), 'a', 'b', 'c', 'd', 'e')",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "DROP TABLE documents",
        "TRUNCATE outbox",
        "ALTER TABLE documents ADD COLUMN x int",
        "CREATE TABLE mine (x int)",
        "SELECT * FROM audit_archives",
        "INSERT INTO workers (id, role, agents, pid, started_at)"
        " VALUES ('w', 'all', '{}', 1, now())",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await web.execute(statement)


async def test_web_takes_rate_limit_tokens_and_the_worker_may_not(as_role) -> None:
    key = f"test:{uuid.uuid4()}"
    take = "SELECT take_token(ARRAY[$1], ARRAY[5.0]::float8[], ARRAY[1.0]::float8[])"
    assert await (await as_role("web")).fetchval(take, key) == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await (await as_role("worker")).fetchval(take, key)


async def test_analytics_reads_usage_and_writes_nothing(as_role) -> None:
    analytics = await as_role("analytics")
    await analytics.fetch("SELECT tenant_id, sum(cost_usd) FROM usage_ledger GROUP BY 1")
    for table, grants in roles.TABLES.items():
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analytics.execute(f"INSERT INTO {table} DEFAULT VALUES")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analytics.execute(f"DELETE FROM {table}")
        if "SELECT" not in grants["analytics"]:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await analytics.execute(f"SELECT FROM {table} LIMIT 1")


async def test_the_worker_indexes_vectors_and_alters_nothing_else(as_role) -> None:
    worker = await as_role("worker")
    await worker.execute(
        "CREATE INDEX CONCURRENTLY test_vectors_by_doc ON segment_embeddings (doc_id)"
    )
    await worker.execute("DROP INDEX CONCURRENTLY test_vectors_by_doc")
    for statement in (
        "ALTER TABLE documents ADD COLUMN x int",
        "CREATE INDEX ON documents (title)",
        "DROP TABLE segments",
        "TRUNCATE documents",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "DELETE FROM documents",
        "INSERT INTO rollouts (id) VALUES (gen_random_uuid())",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker.execute(statement)


async def test_migrating_refuses_what_the_worker_planted_in_the_schema(
    as_role, pg: asyncpg.Pool, postgres_settings: Settings
) -> None:
    # The vectors role may create in the schema (for its indexes): a function there could
    # take the place of one a migration calls, and run as the owner.
    worker = await as_role("worker")
    await worker.execute("CREATE FUNCTION planted(int) RETURNS int LANGUAGE sql AS 'SELECT 1'")
    try:
        with pytest.raises(RuntimeError, match=r"own function planted\(integer\)"):
            await migrate_database(postgres_settings)
    finally:
        await pg.execute("DROP FUNCTION planted(int)")
    await migrate_database(postgres_settings)


async def test_an_owner_that_may_not_create_roles_is_told_what_a_dba_must_run(
    pg: asyncpg.Pool, postgres_settings: Settings
) -> None:
    owner = f"owner_{uuid.uuid4().hex[:8]}"
    await pg.execute(f'CREATE ROLE "{owner}" LOGIN')
    elsewhere = postgres_settings.model_copy(update={"database_role_prefix": "elsewhere"})
    conn = await storage.connect(elsewhere.role_dsn("owner").replace("postgres@", f"{owner}@"))
    try:
        with pytest.raises(roles.RolesMissing, match="role elsewhere_analytics"):
            await roles.apply(conn, elsewhere)
    finally:
        await conn.close()
        await pg.execute(f'DROP ROLE "{owner}"')
    script = roles.roles_script(elsewhere, owner)
    assert 'CREATE ROLE "elsewhere_web" LOGIN' in script
    assert f'GRANT "elsewhere_vectors" TO "{owner}"' in script


async def test_passwords_from_the_settings_reach_the_roles_as_scram_verifiers(
    pg: asyncpg.Pool, postgres_settings: Settings
) -> None:
    with_password = postgres_settings.model_copy(
        update={"analytics_database_password": SecretStr("s3cret")}
    )
    try:
        await migrate_database(with_password)
        stored = await pg.fetchval(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            with_password.database_role_name("analytics"),
        )
        assert stored.startswith("SCRAM-SHA-256$4096:") and "s3cret" not in stored
    finally:
        await pg.execute(
            f'ALTER ROLE "{with_password.database_role_name("analytics")}" PASSWORD NULL'
        )


def test_each_role_connects_to_the_owners_server_with_its_own_name_and_password() -> None:
    settings = Settings(
        database_url="postgresql://admin:owner-pw@db.example:6432/pdfchat?sslmode=require",
        database_role="web",
        web_database_password=SecretStr("p@ss/word"),
        database_role_prefix="staging",
    )
    assert settings.dsn == (
        "postgresql://staging_web:p%40ss%2Fword@db.example:6432/pdfchat?sslmode=require"
    )
    assert (
        settings.role_dsn("worker")
        == "postgresql://staging_worker@db.example:6432/pdfchat?sslmode=require"
    )
    assert settings.owner_dsn == settings.database_url


async def test_the_worker_writes_postings_and_both_tiers_search_them(
    as_role, pg: asyncpg.Pool
) -> None:
    """The embed step writes the document's postings as the worker (index_postings runs as
    its caller); web and worker both rank full text from them."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await new_document(pg, tenant)
    worker = await as_role("worker")
    async with worker.transaction():
        await segments.replace_for_document(
            worker, tenant, doc_id, [NewSegment(0, 1, "Aardvarks dig burrows at night.")]
        )
    await segments.index_postings(worker, tenant, doc_id)
    for role in ("web", "worker"):
        hits = await search.full_text(await as_role(role), tenant, query="aardvark", limit=5)
        assert [h.document_id for h in hits] == [doc_id]
