"""Development token issuer and the token verifier.

In development `pdfchat up` creates an ES256 key pair under the state directory and
`pdfchat token` signs tokens with it. In production set ``PDFCHAT_OIDC_ISSUER``: tokens are then
verified against the provider's published keys (JWKS), and the local key is not used.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from config import Settings
from core.errors import Unauthenticated

ALGORITHMS = ["ES256", "RS256"]
ROLES = ("admin", "editor", "viewer", "analyst")
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    user_id: str
    roles: frozenset[str]


def ensure_signing_key(path: Path) -> ECKey:
    """Load the development signing key, creating it (mode 0600) on first use."""
    if path.exists():
        return ECKey.import_key(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.as_pem(private=True))
    return key


def mint(
    settings: Settings, *, tenant: str, user: str, roles: Sequence[str], ttl_s: int | None = None
) -> str:
    if not TENANT_PATTERN.match(tenant):
        raise ValueError(f"tenant must match {TENANT_PATTERN.pattern}")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from {ROLES}")
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user,
        "tenant": tenant,
        "roles": list(roles),
        "iat": now,
        "exp": now + (ttl_s or settings.jwt_ttl_s),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode({"alg": "ES256"}, claims, ensure_signing_key(settings.signing_key_path))


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer or settings.jwt_issuer
        self._keys: KeySet | ECKey | None = None

    async def load_keys(self) -> None:
        if self.settings.oidc_issuer:
            self._keys = await _fetch_jwks(self.settings.oidc_issuer, self.settings.oidc_jwks_url)
        else:
            private = ensure_signing_key(self.settings.signing_key_path)
            self._keys = ECKey.import_key(private.as_pem(private=False))

    def verify(self, token: str) -> Principal:
        if self._keys is None:
            raise RuntimeError("TokenVerifier.load_keys() was not awaited")
        try:
            decoded = jwt.decode(token, self._keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.settings.jwt_audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return _principal(decoded.claims)


def _principal(claims: Mapping[str, Any]) -> Principal:
    tenant = claims.get("tenant")
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise Unauthenticated("the token carries no valid tenant claim")
    roles = claims.get("roles") or []
    if not isinstance(roles, list):
        raise Unauthenticated("the token's roles claim must be a list")
    return Principal(tenant_id=tenant, user_id=str(claims["sub"]), roles=frozenset(map(str, roles)))


async def _fetch_jwks(issuer: str, jwks_url: str | None) -> KeySet:
    async with httpx.AsyncClient(timeout=10) as client:
        if not jwks_url:
            discovery = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
            jwks_url = (await client.get(discovery)).raise_for_status().json()["jwks_uri"]
        return KeySet.import_key_set((await client.get(jwks_url)).raise_for_status().json())
