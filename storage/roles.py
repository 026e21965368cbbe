"""Least-privilege database roles: who may do what to each table, in one place.

Migrations run as the owner (the connection of ``Settings.owner_dsn``), which owns every
table. Processes connect as one of three login roles, ``<prefix>_web``, ``<prefix>_worker``
and ``<prefix>_analytics`` (read-only, for analysts' tools), each granted exactly what
:data:`TABLES` and :data:`FUNCTIONS` say, read from the SQL each tier runs (web/ and the
workflows it calls; agents/ and theirs: every agent runs in the worker processes, whatever
their ``worker_role``, and the maintenance leader may be any of them, so one worker role).

One exception, :data:`WORKER_OWNED`: the worker builds and drops the per-model HNSW indexes
of ``segment_embeddings`` at run time (storage/embeddings.py) with CREATE/DROP INDEX
CONCURRENTLY, which needs ownership of the table and CREATE on its schema, and cannot run
inside a function (so no SECURITY DEFINER wrapper). That table is owned by the NOLOGIN role
``<prefix>_vectors``, of which the worker is a member, and that role may create in the
schema. The cost: the worker may also alter, truncate or drop that table (derived data:
re-embedding rebuilds it from ``segments``) and create objects in the schema, which
:func:`check_nothing_planted` refuses to migrate over (a function or operator planted there
could run as whoever migrates). docs/runbook.md, "Database roles", has the table and the
trade-off.

:func:`apply` (run by ``migrate_database``) creates the roles when the owner may, and makes
their grants match these maps exactly; :func:`roles_script` is the part a DBA runs once
where the owner may not create roles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from typing import Literal

import asyncpg

from config import Settings
from config.settings import LOGIN_ROLES, LoginRole
from storage.embeddings import sql_literal

log = logging.getLogger("pdfchat.storage")

Privilege = Literal["SELECT", "INSERT", "UPDATE", "DELETE"]
Grants = Mapping[LoginRole, frozenset[Privilege]]

READ: frozenset[Privilege] = frozenset({"SELECT"})
# Reading is part of most writes: WHERE and RETURNING read columns, ON CONFLICT DO UPDATE
# needs UPDATE, SELECT ... FOR UPDATE needs UPDATE.
APPEND: frozenset[Privilege] = frozenset({"SELECT", "INSERT"})
UPSERT: frozenset[Privilege] = frozenset({"SELECT", "INSERT", "UPDATE"})
CHANGE: frozenset[Privilege] = frozenset({"SELECT", "UPDATE"})
ALL: frozenset[Privilege] = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def _grants(
    *,
    web: frozenset[Privilege] = frozenset(),
    worker: frozenset[Privilege] = frozenset(),
    analytics: frozenset[Privilege] = frozenset(),
) -> Grants:
    return {"web": web, "worker": worker, "analytics": analytics}


# Every table of the schema, and each role's privileges on it. A new table needs an entry
# (tests/storage/test_roles.py fails without one); a role left out gets nothing. Deletes that
# cascade (a document's segments, a conversation's messages) run as the owner of the table
# they reach, so they need no grant. Sequences follow their table: a role that may INSERT
# uses its serial. Analysts read counts, timings, costs and feedback, never document text,
# questions, answers, secrets or the audit trail.
TABLES: Mapping[str, Grants] = {
    # Owner only: the migrations' own bookkeeping.
    "schema_migrations": _grants(),
    # Web uploads and deletes; workers move documents through their states.
    "documents": _grants(
        web=frozenset({"SELECT", "INSERT", "DELETE"}), worker=CHANGE, analytics=READ
    ),
    "tasks": _grants(web=APPEND, worker=UPSERT, analytics=READ),
    "document_events": _grants(web=APPEND, worker=APPEND, analytics=READ),
    "segments": _grants(web=READ, worker=ALL),
    # Full text's postings (words of the documents, so not for analysts): both tiers search.
    "document_lexicons": _grants(web=READ, worker=ALL),
    "postings": _grants(web=READ, worker=ALL),
    "outbox": _grants(web=APPEND, worker=ALL),
    "embedding_models": _grants(worker=ALL, analytics=READ),
    # Worker: as a member of its owner (WORKER_OWNED); web searches it.
    "segment_embeddings": _grants(web=READ),
    "segment_encodings": _grants(web=READ, worker=ALL),
    # Web reads the sweep's requests, and what it finished, for the gauge of documents the
    # sweep gave up on (workflows/gauges.py).
    "encoding_requests": _grants(web=READ, worker=ALL),
    "encoded_documents": _grants(web=READ, worker=ALL),
    "document_topic_maps": _grants(web=READ, worker=UPSERT),
    "topic_map_requests": _grants(web=READ, worker=ALL),
    "conversations": _grants(web=ALL, worker=CHANGE),
    "messages": _grants(web=APPEND, worker=APPEND),
    "chat_sessions": _grants(web=APPEND, worker=CHANGE),
    "usage_ledger": _grants(web=READ, worker=APPEND, analytics=READ),
    "workers": _grants(web=READ, worker=ALL, analytics=READ),
    # Granted and revoked by the operator (`pdfchat analytics`, as the owner); the relay reads.
    "analytics_grants": _grants(web=READ, worker=READ),
    # Web takes tokens (take_token, as the caller); the maintenance leader drops idle buckets.
    "rate_buckets": _grants(web=UPSERT, worker=frozenset({"SELECT", "DELETE"})),
    # Web (admins) and the rollout leader change flags.
    "flags": _grants(web=UPSERT, worker=UPSERT, analytics=READ),
    # The audit agent appends; nobody changes or removes an event.
    "audit_log": _grants(web=READ, worker=APPEND),
    "audit_archives": _grants(worker=APPEND),
    # Started and aborted by the operator (`pdfchat rollout`, as the owner); the leader moves.
    "rollouts": _grants(worker=CHANGE, analytics=READ),
    "experiment_samples": _grants(web=READ, worker=APPEND, analytics=READ),
    # A vote updates its step's results at once (workflows.rollouts.record_feedback).
    "experiment_results": _grants(web=UPSERT, worker=UPSERT, analytics=READ),
    "answer_feedback": _grants(web=UPSERT, worker=READ, analytics=READ),
}

# Tables owned by the NOLOGIN vectors role (see the module's docstring), not by the owner.
WORKER_OWNED = frozenset({"segment_embeddings"})

# Functions of the schema (not an extension's) by signature, and who may EXECUTE them; the
# PUBLIC default is revoked.
FUNCTIONS: Mapping[str, frozenset[LoginRole]] = {
    "take_token(text[],double precision[],double precision[])": frozenset({"web"}),
    # The embed step writes a document's postings (agents/embed.py), as the worker.
    "index_postings(text,uuid)": frozenset({"worker"}),
    # A question's lexemes, as a search reads them (storage/search.py), and a segment's.
    "search_vector(text)": frozenset({"web", "worker"}),
    "cjk_bigrams(text)": frozenset({"web", "worker"}),
    "option_lexemes(text)": frozenset({"web", "worker"}),
}

SCHEMA = "public"


class RolesMissing(RuntimeError):
    """The owner may not create roles and a DBA has not created them (yet)."""


# -- the roles --------------------------------------------------------------------------------


def vectors_role(settings: Settings) -> str:
    return f"{settings.database_role_prefix}_vectors"


def login_roles(settings: Settings) -> dict[LoginRole, str]:
    return {role: settings.database_role_name(role) for role in LOGIN_ROLES}


def roles_script(settings: Settings, owner: str) -> str:
    """SQL that creates the roles and memberships, idempotently: what :func:`apply` runs, and
    what a DBA runs once where the owner ``owner`` may not create roles. No passwords: the
    DBA sets them (psql's \\password), and the processes get them from the environment."""
    vectors = _ident(vectors_role(settings))
    creates = [
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {sql_literal(name)}) THEN"
        f" CREATE ROLE {_ident(name)} {attributes}; END IF;"
        for name, attributes in [
            *((name, "LOGIN") for name in login_roles(settings).values()),
            (vectors_role(settings), "NOLOGIN"),
        ]
    ]
    worker = _ident(settings.database_role_name("worker"))
    return "\n".join(
        [
            "DO $$ BEGIN",
            *creates,
            "END $$;",
            "-- The worker indexes segment_embeddings as a member of its owner.",
            f"GRANT {vectors} TO {worker};",
            "-- The owner hands segment_embeddings to that role, and migrates it later.",
            f"GRANT {vectors} TO {_ident(owner)};",
        ]
    )


