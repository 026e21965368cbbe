"""Access tokens from an OpenID Connect provider (tests/oidc_provider.py, real HTTP): found
through discovery, keys rotated without a restart, and every bad token refused with 401 and a
reason that gives nothing away."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc.jwk import RSAKey

from core.errors import Unauthenticated
from core.tokens import KEYS_REFETCH_MIN_S, TokenVerifier
from tests.oidc_provider import Provider

CLAIMS = {"org": "acme-oidc", "realm_access": {"roles": ["viewer"]}}


@pytest.fixture
def provider():
    with Provider() as running:
        yield running


@pytest.fixture
async def app(make_app, provider):
    return await make_app(
        oidc_issuer=provider.issuer,
        jwt_audience="pdfchat-api",
        oidc_tenant_claim="org",
        oidc_roles_claim="realm_access.roles",
    )


async def _get(app, token: str):
    return await app.test_client().get(
        "/v1/documents", headers={"Authorization": f"Bearer {token}"}
    )


async def test_a_providers_token_is_accepted_with_its_tenant_and_roles(app, provider):
    response = await _get(app, provider.token(**CLAIMS))
    assert response.status_code == 200, await response.get_data(as_text=True)
    viewer_upload = await app.test_client().post(
        "/v1/documents", headers={"Authorization": f"Bearer {provider.token(**CLAIMS)}"}
    )
    assert viewer_upload.status_code == 403  # the nested roles claim was read: a viewer


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(provider: Provider) -> str:
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": "pdfchat-api", "sub": "ann", "exp": now + 300}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims | CLAIMS)}."


def _hs256_with_the_public_key(provider: Provider) -> str:
    """The algorithm-confusion attack: HMAC keyed with the (public) RSA key."""
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": "pdfchat-api", "sub": "ann", "exp": now + 300}
    head = f"{_b64({'alg': 'HS256', 'kid': provider.keys[0].kid})}.{_b64(claims | CLAIMS)}"
    secret = provider.keys[0].as_pem(private=False)
    signature = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return f"{head}.{_b64(signature)}"


def _tampered(provider: Provider) -> str:
    head, _, signature = provider.token(**CLAIMS).split(".")
    claims = {"iss": provider.issuer, "aud": "pdfchat-api", "sub": "ann", "exp": 2**31}
    forged = claims | {"org": "someone-else", "realm_access": {"roles": ["admin"]}}
    return f"{head}.{_b64(forged)}.{signature}"


BAD = {
    "expired": lambda p: p.token(exp=int(time.time()) - 120, **CLAIMS),
    "another issuer": lambda p: p.token(iss="https://evil.example", **CLAIMS),
    "another audience": lambda p: p.token(aud="someone-else", **CLAIMS),
    "no expiry": lambda p: p.token(exp=None, **CLAIMS),
    "alg none": _unsigned,
    "HS256 with the public key": _hs256_with_the_public_key,
    "a key the provider never published": lambda p: p.token(
        key=RSAKey.generate_key(2048, parameters={"kid": "forged"}), **CLAIMS
    ),
    "a changed payload": _tampered,
    "no tenant": lambda p: p.token(realm_access={"roles": ["admin"]}),
    "roles not a list": lambda p: p.token(org="acme-oidc", realm_access={"roles": "admin"}),
    "not a token": lambda p: "not.a.token",
}


@pytest.mark.parametrize("case", BAD)
async def test_every_bad_token_is_refused_with_401_and_nothing_more(app, provider, case):
    token = BAD[case](provider)
    response = await _get(app, token)
    assert response.status_code == 401
    error = (await response.get_json())["error"]
    assert error["code"] == "unauthenticated"
    assert error["message"].startswith(("invalid token", "the token"))
    assert token[:20] not in error["message"] and "BEGIN" not in error["message"]
    assert len(error["message"]) < 120


async def test_a_bad_token_on_the_answer_socket_gets_an_error_and_4401(app, provider):
    async with app.test_client().websocket(
        f"/v1/chat/stream/{uuid.uuid4()}",
        headers={"Authorization": f"Bearer {BAD['expired'](provider)}"},
    ) as socket:
        message = await socket.receive_json()
    assert (message["type"], message["code"]) == ("error", "unauthenticated")


async def test_a_rotated_key_is_picked_up_without_a_restart(app, provider):
    old = provider.token(**CLAIMS)
    assert (await _get(app, old)).status_code == 200
    fetched = provider.jwks_fetches
    provider.rotate()
    assert (await _get(app, provider.token(**CLAIMS))).status_code == 200
    assert provider.jwks_fetches == fetched + 1
    assert (await _get(app, old)).status_code == 401  # its key was withdrawn


async def test_made_up_key_ids_do_not_flood_the_provider(app, provider):
    await _get(app, provider.token(**CLAIMS))
    fetched = provider.jwks_fetches
    for n in range(5):
        forged = RSAKey.generate_key(2048, parameters={"kid": f"made-up-{n}"})
        assert (await _get(app, provider.token(key=forged, **CLAIMS))).status_code == 401
    assert provider.jwks_fetches <= fetched + 1  # at most once per KEYS_REFETCH_MIN_S
    assert KEYS_REFETCH_MIN_S >= 10


async def test_a_provider_that_is_down_leaves_the_keys_we_have(postgres_settings, provider):
    settings = postgres_settings.model_copy(
        update={"oidc_issuer": provider.issuer, "jwt_audience": "pdfchat-api"}
    )
    verifier = TokenVerifier(settings)
    await verifier.load_keys()
    provider.down = True
    forged = RSAKey.generate_key(2048, parameters={"kid": "unknown"})
    with pytest.raises(Unauthenticated):
        await verifier.verify(provider.token(key=forged, tenant="t1"))
    who = await verifier.verify(provider.token(tenant="t1", roles=["viewer"]))
    assert (who.tenant_id, who.roles) == ("t1", frozenset({"viewer"}))


async def test_a_discovery_document_for_another_issuer_stops_the_start(postgres_settings, provider):
    settings = postgres_settings.model_copy(
        update={"oidc_issuer": provider.issuer + "/", "jwt_audience": "pdfchat-api"}
    )
    with pytest.raises(ValueError, match="names issuer"):
        await TokenVerifier(settings).load_keys()
