"""Roles → actions (web/auth.py, docs/api.md#roles), checked on every route and the socket with
the real app over PostgreSQL: each role may do exactly what the table says."""

from __future__ import annotations

import uuid

import pytest

import pdfgen
from core.tokens import ROLES, mint
from tests.web.files import pdf_file
from web.auth import PERMISSIONS
from workflows import chat

DOCUMENT = pdfgen.sample_pdf(1, seed=9)


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def as_role(postgres_settings):
    def headers(tenant: str, role: str, user: str = "tester") -> dict[str, str]:
        token = mint(postgres_settings, tenant=tenant, user=user, roles=[role])
        return {"Authorization": f"Bearer {token}"}

    return headers


# Each route with what it needs, and the statuses of allowed and refused callers.
ROUTES = [
    ("GET", "/v1/documents", "documents:read", 200),
    ("POST", "/v1/search", "search", 200),
    ("POST", "/v1/chat", "chat:ask", 202),
    ("GET", "/v1/conversations", "chat:ask", 200),
    ("POST", "/v1/documents", "documents:upload", 202),
    ("GET", "/v1/usage", "usage:read", 200),
    ("GET", "/v1/analytics", "topics:read", 200),
    ("GET", "/v1/flags", "flags:read", 200),
    ("GET", "/v1/audit", "audit:read", 200),
]


def test_the_table_is_the_issues():
    assert set(PERMISSIONS) == set(ROLES)
    viewer = {"documents:read", "search", "chat:ask"}
    editor = viewer | {"documents:upload", "documents:delete_own"}
    admin = editor | {"documents:delete_any", "usage:read", "flags:read", "flags:write"}
    admin |= {"audit:read"}
    assert {
        "viewer": viewer,
        "editor": editor,
        "admin": admin,
        "analyst": {"usage:read", "topics:read"},
    } == PERMISSIONS


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "action", "allowed"), ROUTES)
async def test_every_route_lets_in_exactly_the_roles_allowed(
    app, as_role, tenant, role, method, path, action, allowed
):
    if path == "/v1/flags" and "flags" not in {b.name for b in app.blueprints.values()}:
        pytest.skip("no flags API in this build")
    body = {
        "/v1/search": {"json": {"query": "ledger"}},
        "/v1/chat": {"json": {"question": "What is recorded?"}},
        "/v1/documents": {"files": {"file": pdf_file(DOCUMENT)}} if method == "POST" else {},
    }.get(path, {})
    response = await app.test_client().open(
        path, method=method, headers=as_role(tenant, role), **body
    )
    if action in PERMISSIONS[role]:
        assert response.status_code == allowed, await response.get_data(as_text=True)
    else:
        assert response.status_code == 403
        error = (await response.get_json())["error"]
        assert error["code"] == "forbidden" and action in error["message"]


async def test_an_editor_deletes_its_own_documents_and_an_admin_anyones(app, as_role, tenant, pg):
    client = app.test_client()

    async def upload(user: str) -> str:
        response = await client.post(
            "/v1/documents",
            files={"file": pdf_file(DOCUMENT)},
            headers=as_role(tenant, "editor", user),
        )
        assert response.status_code == 202
        return (await response.get_json())["document_id"]

    mine, theirs, third = await upload("ed"), await upload("other"), await upload("other")

    async def delete(document_id: str, role: str, user: str = "ed", of: str = tenant) -> int:
        response = await client.delete(
            f"/v1/documents/{document_id}", headers=as_role(of, role, user)
        )
        return response.status_code

    assert await delete(theirs, "editor") == 403
    assert await delete(theirs, "viewer") == 403
    assert await delete(theirs, "analyst") == 403
    assert await pg.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant) == 3
    # Another tenant's admin does not find it: nothing tells it exists.
    assert await delete(theirs, "admin", "boss", of=f"{tenant}-x") == 404
    assert await delete(str(uuid.uuid4()), "editor") == 404
    assert await delete(mine, "editor") == 200
    assert await delete(theirs, "admin", "boss") == 200
    assert await delete(third, "admin", "boss") == 200
    assert await pg.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant) == 0


@pytest.mark.parametrize("role", ROLES)
async def test_the_answer_socket_needs_chat(app, as_role, tenant, pg, role):
    started = await chat.start(
        pg, chat.Question(tenant_id=tenant, user_id="tester", question="anything?")
    )
    path = f"/v1/chat/stream/{started.session_id}"
    if "chat:ask" in PERMISSIONS[role]:
        return  # streaming itself: tests/web/test_streams.py and tests/stack/test_sockets.py
    async with app.test_client().websocket(path, headers=as_role(tenant, role)) as socket:
        message = await socket.receive_json()
        assert (message["type"], message["code"]) == ("error", "forbidden")
