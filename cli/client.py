"""A small async client for API v1, used by the CLI and the tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosedError

from core.retry import backoff

TERMINAL_STATUSES = frozenset({"ready", "failed"})
LAST_MESSAGES = frozenset({"end", "error"})
RECONNECT_ATTEMPTS = 8


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class StreamDropped(Exception):
    """The socket closed before the answer's end; reconnecting resumes it."""

    retriable = True


class PdfchatClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self._ws_url = base_url.replace("http", "ws", 1)
        self._token = token
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
        documents: list[dict[str, Any]] = body["documents"]
        return documents

    async def topics(self, document_id: str) -> dict[str, Any]:
        return await self._json(self._http.get(f"/v1/documents/{document_id}/topics"))

    async def delete(self, document_id: str) -> dict[str, Any]:
        return await self._json(self._http.delete(f"/v1/documents/{document_id}"))

    async def search(self, query: str, *, top_k: int = 8, **options: Any) -> list[dict[str, Any]]:
        body = {"query": query, "top_k": top_k, **options}
        results: list[dict[str, Any]] = (
            await self._json(self._http.post("/v1/search", json=body))
        )["results"]
        return results

    async def chat(
        self,
        question: str,
        *,
        document_ids: list[str] | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question}
        if document_ids is not None:
            body["document_ids"] = document_ids
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        return await self._json(self._http.post("/v1/chat", json=body))

    async def feedback(
        self, session_id: str, rating: str, *, comment: str | None = None
    ) -> dict[str, Any]:
        """Thumbs ``"up"`` or ``"down"`` on one of your finished answers."""
        body = {"rating": rating, "comment": comment}
        url = f"/v1/chat/sessions/{session_id}/feedback"
        return await self._json(self._http.post(url, json=body))

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self._json(self._http.get(f"/v1/conversations/{conversation_id}"))

    async def usage(self) -> dict[str, Any]:
        return await self._json(self._http.get("/v1/usage"))

    async def stream(
        self, session_id: str, *, last_token_seq: int = 0
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The answer's messages after ``last_token_seq``, up to its end or error, over one
        socket. Raises ``StreamDropped`` if the socket closes before that."""
        url = f"{self._ws_url}/v1/chat/stream/{session_id}?last_token_seq={last_token_seq}"
        headers = {"Authorization": f"Bearer {self._token}"}
        async with websockets.connect(url, additional_headers=headers) as socket:
            try:
                async for raw in socket:
                    message = json.loads(raw)
                    yield message
                    if message["type"] in LAST_MESSAGES:
                        return
            except ConnectionClosedError as exc:
                raise StreamDropped(str(exc)) from exc
        raise StreamDropped("the server closed the socket before the end of the answer")

    async def answer(self, session_id: str) -> AsyncGenerator[dict[str, Any], None]:
        """The whole answer, reconnecting with ``last_token_seq`` when the socket drops."""
        last_seq = 0
        async for attempt in backoff(attempts=RECONNECT_ATTEMPTS, base_s=0.2, max_s=3):
            with attempt:
                # Closed here, not by the garbage collector: a socket left open by a reader
                # that stopped at the end message was closed after the event loop, with a
                # "Task was destroyed but it is pending!" on standard error.
                async with aclosing(self.stream(session_id, last_token_seq=last_seq)) as stream:
                    async for message in stream:
                        last_seq = message.get("seq") or last_seq
                        yield message

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
                try:
                    seen[document_id] = await self.document(document_id)
                except ApiError as exc:
                    if exc.status != 503:
                        raise
                    break  # the server is briefly unavailable (a restart): poll again soon
                if seen[document_id]["status"] in statuses:
                    pending.discard(document_id)
            if pending:
                await asyncio.sleep(interval)
        return seen

    async def wait_until_encoded(
        self, document_ids: Iterable[str], *, interval: float = 0.2
    ) -> None:
        """Poll until every (ready) document's segments are all encoded for the re-ranker, or
        the server has no encoder. Callers bound the wait with ``asyncio.timeout``."""
        for document_id in document_ids:
            while True:
                view = await self.document(document_id)
                encoded = view.get("encoded_segments")
                if encoded is None or encoded >= (view.get("segments") or 0):
                    break
                await asyncio.sleep(interval)

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
