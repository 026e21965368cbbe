"""Keycloak of `pdfchat up --oidc keycloak` (cli/keycloak.py) as the identity provider of the
real web app: started once for this module in a temporary home on free ports, with the realm
of ops/keycloak/realm.json.tmpl; its users' tokens (password grant) and the service account's
(client credentials) carry the tenant and roles the app acts on, and forged ones get 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from quart import Quart

import pdfgen
from cli import keycloak
from cli.stack import isolated_settings
from config import Settings
from core.tokens import TokenVerifier, mint
from tests.web.files import pdf_file
from tests.web.real_app import app_over_postgres


def test_the_realm_declares_the_tenant_and_maps_it_with_roles_and_audience(tmp_path):
    settings = Settings(home=tmp_path, jwt_audience="pdfchat-api", keycloak_client_id="web-x")
    realm = json.loads(keycloak.realm_text(settings))
    assert realm["realm"] == keycloak.REALM
    (profile,) = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    declared = json.loads(profile["config"]["kc.user.profile.config"][0])["attributes"]
    assert "tenant" in [attribute["name"] for attribute in declared]  # else KC drops it
    (client,) = realm["clients"]
    assert client["clientId"] == "web-x"
    assert client["secret"] == settings.keycloak_client_secret.get_secret_value()
    assert client["directAccessGrantsEnabled"] and client["serviceAccountsEnabled"]
    mappers = {m["protocolMapper"]: m["config"] for m in client["protocolMappers"]}
    assert mappers["oidc-usermodel-attribute-mapper"]["claim.name"] == "tenant"
    assert mappers["oidc-usermodel-realm-role-mapper"]["claim.name"] == "roles"
    assert mappers["oidc-usermodel-realm-role-mapper"]["multivalued"] == "true"
    assert mappers["oidc-audience-mapper"]["included.custom.audience"] == "pdfchat-api"
    assert all(config["access.token.claim"] == "true" for config in mappers.values())
    users = {user["username"]: user for user in realm["users"]}
    for name, (password, tenant, roles) in keycloak.DEMO_USERS.items():
        assert users[name]["attributes"]["tenant"] == [tenant]
        assert users[name]["realmRoles"] == list(roles)
        assert users[name]["credentials"][0]["value"] == password
    assert users["service-account-web-x"]["serviceAccountClientId"] == "web-x"


def test_up_remembers_keycloak_and_points_web_at_its_realm(tmp_path):
    settings = Settings(home=tmp_path)
    assert keycloak.chosen(settings, None) == (settings, False)
    chosen, wanted = keycloak.chosen(settings, "keycloak")
    assert wanted and chosen.oidc_issuer == keycloak.issuer(settings)
    assert not chosen.dev_login_enabled
    assert keycloak.chosen(settings, None)[1], "remembered for this home"
    elsewhere = settings.model_copy(update={"oidc_issuer": "https://idp.example/realms/x"})
    assert keycloak.chosen(elsewhere, None)[0].oidc_issuer == "https://idp.example/realms/x"
    assert keycloak.chosen(settings, "none") == (settings, False)


@pytest.fixture(scope="module")
def keycloak_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    keycloak.ensure_installed()
    settings = isolated_settings(tmp_path_factory.mktemp("keycloak"))
    server = keycloak.Keycloak(settings)
    server.start()
    try:
        yield settings
    finally:
        server.stop()


@pytest.fixture
def make_app(postgres_settings: Settings, pg, keycloak_settings: Settings) -> Callable[..., Any]:
    """The real app over PostgreSQL alone (as tests/web/conftest.py builds it), taking
    Keycloak's realm as its OIDC issuer."""

    async def make(**overrides: Any) -> Quart:
        issuer = keycloak.issuer(keycloak_settings)
        settings = postgres_settings.model_copy(update={"oidc_issuer": issuer} | overrides)
        return await app_over_postgres(settings, pg)

    return make


