"""The audit trail on the real stack: an act through the API reaches GET /v1/audit through the
outbox, the topic and the audit agent, with its actor and request id; `pdfchat audit verify`
finds the chain intact, then finds the event an intruder changed in the database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

import pdfgen
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

PDFCHAT = str(Path(sys.executable).with_name("pdfchat"))
TIMEOUT_S = 60


def _pdfchat(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.to_env() | {"COLUMNS": "200"}
    return subprocess.run([PDFCHAT, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_deletes_are_on_the_trail_with_who_and_which_request(settings, token, tenant, db):
    admin = {"Authorization": f"Bearer {token(tenant, user='alice')}"}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=admin) as http:
        files = {"file": ("gone.pdf", pdfgen.sample_pdf(1, seed=71), "application/pdf")}
        document_id = (await http.post("/v1/documents", files=files)).json()["document_id"]
        deleted = await http.delete(
            f"/v1/documents/{document_id}", headers={"X-Request-ID": "delete-audit-1"}
        )
        assert deleted.status_code == 200
        asked = (await http.post("/v1/chat", json={"question": "anything?"})).json()
        gone = await http.delete(f"/v1/conversations/{asked['conversation_id']}")
        assert gone.status_code == 200

        async def both_recorded() -> bool:
            events = (await http.get("/v1/audit")).json()["events"]
            return len(events) >= 2

        await wait_until(both_recorded, within_s=TIMEOUT_S)
        events = (await http.get("/v1/audit")).json()["events"]
        by_action = (await http.get("/v1/audit", params={"action": "document.deleted"})).json()
        nobody = (await http.get("/v1/audit", params={"actor": "mallory"})).json()
        later = (await http.get("/v1/audit", params={"since": "2999-01-01T00:00:00Z"})).json()
        bad = await http.get("/v1/audit", params={"since": "yesterday"})

    assert [(e["seq"], e["actor"], e["action"]) for e in events] == [
        (1, "alice", "document.deleted"),
        (2, "alice", "conversation.deleted"),
    ]
    assert events[0]["target"] == document_id and events[0]["request_id"] == "delete-audit-1"
    assert events[0]["detail"] == {"filename": "gone.pdf", "uploaded_by": "alice"}
    assert events[1]["target"] == asked["conversation_id"]
    assert [e["seq"] for e in by_action["events"]] == [1]
    assert nobody["events"] == [] and later["events"] == []
    assert bad.status_code == 400

    intact = _pdfchat(settings, "audit", "verify", "--tenant", tenant)
    assert intact.returncode == 0 and "2 events, intact" in intact.stdout, intact.stdout
    await db.execute("UPDATE audit_log SET actor = 'bob' WHERE tenant_id = $1 AND seq = 1", tenant)
    broken = _pdfchat(settings, "audit", "verify", "--tenant", tenant)
    assert broken.returncode == 1
    assert "event 1 (document.deleted) was changed" in broken.stdout


async def test_another_tenants_trail_is_not_shown(settings, token, tenant):
    other = f"{tenant}-{uuid.uuid4().hex[:4]}"
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        shown = await http.get("/v1/audit", headers={"Authorization": f"Bearer {token(other)}"})
    assert shown.status_code == 200 and shown.json()["events"] == []
