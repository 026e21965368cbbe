"""Every route of API v1, called with another tenant's token (an admin of it), after the owner
made a document, a conversation, an answer session and a flag of its own: nothing of the
owner's is returned, named or changed. The routes are read from the app itself, so a route
added later is swept without being listed here."""

from __future__ import annotations

import uuid
from typing import Any

import pdfgen
from core.tokens import mint
from tests.web.files import pdf_file
from workflows import chat
from workflows.flags import Setting, set_flag

# Not API v1 or not the tenant's: the page, its assets, health, and the development login.
OUTSIDE = ("/static/", "/assets/", "/healthz", "/readyz", "/metrics", "/v1/dev/")


def _headers(settings, tenant: str) -> dict[str, str]:
    token = mint(settings, tenant=tenant, user="tester", roles=["admin", "analyst"])
    return {"Authorization": f"Bearer {token}"}


async def test_another_tenant_reaches_nothing_of_the_owners_on_any_route(
    app, postgres_settings, pg
):
    owner, other = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    client = app.test_client()
    uploaded = await client.post(
        "/v1/documents",
        files={"file": pdf_file(pdfgen.sample_pdf(1, seed=5), "owners-secret.pdf")},
        headers=_headers(postgres_settings, owner),
    )
    document_id = (await uploaded.get_json())["document_id"]
    asked = await chat.start(
        pg, chat.Question(tenant_id=owner, user_id="tester", question="owners question?")
    )
    await set_flag(pg, Setting(owner, "chat", "owners-flag", True, 100, 7), actor="tester")
    values = {
        "document_id": document_id,
        "conversation_id": str(asked.conversation_id),
        "session_id": str(asked.session_id),
        "number": "1",
        "service": "chat",
        "name": "owners-flag",
    }
    secrets = [owner, document_id, str(asked.conversation_id), str(asked.session_id)]
    secrets += ["owners-secret", "owners question"]

    # Ids nobody has: the owner's must get exactly the answer these get.
    unknown = values | {
        key: str(uuid.uuid4()) for key in ("document_id", "conversation_id", "session_id")
    }
    swept = []
    for rule in app.url_map.iter_rules():
        if rule.websocket or rule.rule == "/" or rule.rule.startswith(OUTSIDE):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            sent = _path(rule.rule, values)
            status, text = await _call(client, postgres_settings, method, sent, other)
            swept.append(f"{method} {rule.rule}")
            assert status < 500, (method, rule.rule, text)
            # An id the caller sent may come back in an error: not a disclosure.
            assert not [s for s in secrets if s in text and s not in sent], (method, sent, text)
            if "_id>" in rule.rule:
                nobodys = await _call(
                    client, postgres_settings, method, _path(rule.rule, unknown), other
                )
                for key in ("document_id", "conversation_id", "session_id"):
                    text = text.replace(values[key], unknown[key])
                assert (status, text) == nobodys, (method, rule.rule)
                assert status == 404, (method, rule.rule, status)
    assert len(swept) >= 19  # every route of API v1 but the socket, each of its methods

    async with client.websocket(
        f"/v1/chat/stream/{asked.session_id}", headers=_headers(postgres_settings, other)
    ) as socket:
        refused = await socket.receive_json()
    assert (refused["type"], refused["code"]) == ("error", "unknown_session")

    # The owner's things are all still there, as they were.
    mine = _headers(postgres_settings, owner)
    assert (await client.get(f"/v1/documents/{document_id}", headers=mine)).status_code == 200
    conversation = await client.get(f"/v1/conversations/{asked.conversation_id}", headers=mine)
    assert conversation.status_code == 200
    flag = await pg.fetchrow(
        "SELECT value FROM flags WHERE tenant_id = $1 AND name = 'owners-flag'", owner
    )
    assert flag["value"] == 7


async def _call(client, settings, method: str, path: str, tenant: str) -> tuple[int, str]:
    headers = _headers(settings, tenant)
    response = await client.open(path, method=method, headers=headers, **_body(path))
    return response.status_code, await response.get_data(as_text=True)


def _path(rule: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        for converter in ("", "uuid:", "int:"):
            rule = rule.replace(f"<{converter}{name}>", value)
    return rule


def _body(path: str) -> dict[str, Any]:
    """What each writing route needs to get past its checks of the body."""
    if path == "/v1/documents":
        return {"files": {"file": pdf_file(pdfgen.sample_pdf(1, seed=6))}}
    if path == "/v1/search":
        return {"json": {"query": "ledger deliveries"}}
    if path == "/v1/chat":
        return {"json": {"question": "anything?"}}
    if path.endswith("/feedback"):
        return {"json": {"rating": "down"}}
    if path.startswith("/v1/flags/"):
        return {"json": {"enabled": False, "rollout_percent": 0}}
    return {}
