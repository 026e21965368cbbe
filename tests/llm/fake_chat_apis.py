"""A real HTTP server on 127.0.0.1 that speaks the OpenAI and Cohere v2 chat *streaming*
protocols well enough for the official client libraries:

    POST /v1/chat/completions   OpenAI: server-sent ``data: {chunk}`` lines, then ``[DONE]``;
                                a last chunk with ``usage`` when stream_options.include_usage
    POST /v2/chat               Cohere v2: message-start, content-start, content-delta...,
                                content-end, message-end (finish reason and usage)

Bodies are sent with chunked transfer encoding, one HTTP chunk per event, so a scripted drop
mid-stream looks to the client exactly like a server that died (an incomplete chunked body).

Scripting is per model name: ``replies[model]`` is what that model answers (split into
deltas word by word); ``fail(model, 429, 500)`` makes its next requests answer with those
statuses; ``fail_always(model, 500)`` makes all of them fail; ``drop_after[model] = n`` cuts
the connection after n text deltas. Usage reported is recognisable: input tokens
``INPUT_TOKENS_BASE`` plus the words of the prompt, output tokens the number of deltas.
Every request is recorded (path, lower-cased headers, JSON body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import API_KEY, Recorded, ScriptedServer

DEFAULT_REPLY = "The answer is in the documents [1]."
INPUT_TOKENS_BASE = 1000


class FakeChatAPIs(ScriptedServer):
    def __init__(self, *, api_key: str = API_KEY) -> None:
        super().__init__(_handler_for(self), api_key=api_key)
        self.replies: dict[str, str] = {}
        self.drop_after: dict[str, int] = {}
        self.delta_delay_s = 0.0

    def calls(self, model: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if model is None or (isinstance(r.body, dict) and r.body.get("model") == model)
            ]

    # -- answering (in the server's threads) --------------------------------------------------

    def status_for(self, path: str, headers: dict[str, str], body: Any) -> int | None:
        """A scripted or protocol error status, or None to stream an answer."""
        model = body.get("model") if isinstance(body, dict) else None
        status = self.record(Recorded(path, headers, body), model)
        if status is not None:
            return status
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401
        if not isinstance(body, dict) or not model or not isinstance(body.get("messages"), list):
            return 400
        if body.get("stream") is not True:
            return 400  # this fake only streams
        return None

    def deltas(self, model: str) -> list[str]:
        return re.findall(r"\S+\s*", self.replies.get(model, DEFAULT_REPLY))

    def wait(self) -> None:
        if self.delta_delay_s:
            self._stop.wait(self.delta_delay_s)


def prompt_words(body: dict) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in body["messages"])


def openai_events(apis: FakeChatAPIs, body: dict) -> Iterator[bytes | None]:
    """SSE lines of a chat.completions stream; None marks where to drop the connection."""
    model = body["model"]
    deltas = apis.deltas(model)
    drop = apis.drop_after.get(model)

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        payload = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for i, text in enumerate(deltas):
        if drop is not None and i == drop:
            yield None
            return
        apis.wait()
        yield chunk({"content": text})
    yield chunk({}, "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": INPUT_TOKENS_BASE + prompt_words(body),
            "completion_tokens": len(deltas),
            "total_tokens": INPUT_TOKENS_BASE + prompt_words(body) + len(deltas),
        }
        payload = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(payload)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def cohere_events(apis: FakeChatAPIs, body: dict) -> Iterator[bytes | None]:
    model = body["model"]
    deltas = apis.deltas(model)
    drop = apis.drop_after.get(model)

    def event(kind: str, payload: dict) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()

    message = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
    yield event("message-start", {"id": "msg-1", "delta": {"message": message}})
    content_start = {"message": {"content": {"type": "text", "text": ""}}}
    yield event("content-start", {"index": 0, "delta": content_start})
    for i, text in enumerate(deltas):
        if drop is not None and i == drop:
            yield None
            return
        apis.wait()
        yield event(
            "content-delta", {"index": 0, "delta": {"message": {"content": {"text": text}}}}
        )
    yield event("content-end", {"index": 0})
    words = prompt_words(body)
    usage = {
        "billed_units": {"input_tokens": INPUT_TOKENS_BASE + words, "output_tokens": len(deltas)},
        "tokens": {"input_tokens": INPUT_TOKENS_BASE + words + 200, "output_tokens": len(deltas)},
    }
    yield event(
        "message-end", {"id": "msg-1", "delta": {"finish_reason": "COMPLETE", "usage": usage}}
    )


def _error_body(openai: bool, status: int) -> dict:
    message = f"scripted failure {status}" if status != 401 else "invalid api token"
    if openai:
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return {"id": "err", "message": message}


def _handler_for(apis: FakeChatAPIs) -> type[BaseHTTPRequestHandler]:
    streams = {"/v1/chat/completions": openai_events, "/v2/chat": cohere_events}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path not in streams:
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            status = apis.status_for(self.path, headers, body)
            try:
                if status is not None:
                    self._json(status, _error_body(self.path.startswith("/v1/"), status))
                else:
                    self._stream(streams[self.path](apis, body))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, events: Iterator[bytes | None]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for data in events:
                if data is None:  # scripted death mid-stream: no terminating chunk
                    self.close_connection = True
                    self.wfile.flush()
                    return
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``apis.requests`` instead."""

    return Handler
