"""Development token issuer and the token verifier.

In development `pdfchat up` creates an ES256 key pair under the state directory and
`pdfchat token` signs tokens with it. In production set ``PDFCHAT_OIDC_ISSUER``: tokens are then
verified against the provider's published keys (its JWKS, found through its discovery
document), and the local key is not used. Both go through the same checks: an allowed
algorithm (never ``none`` nor a shared-secret one), the signature, issuer, audience, expiry
(30 s leeway), and a tenant and roles in the configured claims.

A provider rotates its keys: a token naming a key id we do not have makes the verifier fetch
the JWKS again (such fetches at most once per ``KEYS_REFETCH_MIN_S``), and the keys are
fetched again every ``KEYS_MAX_AGE_S`` anyway, so a new key is picked up and a withdrawn one
dropped without a restart. A provider that cannot be reached leaves the keys we have in place.
"""

from __future__ import annotations

import asyncio
import logging
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
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet

from config import Settings
from core.errors import Unauthenticated

log = logging.getLogger("pdfchat.tokens")

DEV_ALGORITHMS = ["ES256"]
KEYS_REFETCH_MIN_S = 30.0
KEYS_MAX_AGE_S = 600.0
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
        self.algorithms = list(settings.oidc_algorithms) if settings.oidc_issuer else DEV_ALGORITHMS
        self._keys: KeySet | ECKey | None = None
        self._fetched_at = float("-inf")
        self._unknown_key_fetched_at = float("-inf")
        self._fetching = asyncio.Lock()

    async def load_keys(self) -> None:
        if self.settings.oidc_issuer:
            await self._fetch(required=True)
        else:
            private = ensure_signing_key(self.settings.signing_key_path)
            self._keys = ECKey.import_key(private.as_pem(private=False))

    async def verify(self, token: str) -> Principal:
        if self._keys is None:
            raise RuntimeError("TokenVerifier.load_keys() was not awaited")
        if self.settings.oidc_issuer and time.monotonic() - self._fetched_at > KEYS_MAX_AGE_S:
            await self._fetch()
        try:
            return self._verified(token)
        except InvalidKeyIdError:
            if not self.settings.oidc_issuer or not await self._fetch(unknown_key=True):
                raise Unauthenticated("invalid token: signed with a key we do not know") from None
        try:
            return self._verified(token)
        except InvalidKeyIdError:
            raise Unauthenticated("invalid token: signed with a key we do not know") from None

    def _verified(self, token: str) -> Principal:
        assert self._keys is not None
        try:
            decoded = jwt.decode(token, self._keys, algorithms=self.algorithms)
            jwt.JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.settings.jwt_audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except InvalidKeyIdError:
            raise
        except ExpiredTokenError:
            raise Unauthenticated("invalid token: expired") from None
        except ClaimError as exc:
            claim = getattr(exc, "claim", "")
            raise Unauthenticated(
                f"invalid token: claim {claim!r} is missing or not accepted"
            ) from None
        except (JoseError, ValueError) as exc:
            reason = getattr(exc, "error", "") or "malformed"
            raise Unauthenticated(f"invalid token: {reason}") from None
        return _principal(decoded.claims, self.settings)

    async def _fetch(self, *, required: bool = False, unknown_key: bool = False) -> bool:
        """Fetch the provider's keys; False when skipped (fetched moments ago) or failed."""
        async with self._fetching:
            now = time.monotonic()
            if unknown_key:
                if now - self._unknown_key_fetched_at < KEYS_REFETCH_MIN_S:
                    return False  # tokens with made-up key ids must not flood the provider
                self._unknown_key_fetched_at = now
            elif not required and now - self._fetched_at <= KEYS_MAX_AGE_S:
                return True  # another request fetched them meanwhile
            try:
                self._keys = await _fetch_jwks(self.issuer, self.settings.oidc_jwks_url)
            except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
                if required:
                    raise
                log.warning(
                    "could not fetch the provider's keys; keeping ours", extra={"error": str(exc)}
                )
                return False
            finally:
                self._fetched_at = time.monotonic()
            return True


def _principal(claims: Mapping[str, Any], settings: Settings) -> Principal:
    tenant = claim(claims, settings.oidc_tenant_claim)
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise Unauthenticated(f"the token carries no valid {settings.oidc_tenant_claim!r} claim")
    roles = claim(claims, settings.oidc_roles_claim) or []
    if not isinstance(roles, list):
        raise Unauthenticated(f"the token's {settings.oidc_roles_claim!r} claim must be a list")
    return Principal(tenant_id=tenant, user_id=str(claims["sub"]), roles=frozenset(map(str, roles)))


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """``realm_access.roles``: a claim inside a claim, as some providers nest roles."""
    found: Any = claims
    for part in path.split("."):
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


async def _fetch_jwks(issuer: str, jwks_url: str | None) -> KeySet:
    async with httpx.AsyncClient(timeout=10) as client:
        if not jwks_url:
            discovery = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
            document = (await client.get(discovery)).raise_for_status().json()
            if document.get("issuer") != issuer:
                raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
            jwks_url = document["jwks_uri"]
        return KeySet.import_key_set((await client.get(jwks_url)).raise_for_status().json())
