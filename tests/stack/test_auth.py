"""Bearer JWT on every call, roles, and tenant isolation."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

import pdfgen
from cli.client import ApiError
from core.tokens import mint

pytestmark = pytest.mark.stack


async def _get(settings, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        return await http.get(path, headers=headers)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwdw==", "Bearer not.a.jwt", "Bearer a.b.c"],
)
async def test_requests_without_a_valid_token_are_refused(settings, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await _get(settings, "/v1/documents", headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_tokens_signed_by_another_key_expired_or_for_another_audience(settings, tenant):
    now = int(time.time())
    good = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "u",
        "tenant": tenant,
        "roles": ["admin"],
        "iat": now,
        "exp": now + 60,
    }
    stranger = ECKey.generate_key("P-256")
    forged = jwt.encode({"alg": "ES256"}, good, stranger)
    expired = mint(settings, tenant=tenant, user="u", roles=["admin"], ttl_s=-120)
    own_key = ECKey.import_key(settings.signing_key_path.read_bytes())
    wrong_aud = jwt.encode({"alg": "ES256"}, good | {"aud": "someone-else"}, own_key)
    no_tenant = jwt.encode(
        {"alg": "ES256"}, {k: v for k, v in good.items() if k != "tenant"}, own_key
    )
    for token in (forged, expired, wrong_aud, no_tenant):
        response = await _get(settings, "/v1/documents", {"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
    fine = jwt.encode({"alg": "ES256"}, good, own_key)
    response = await _get(settings, "/v1/documents", {"Authorization": f"Bearer {fine}"})
    assert response.status_code == 200


async def test_viewer_may_read_but_not_write(api, tenant):
    viewer = api(tenant, roles=["viewer"])
    assert await viewer.documents() == []
    with pytest.raises(ApiError) as caught:
        await viewer.upload(pdfgen.sample_pdf(1), "a.pdf")
    assert caught.value.status == 403
    document_id = (await api(tenant).upload(pdfgen.sample_pdf(1), "a.pdf"))["document_id"]
    assert (await viewer.document(document_id))["document_id"] == document_id
    with pytest.raises(ApiError) as caught:
        await viewer.delete(document_id)
    assert caught.value.status == 403


async def test_a_tenant_never_sees_another_tenants_documents(api, tenant, db):
    owner, other = api(tenant), api(f"{tenant}-b")
    document_id = (await owner.upload(pdfgen.sample_pdf(2, seed=31), "a.pdf"))["document_id"]
    async with asyncio.timeout(90):
        await owner.wait_for([document_id])

    assert await other.documents() == []
    for call in (other.document, other.delete):
        with pytest.raises(ApiError) as caught:
            await call(document_id)
        assert caught.value.status == 404  # not 403: existence is not disclosed
    assert (await owner.document(document_id))["status"] == "ready"

    # Every row of the document carries the owner's tenant.
    for table in ("documents", "tasks", "document_events", "segments"):
        tenants = await db.fetch(
            f"SELECT DISTINCT tenant_id FROM {table} WHERE tenant_id LIKE $1", f"{tenant}%"
        )
        assert {r["tenant_id"] for r in tenants} == {tenant}, table
