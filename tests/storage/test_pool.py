"""Pooled connections are handed back without asyncpg's reset query (storage/db.py), which is
safe only while no code leaves session state on them. This keeps it so."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [
    p for d in ("storage", "workflows", "agents", "web", "core") for p in (ROOT / d).rglob("*.py")
]
# Session state a pooled connection would carry to its next user.
SESSION_STATE = re.compile(
    r"""["'](\s*SET\s+(?!LOCAL\b)|\s*LISTEN\b|\s*DECLARE\b|\s*PREPARE\b)""",
    re.IGNORECASE,
)
# Session-level advisory locks: only where the lock's connection is its own or is unlocked in
# a finally (the leaders, the migration, the index build).
SESSION_LOCKS = {"storage/leadership.py", "storage/db.py", "storage/embeddings.py"}


def test_no_sql_leaves_session_state_on_a_pooled_connection():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in CODE
        for match in SESSION_STATE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use SET LOCAL inside a transaction, or a connection of its own"


def test_session_advisory_locks_are_taken_only_where_they_are_released():
    taking = {
        str(path.relative_to(ROOT))
        for path in CODE
        if re.search(r"pg_(try_)?advisory_lock\(", path.read_text(encoding="utf-8"))
    }
    assert taking <= SESSION_LOCKS, taking - SESSION_LOCKS


async def test_a_transaction_left_open_is_rolled_back_on_release(pg):
    async with pg.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("SET LOCAL statement_timeout = 1234")
    async with pg.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SHOW statement_timeout") != "1234ms"