def _token(settings: Settings, **form: str) -> str:
    secret = settings.keycloak_client_secret.get_secret_value()
    response = httpx.post(
        keycloak.token_url(settings),
        auth=(settings.keycloak_client_id, secret),
        data=form,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _user_token(settings: Settings, user: str) -> str:
    password = keycloak.DEMO_USERS[user][0]
    return _token(settings, grant_type="password", username=user, password=password)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_users_token_carries_their_tenant_and_roles(make_app, keycloak_settings):
    app = await make_app()
    verifier: TokenVerifier = app.extensions["verifier"]
    for user, (_, tenant, roles) in keycloak.DEMO_USERS.items():
        who = await verifier.verify(_user_token(keycloak_settings, user))
        assert who.tenant_id == tenant
        assert who.roles >= set(roles), who.roles
        assert who.roles & {"admin", "editor", "viewer", "analyst"} == set(roles)
    service = await verifier.verify(_token(keycloak_settings, grant_type="client_credentials"))
    assert (service.tenant_id, service.roles & {"analyst", "admin"}) == ("acme", {"analyst"})


async def test_roles_and_tenants_from_keycloak_decide_what_the_app_allows(
    make_app, keycloak_settings
):
    client = (await make_app()).test_client()
    alice, bob, carol = (_user_token(keycloak_settings, u) for u in ("alice", "bob", "carol"))
    service = _token(keycloak_settings, grant_type="client_credentials")
    files = {"file": pdf_file(pdfgen.sample_pdf(1, seed=11))}
    upload = await client.post("/v1/documents", files=files, headers=_bearer(alice))
    assert upload.status_code == 202, await upload.get_data(as_text=True)
    acme_doc = (await upload.get_json())["document_id"]
    files = {"file": pdf_file(pdfgen.sample_pdf(1, seed=12))}
    upload = await client.post("/v1/documents", files=files, headers=_bearer(carol))
    assert upload.status_code == 202, await upload.get_data(as_text=True)
    globex_doc = (await upload.get_json())["document_id"]

    async def listed(token: str) -> set[str]:
        response = await client.get("/v1/documents?limit=500", headers=_bearer(token))
        assert response.status_code == 200, await response.get_data(as_text=True)
        return {d["document_id"] for d in (await response.get_json())["documents"]}

    assert acme_doc in await listed(alice) and globex_doc not in await listed(alice)
    assert acme_doc in await listed(bob), "bob shares alice's tenant"
    assert globex_doc in await listed(carol) and acme_doc not in await listed(carol)

    files = {"file": pdf_file(pdfgen.sample_pdf(1, seed=13))}
    refused = await client.post("/v1/documents", files=files, headers=_bearer(bob))
    assert refused.status_code == 403, "bob is a viewer"
    for token, status in ((alice, 200), (service, 200), (bob, 403), (carol, 403)):
        assert (await client.get("/v1/usage", headers=_bearer(token))).status_code == status
    listing = await client.get("/v1/documents", headers=_bearer(service))
    assert listing.status_code == 403, "the service account is an analyst only"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_and_foreign_tokens_get_401(make_app, keycloak_settings, postgres_settings):
    app = await make_app()
    client = app.test_client()
    genuine = _user_token(keycloak_settings, "bob")
    head, claims, signature = genuine.split(".")
    promoted = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    promoted |= {"roles": ["admin"], "tenant": "globex"}
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    foreign_key = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    forged = {
        "claims tampered with": f"{head}.{_b64(promoted)}.{signature}",
        "signature tampered with": f"{head}.{claims}.{signature[:-6]}AAAAAA",
        "signed by another key with Keycloak's key id": jwt.encode(
            {"alg": "RS256", "kid": header["kid"]}, promoted, foreign_key
        ),
        "another issuer (pdfchat token)": mint(
            postgres_settings, tenant="acme", user="bob", roles=["admin"]
        ),
    }
    for what, token in forged.items():
        response = await client.get("/v1/documents", headers=_bearer(token))
        assert response.status_code == 401, what
    assert (await client.get("/v1/documents", headers=_bearer(genuine))).status_code == 200

    elsewhere = (await make_app(jwt_audience="another-api")).test_client()
    response = await elsewhere.get("/v1/documents", headers=_bearer(genuine))
    assert response.status_code == 401, "Keycloak's token is for another audience"