async def _ensure_roles(conn: asyncpg.Connection, settings: Settings) -> None:
    owner: str = await conn.fetchval("SELECT current_user")
    if await _may_manage_roles(conn):
        await conn.execute(roles_script(settings, owner))
        await _set_passwords(conn, settings)
        return
    missing = await _missing_memberships(conn, settings, owner)
    if missing:
        raise RolesMissing(
            f"{owner} may not create roles, and {', '.join(missing)} missing: have a DBA run"
            " the SQL of `pdfchat database roles-sql` once (docs/deploy.md, Database roles)"
        )
    if any(settings.database_password(role) for role in LOGIN_ROLES):
        log.warning("database role passwords not set: %s may not change roles", owner)


async def _may_manage_roles(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
    )


async def _missing_memberships(
    conn: asyncpg.Connection, settings: Settings, owner: str
) -> list[str]:
    """What of :func:`roles_script` is not in place, in words."""
    vectors = vectors_role(settings)
    names = [*login_roles(settings).values(), vectors]
    rows = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", names)
    missing = [f"role {name}" for name in sorted(set(names) - {r["rolname"] for r in rows})]
    for member in (settings.database_role_name("worker"), owner):
        if not missing and not await conn.fetchval(
            "SELECT pg_has_role($1, $2, 'MEMBER')", member, vectors
        ):
            missing.append(f"{member}'s membership of {vectors}")
    return missing


