"""Answer sockets on the real web server (Hypercorn): dead clients are found by their silence.

The server pings every socket; a client that sends nothing back, not even the pong, for
ws_dead_after_s is taken for dead and its connection closed. A live client answers each ping
by itself (every WebSocket library does), so it stays however long the answer takes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import pytest
import websockets

from tests.rows import unrelayed_session

pytestmark = pytest.mark.stack


async def _silent_client(
    settings, token: str, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A WebSocket handshake by hand, then nothing: no reads of frames, no pongs."""
    reader, writer = await asyncio.open_connection(settings.web_host, settings.web_port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {settings.web_host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    response = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, response


async def _session(api, tenant) -> str:
    started = await api(tenant).chat("Is anybody there?")
    return started["stream_session_id"]


async def test_a_client_that_never_answers_a_ping_is_closed(settings, token, db, tenant):
    # Nobody answers it: only silence can end the socket before the sweep does.
    session_id = await unrelayed_session(db, tenant, "hello?")
    reader, writer, response = await _silent_client(
        settings, token(tenant), f"/v1/chat/stream/{session_id}"
    )
    assert response.startswith(b"HTTP/1.1 101"), response
    opened = time.monotonic()
    try:
        async with asyncio.timeout(settings.ws_dead_after_s * 4):
            while await reader.read(65536):  # pings and the answer's frames, until EOF
                pass
    finally:
        writer.close()
    silent_for = time.monotonic() - opened
    # Closed for its silence: not before the limit, and not by the sweep that ends the session.
    assert settings.ws_dead_after_s * 0.9 <= silent_for < settings.chat_lease_s, silent_for


async def test_a_live_client_outlasts_the_silence_limit(settings, token, api, tenant):
    session_id = await _session(api, tenant)
    url = f"ws://{settings.web_host}:{settings.web_port}/v1/chat/stream/{session_id}"
    headers = {"Authorization": f"Bearer {token(tenant)}"}
    async with websockets.connect(url, additional_headers=headers) as socket:
        # Silence from the application for twice the limit (the point of the test, so a sleep):
        # the library answers the pings meanwhile.
        await asyncio.sleep(settings.ws_dead_after_s * 2)
        messages = [m async for m in socket]
    assert messages and json.loads(messages[-1])["type"] == "end", messages[-1:]
    assert socket.close_code == 1000
