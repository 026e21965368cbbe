"""Telling "the database is unreachable" apart from every other failure.

Agents hold an event back and try again while Postgres is down or restarting, instead of
failing the document; anything else is a real failure of that one event.
"""

from __future__ import annotations

import errno

import asyncpg

# Classes 08 (connection exception) and 57 (operator intervention: shutdown, crash recovery,
# "the database system is starting up"), and asyncpg's own "connection was closed".
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)

_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means Postgres could not be reached, not that a query was wrong."""
    if isinstance(exc, (*_UNAVAILABLE, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError):  # not a missing file or a full disk: a network failure
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    # asyncpg raises InterfaceError("connection is closed") on a connection lost mid-use.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