async def _set_passwords(conn: asyncpg.Connection, settings: Settings) -> None:
    """Each role's password from the environment, sent as a SCRAM verifier so that the
    password itself never reaches the server (nor its statement log)."""
    for role in LOGIN_ROLES:
        secret = settings.database_password(role)
        if secret is not None:
            verifier = scram_verifier(secret.get_secret_value())
            name = _ident(settings.database_role_name(role))
            await conn.execute(f"ALTER ROLE {name} PASSWORD {sql_literal(verifier)}")


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5803; what psql's
    \\password sends). Without SASLprep, which changes no printable ASCII password."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    b64 = [base64.b64encode(part).decode() for part in (salt, stored_key, server_key)]
    return f"SCRAM-SHA-256${iterations}:{b64[0]}${b64[1]}:{b64[2]}"


# -- what the worker may have planted ---------------------------------------------------------

_PLANTED = f"""
    WITH ours AS (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[])),
    own AS (SELECT c.oid FROM pg_class c WHERE c.relnamespace = '{SCHEMA}'::regnamespace
                                          AND c.relname = ANY($2::text[]))
    SELECT 'relation ' || c.relname FROM pg_class c
     WHERE c.relowner IN (SELECT oid FROM ours) AND c.relnamespace = '{SCHEMA}'::regnamespace
       AND c.relkind <> 'i' AND c.oid NOT IN (SELECT oid FROM own)
    UNION ALL
    SELECT 'index ' || c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
     WHERE c.relowner IN (SELECT oid FROM ours) AND c.relnamespace = '{SCHEMA}'::regnamespace
       AND i.indrelid NOT IN (SELECT oid FROM own)
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
     WHERE p.proowner IN (SELECT oid FROM ours)
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator FROM pg_operator o
     WHERE o.oprowner IN (SELECT oid FROM ours)
    UNION ALL
    SELECT 'type ' || t.oid::regtype FROM pg_type t
     WHERE t.typowner IN (SELECT oid FROM ours) AND t.typrelid = 0
       AND NOT EXISTS (SELECT FROM pg_class c WHERE c.reltype = t.typelem)
    ORDER BY 1
"""


async def check_nothing_planted(conn: asyncpg.Connection, settings: Settings) -> None:
    """Refuse to migrate when our roles own anything but the vectors role's tables and their
    indexes: a function or operator the worker created in the schema (its only way to own
    anything) could take the place of one a migration calls, and run as the owner."""
    ours = [*login_roles(settings).values(), vectors_role(settings)]
    rows = await conn.fetch(_PLANTED, ours, sorted(WORKER_OWNED))
    if rows:
        found = ", ".join(r[0] for r in rows)
        raise RuntimeError(
            f"the worker's roles own {found}: the worker may create in schema"
            f" {SCHEMA} only to index {', '.join(sorted(WORKER_OWNED))}. Find out how they got"
            " there and drop them before migrating (docs/runbook.md, Database roles)"
        )


# -- the grants -------------------------------------------------------------------------------


async def apply(conn: asyncpg.Connection, settings: Settings) -> None:
    """The roles, and their grants exactly as :data:`TABLES` and :data:`FUNCTIONS` say, in one
    transaction. Idempotent: grants already right are left alone."""
    async with conn.transaction():
        await _ensure_roles(conn, settings)
        await _own_vectors(conn, settings)
        await _grant_schema(conn, settings)
        await _match_tables(conn, settings)
        await _match_functions(conn, settings)


async def _own_vectors(conn: asyncpg.Connection, settings: Settings) -> None:
    vectors = vectors_role(settings)
    for table in sorted(WORKER_OWNED):
        owner = await conn.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
            SCHEMA,
            table,
        )
        if owner is not None and owner != vectors:
            await conn.execute(f"ALTER TABLE {_ident(table)} OWNER TO {_ident(vectors)}")


