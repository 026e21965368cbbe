"""A minimal OpenID Connect provider for tests: a discovery document and a JWKS served over
real HTTP on 127.0.0.1, keys it can rotate, and tokens it signs. (A real provider, Keycloak,
is issue 14's next step; this one exercises the verifier's every path in a second.)"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from joserfc import jwt
from joserfc.jwk import RSAKey


class Provider:
    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:8]})]
        self.jwks_fetches = 0
        self.down = False
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if provider.down:
                    self.send_error(503)
                    return
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks"}
                elif self.path == "/jwks":
                    provider.jwks_fetches += 1
                    body = {"keys": [k.as_dict(private=False) for k in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self) -> RSAKey:
        """A new key, published alone: the old one is withdrawn."""
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:8]})]
        return self.keys[0]

    def token(
        self, *, key: RSAKey | None = None, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": "pdfchat-api",
            "sub": "ann",
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, body | claims, key)
