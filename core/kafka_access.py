"""Analysts' access to Kafka: SCRAM users and LITERAL read ACLs, managed at run time.

Analytics teams connect to the brokers' ANALYTICS listener (SASL/SCRAM-SHA-256) and read only
what an ACL grants their user (cli/kafka.py configures the authorizer). Every function here
talks to ``bootstrap``, pdfchat's own PLAINTEXT listener, whose clients are the super user.

aiokafka's AIOKafkaAdminClient has no methods for SCRAM credentials or ACLs. Its protocol
module has the ACL requests, and AlterUserScramCredentials (API key 51, KIP-554) is defined
below on the same protocol classes; both are sent with the client's private ``_send_request``
(aiokafka is pinned at 0.14.0, so that method cannot change under us). The broker forwards
each change to the controller; brokers apply it from the metadata log within moments.

ACLs are LITERAL, one per topic and one for the group: PREFIXED ACLs match plain string
prefixes, and tenant ids may contain ``.``, ``_`` and ``-``, so tenant ``a`` would read
tenant ``a.b``'s topics.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from core.errors import InvalidInput, PdfchatError, TransientError
from core.kafka import is_unavailable

SCRAM_MECHANISM = "SCRAM-SHA-256"
_SCRAM_TYPE = 1  # ScramMechanism.SCRAM_SHA_256 on the wire
_SCRAM_ITERATIONS = 8192  # the broker refuses fewer than 4096
_RESOURCE_NOT_FOUND = 91  # deleting a user that has no credential

# Kafka's AclResourceType, PatternType, AclOperation and AclPermissionType codes.
_ANY = 1
_TOPIC, _GROUP = 2, 3
_LITERAL = 3
_READ = 3
_ALLOW = 3
_RESOURCE_TYPES = {2: "topic", 3: "group", 4: "cluster", 5: "transactional_id"}
_OPERATIONS = {
    2: "all",
    3: "read",
    4: "write",
    5: "create",
    6: "delete",
    7: "alter",
    8: "describe",
    9: "cluster_action",
    10: "describe_configs",
    11: "alter_configs",
    12: "idempotent_write",
}


async def upsert_scram_user(bootstrap: str, user: str, password: str) -> None:
    """Create ``user`` with ``password``, or give an existing one this password."""
    _check_user(user)
    if not password:
        raise InvalidInput("an analytics user needs a password")
    salt = os.urandom(32)
    # SCRAM's Hi() is PBKDF2-HMAC; the broker derives the stored and server keys from it.
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    upsertion: tuple[object, ...] = (user, _SCRAM_TYPE, _SCRAM_ITERATIONS, salt, salted, {})
    await _alter_scram(bootstrap, f"setting the password of {user!r}", [], [upsertion])


async def delete_scram_user(bootstrap: str, user: str) -> None:
    """Remove ``user``'s credential: it can no longer connect. Nothing happens if it has none."""
    _check_user(user)
    deletion: tuple[object, ...] = (user, _SCRAM_TYPE, {})
    await _alter_scram(
        bootstrap, f"deleting user {user!r}", [deletion], [], allowed=_RESOURCE_NOT_FOUND
    )


async def grant_read(bootstrap: str, user: str, *, topics: list[str], group: str) -> None:
    """Allow ``user`` to read each of ``topics`` (exactly those names) with the consumer group
    ``group``. ACLs it already has stay as they are."""
    _check_user(user)
    what = f"granting {user!r} reads"
    resources = [(_TOPIC, topic) for topic in topics] + [(_GROUP, group)]
    async with _admin(bootstrap, what) as admin:
        for resource_type, name in resources:  # aiokafka sends one creation per request
            request = CreateAclsRequest(
                resource_type, name, _LITERAL, _principal(user), "*", _READ, _ALLOW
            )
            response = await admin._send_request(request)
            for code, message in response.creation_responses:
                _raise_for(code, message, f"{what} of {name!r}")


async def revoke_all(bootstrap: str, user: str) -> None:
    """Delete every ACL of ``user``, on any resource."""
    _check_user(user)
    what = f"revoking the ACLs of {user!r}"
    request = DeleteAclsRequest(_ANY, None, _ANY, _principal(user), None, _ANY, _ANY)
    async with _admin(bootstrap, what) as admin:
        response = await admin._send_request(request)
    for code, message, matching in response.filter_responses:
        _raise_for(code, message, what)
        for acl_code, acl_message, *_ in matching:
            _raise_for(acl_code, acl_message, what)


async def acls_of(bootstrap: str, user: str) -> list[tuple[str, str, str]]:
    """``user``'s ACLs as (resource type, resource name, operation), e.g. ("topic",
    "pdfchat.tenant.acme.documents.status.v1", "read"), sorted."""
    _check_user(user)
    what = f"listing the ACLs of {user!r}"
    request = DescribeAclsRequest(_ANY, None, _ANY, _principal(user), None, _ANY, _ANY)
    async with _admin(bootstrap, what) as admin:
        response = await admin._send_request(request)
    _raise_for(response.error_code, response.error_message, what)
    return sorted(
        (
            _RESOURCE_TYPES.get(resource_type, str(resource_type)),
            name,
            _OPERATIONS.get(operation, str(operation)),
        )
        for resource_type, name, _pattern, acls in response.resources
        for _principal_, _host, operation, _permission in acls
    )


def _principal(user: str) -> str:
    return f"User:{user}"


def _check_user(user: str) -> None:
    if not user:
        raise InvalidInput("an analytics user needs a name")


@asynccontextmanager
async def _admin(bootstrap: str, what: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed on the way out; Kafka's errors become pdfchat's."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        yield admin
    except KafkaError as exc:
        error = TransientError if is_unavailable(exc) else PdfchatError
        raise error(f"{what}: Kafka at {bootstrap} failed: {exc}", code="kafka_access") from exc
    finally:
        await admin.close()


def _raise_for(code: int, message: str | None, what: str, *, allowed: int | None = None) -> None:
    if code == 0 or code == allowed:
        return
    kind = for_code(code)
    error = TransientError if kind.retriable else PdfchatError
    name = kind.__name__ if kind.errno == code else f"error {code}"
    raise error(f"{what}: Kafka refused: {name}: {message}", code="kafka_access")


async def _alter_scram(
    bootstrap: str,
    what: str,
    deletions: list[tuple[object, ...]],
    upsertions: list[tuple[object, ...]],
    *,
    allowed: int | None = None,
) -> None:
    async with _admin(bootstrap, what) as admin:
        request = _AlterUserScramCredentialsRequest(deletions, upsertions)
        response = await admin._send_request(request)
    for _user, code, message, _tags in response.results:
        _raise_for(code, message, what, allowed=allowed)


class _AlterUserScramCredentialsResponse_v0(Response):  # type: ignore[misc]  # aiokafka: Any
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsRequest_v0(RequestStruct):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsRequest(
    Request[_AlterUserScramCredentialsRequest_v0]  # type: ignore[misc]
):
    API_KEY = 51

    def __init__(
        self, deletions: list[tuple[object, ...]], upsertions: list[tuple[object, ...]]
    ) -> None:
        self.deletions, self.upsertions = deletions, upsertions

    def build(
        self, request_struct_class: type[_AlterUserScramCredentialsRequest_v0]
    ) -> _AlterUserScramCredentialsRequest_v0:
        return request_struct_class(self.deletions, self.upsertions, {})
