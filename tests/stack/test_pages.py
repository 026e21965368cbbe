"""The web page's own API: a document's page text and image, and the development sign-in."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import uuid

import httpx
import pytest

import pdfgen
from config import Settings
from storage import documents
from storage.documents import NewDocument
from web.app import create_app

pytestmark = pytest.mark.stack

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC, data[:16]
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


async def _get(
    settings: Settings, path: str, token: str | None = None, *, headers=None, **kw
) -> httpx.Response:
    headers = dict(headers or {}) | ({"Authorization": f"Bearer {token}"} if token else {})
    async with httpx.AsyncClient(base_url=settings.web_url, timeout=30) as http:
        return await http.get(path, headers=headers, **kw)


async def _ready_document(api, tenant: str, data: bytes) -> str:
    client = api(tenant)
    document_id = (await client.upload(data, "notes.pdf"))["document_id"]
    async with asyncio.timeout(90):
        seen = await client.wait_for([document_id])
    assert seen[document_id]["status"] == "ready", seen
    return document_id


async def test_page_text_and_image(settings, token, api, tenant):
    content = pdfgen.sample_document(3, seed=91)
    document_id = await _ready_document(api, tenant, pdfgen.sample_pdf(3, seed=91))
    base = f"/v1/documents/{document_id}/pages"

    response = await _get(settings, f"{base}/2", token(tenant))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["document_id"], body["page"], body["pages"]) == (document_id, 2, 3)
    fact = next(text for kind, text in content[1] if "On page 2 the ledger" in text)
    sentence = fact[fact.index("On page 2 the ledger") :]
    assert sentence in " ".join(body["paragraphs"])  # wrapped lines joined, as segments are
    assert "On page 2 the ledger" in body["text"]
    assert "On page 1 the ledger" not in body["text"]

    image = await _get(settings, f"{base}/2/image", token(tenant), params={"width": "300"})
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/png"
    assert "private" in image.headers["cache-control"]
    width, height = _png_size(image.content)
    assert width == 300 and height > width  # A4 portrait
    bigger = await _get(settings, f"{base}/2/image", token(tenant))
    assert _png_size(bigger.content)[0] == 800  # the default width
    other_page = await _get(settings, f"{base}/1/image", token(tenant), params={"width": "300"})
    assert hashlib.sha256(other_page.content).digest() != hashlib.sha256(image.content).digest()


async def test_pages_are_tenant_scoped_and_bounded(settings, token, api, tenant):
    document_id = await _ready_document(api, tenant, pdfgen.sample_pdf(2, seed=92))
    base = f"/v1/documents/{document_id}/pages"
    for who, path in (
        (f"{tenant}-other", f"{base}/1"),
        (f"{tenant}-other", f"{base}/1/image"),
        (tenant, f"/v1/documents/{uuid.uuid4()}/pages/1"),
        (tenant, f"/v1/documents/{uuid.uuid4()}/pages/1/image"),
        (tenant, f"{base}/0"),
        (tenant, f"{base}/3"),
        (tenant, f"{base}/3/image"),
    ):
        response = await _get(settings, path, token(who))
        assert response.status_code == 404, (who, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    for width in ("99", "2001", "abc", "-5", ""):
        response = await _get(settings, f"{base}/1/image", token(tenant), params={"width": width})
        assert response.status_code == 400, (width, response.text)
        assert "width must be" in response.json()["error"]["message"]
    assert (await _get(settings, f"{base}/1")).status_code == 401
    viewer = token(tenant, roles=("viewer",))
    assert (await _get(settings, f"{base}/1", viewer)).status_code == 200


async def test_pages_of_an_unparsed_or_failed_document_are_409(settings, token, api, tenant, db):
    # A queued document nobody will parse: created in the database without its queue event.
    waiting = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await documents.create(
            conn,
            NewDocument(
                id=waiting,
                task_id=uuid.uuid4(),
                tenant_id=tenant,
                filename="later.pdf",
                content_type="application/pdf",
                size_bytes=10,
                sha256="0" * 64,
                blob_key=f"{tenant}/{waiting}/original.pdf",
                created_by="tester",
            ),
        )
    for path in (f"/v1/documents/{waiting}/pages/1", f"/v1/documents/{waiting}/pages/1/image"):
        response = await _get(settings, path, token(tenant))
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "page_not_ready"
        assert "queued" in response.json()["error"]["message"]

    client = api(tenant)
    failed = (await client.upload(pdfgen.encrypted_pdf(), "locked.pdf"))["document_id"]
    async with asyncio.timeout(90):
        assert (await client.wait_for([failed]))[failed]["status"] == "failed"
    response = await _get(settings, f"/v1/documents/{failed}/pages/1", token(tenant))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_failed"
    assert "password" in response.json()["error"]["message"]


async def _post_token(settings: Settings, payload: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        return await http.post("/v1/dev/token", json=payload)


async def test_dev_token_signs_in_with_the_chosen_role(settings, tenant):
    response = await _post_token(
        settings, {"tenant_id": tenant, "user_id": "ann@example.org", "role": "viewer"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == settings.jwt_ttl_s and body["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        assert (await http.get("/v1/documents", headers=headers)).status_code == 200
        files = {"file": ("a.pdf", pdfgen.sample_pdf(1), "application/pdf")}
        refused = await http.post("/v1/documents", headers=headers, files=files)
    assert refused.status_code == 403  # a viewer may not upload


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"tenant_id": "", "user_id": "u", "role": "admin"}, "tenant_id must be"),
        ({"tenant_id": "a b", "user_id": "u", "role": "admin"}, "tenant_id must be"),
        ({"tenant_id": "x" * 64, "user_id": "u", "role": "admin"}, "tenant_id must be"),
        ({"tenant_id": "acme", "user_id": "<script>", "role": "admin"}, "user_id must be"),
        ({"tenant_id": "acme", "user_id": "u" * 65, "role": "admin"}, "user_id must be"),
        ({"tenant_id": "acme", "role": "admin"}, "user_id must be"),
        ({"tenant_id": "acme", "user_id": "u", "role": "root"}, "role must be one of"),
        ({"tenant_id": "acme", "user_id": "u", "role": "admin", "roles": ["x"]}, "roles"),
        (["acme"], "JSON object"),
    ],
)
async def test_dev_token_rejects_bad_input_in_words(settings, payload, says):
    response = await _post_token(settings, payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert says in response.json()["error"]["message"]


def test_dev_login_is_on_only_without_an_identity_provider(tmp_path):
    assert Settings(home=tmp_path).dev_login_enabled
    assert not Settings(home=tmp_path, dev_login=False).dev_login_enabled
    assert not Settings(home=tmp_path, oidc_issuer="https://id.example.org").dev_login_enabled
    assert not Settings(
        home=tmp_path, oidc_issuer="https://id.example.org", dev_login=True
    ).dev_login_enabled


async def test_dev_token_is_404_when_dev_login_is_off(settings):
    # Only the settings matter here, so the app runs without its lifespan (no pool, no Kafka).
    client = create_app(settings.model_copy(update={"dev_login": False})).test_client()
    response = await client.post(
        "/v1/dev/token", json={"tenant_id": "acme", "user_id": "u", "role": "admin"}
    )
    assert response.status_code == 404
    assert "off" in (await response.get_json())["error"]["message"]
    page = await (await client.get("/")).get_data(as_text=True)
    assert 'name="pdfchat-dev-login" content="false"' in page


async def test_the_page_and_its_assets_are_served_with_sensible_headers(settings):
    page = await _get(settings, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'name="pdfchat-dev-login" content="true"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from a CDN
    script = await _get(settings, "/assets/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache" and script.headers["etag"]
    again = await _get(
        settings, "/assets/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    for missing in ("/assets/nope.js", "/assets/../pages.py", "/assets/%2e%2e/pages.py"):
        assert (await _get(settings, missing)).status_code == 404, missing