async def _grant_schema(conn: asyncpg.Connection, settings: Settings) -> None:
    names = ", ".join(_ident(n) for n in login_roles(settings).values())
    database = _ident(await conn.fetchval("SELECT current_database()"))
    await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {names}")
    await conn.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {names}")
    # PostgreSQL 15 and later no longer let everyone create in public; older ones do.
    await conn.execute(f"REVOKE CREATE ON SCHEMA {SCHEMA} FROM PUBLIC")
    await conn.execute(f"GRANT CREATE ON SCHEMA {SCHEMA} TO {_ident(vectors_role(settings))}")


Kind = Literal["TABLE", "SEQUENCE", "FUNCTION"]
# (kind, object, role) -> privileges
Acl = dict[tuple[Kind, str, str], set[str]]

_RELATION_GRANTS = """
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.relname,
           r.rolname, a.privilege_type
    FROM pg_class c
    CROSS JOIN LATERAL aclexplode(c.relacl) a
    JOIN pg_roles r ON r.oid = a.grantee
    WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND r.rolname = ANY($2::text[])
"""

# Each sequence owned by a column of a table (a serial), with that table.
_SEQUENCES = """
    SELECT s.relname AS sequence, t.relname AS owner
    FROM pg_class s
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'a'
    JOIN pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND s.relnamespace = $1::regnamespace
"""


async def _match_tables(conn: asyncpg.Connection, settings: Settings) -> None:
    names = login_roles(settings)
    tables = await schema_tables(conn)
    unmapped = sorted(set(tables) - set(TABLES))
    if unmapped:
        log.warning("tables with no entry in storage/roles.py, granted to nobody: %s", unmapped)
    wanted: Acl = {}
    for table in tables:
        for role, privileges in TABLES.get(table, {}).items():
            wanted[("TABLE", table, names[role])] = set(privileges)
    for row in await conn.fetch(_SEQUENCES, SCHEMA):
        for role, privileges in TABLES.get(row["owner"], {}).items():
            if "INSERT" in privileges:
                wanted[("SEQUENCE", row["sequence"], names[role])] = {"USAGE"}
    held: Acl = {}
    for row in await conn.fetch(_RELATION_GRANTS, SCHEMA, list(names.values())):
        key = (row["kind"], row["relname"], row["rolname"])
        held.setdefault(key, set()).add(row["privilege_type"])
    await _match(conn, wanted, held)


async def schema_tables(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", SCHEMA
    )
    return [r["tablename"] for r in rows]


_OWN_FUNCTIONS = """
    FROM pg_proc p
    WHERE p.pronamespace = $1::regnamespace
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
"""


async def schema_functions(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    """The schema's own functions (not an extension's), as ``name(argument types)``."""
    rows = await conn.fetch(f"SELECT p.oid::regprocedure::text {_OWN_FUNCTIONS} ORDER BY 1", SCHEMA)
    return [_signature(r[0]) for r in rows]


async def _match_functions(conn: asyncpg.Connection, settings: Settings) -> None:
    names = login_roles(settings)
    wanted: Acl = {
        ("FUNCTION", function, names[role]): {"EXECUTE"}
        for function in await schema_functions(conn)
        for role in FUNCTIONS.get(function, frozenset())
    }
    # A NULL ACL is the default, which lets PUBLIC execute: revoked like any other grant.
    rows = await conn.fetch(
        "SELECT p.oid::regprocedure::text, CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
        "       ELSE pg_get_userbyid(a.grantee) END"
        " FROM (SELECT p.* " + _OWN_FUNCTIONS + ") p"
        " CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
        " WHERE a.privilege_type = 'EXECUTE' AND (a.grantee = 0 OR"
        "       pg_get_userbyid(a.grantee) = ANY($2::text[]))",
        SCHEMA,
        list(names.values()),
    )
    held: Acl = {}
    for function, grantee in rows:
        held.setdefault(("FUNCTION", _signature(function), grantee), set()).add("EXECUTE")
    await _match(conn, wanted, held)


def _signature(regprocedure: str) -> str:
    return regprocedure.replace(", ", ",")


async def _match(conn: asyncpg.Connection, wanted: Acl, held: Acl) -> None:
    """GRANT what is wanted and not held, REVOKE what is held and not wanted."""
    for key in sorted(set(wanted) | set(held)):
        kind, name, role = key
        target = name if kind == "FUNCTION" else _ident(name)
        grantee = role if role == "PUBLIC" else _ident(role)
        want, have = wanted.get(key, set()), held.get(key, set())
        if want - have:
            privileges = ", ".join(sorted(want - have))
            await conn.execute(f"GRANT {privileges} ON {kind} {target} TO {grantee}")
        if have - want:
            privileges = ", ".join(sorted(have - want))
            await conn.execute(f"REVOKE {privileges} ON {kind} {target} FROM {grantee}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
