"""A small async client for API v1, used by the CLI and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

TERMINAL_STATUSES = frozenset({"ready", "failed"})


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class PdfchatClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    async def __aenter__(self) -> PdfchatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload(
        self,
        data: bytes,
        filename: str = "document.pdf",
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        files = {"file": (filename, data, "application/pdf")}
        return await self._json(self._http.post("/v1/documents", files=files, headers=headers))

    async def document(self, document_id: str) -> dict[str, Any]:
        return await self._json(self._http.get(f"/v1/documents/{document_id}"))

    async def documents(self, **params: Any) -> list[dict[str, Any]]:
        body = await self._json(self._http.get("/v1/documents", params=params))
        return body["documents"]

    async def delete(self, document_id: str) -> dict[str, Any]:
        return await self._json(self._http.delete(f"/v1/documents/{document_id}"))

    async def wait_for(
        self,
        document_ids: Iterable[str],
        *,
        statuses: frozenset[str] = TERMINAL_STATUSES,
        interval: float = 0.1,
    ) -> dict[str, dict[str, Any]]:
        """Poll until every document reaches one of ``statuses``; returns their last views.
        Callers bound the wait with ``asyncio.timeout``."""
        pending = set(document_ids)
        seen: dict[str, dict[str, Any]] = {}
        while pending:
            for document_id in list(pending):
                seen[document_id] = await self.document(document_id)
                if seen[document_id]["status"] in statuses:
                    pending.discard(document_id)
            if pending:
                await asyncio.sleep(interval)
        return seen

    async def _json(self, request: Any) -> dict[str, Any]:
        response: httpx.Response = await request
        body = response.json() if response.content else {}
        if response.is_error:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                response.status_code,
                error.get("code", "http_error"),
                error.get("message", response.text),
            )
        return body
