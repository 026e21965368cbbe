"""Telling "the database is unreachable" apart from every other failure.

Agents hold an event back and try again while Postgres is down or restarting, instead of
failing the document; anything else is a real failure of that one event.
"""

from __future__ import annotations

import errno

import asyncpg

# Classes 08 (connection exception) and 57 (operator intervention: shutdown, crash recovery,
# "the database system is starting up"), and asyncpg's own "connection was closed". Also
# class 40 (transaction rollback: a deadlock, a serialization failure): PostgreSQL rolled the
# transaction back and says to run it again, so the event is held and tried again like an
# outage, never failed (the chaos test once failed a document on a deadlock).
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.TransactionRollbackError,
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


def rolled_back(exc: BaseException) -> bool:
    """PostgreSQL rolled the transaction back (a deadlock, a serialization failure) and says to
    run it again: a request may, at once, instead of answering 503."""
    return isinstance(exc, asyncpg.TransactionRollbackError)
