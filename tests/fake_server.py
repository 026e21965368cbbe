"""The harness of our fake provider APIs: a real HTTP server on 127.0.0.1 in a thread, every
request recorded, failures scripted per key (a path, a model name)."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

API_KEY = "test-key"


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class ScriptedServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self._failures: dict[str, deque[int]] = defaultdict(deque)
        self._always: dict[str, int] = {}
        self._every: dict[str, tuple[int, int]] = {}  # key: (n, status)
        self._seen: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()  # set at stop: wakes handlers holding an answer back
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, key: str, *statuses: int) -> None:
        """The next ``len(statuses)`` requests for ``key`` answer with these statuses."""
        with self._lock:
            self._failures[key].extend(statuses)

    def fail_always(self, key: str, status: int) -> None:
        with self._lock:
            self._always[key] = status

    def fail_every(self, key: str, n: int, status: int) -> None:
        """Every ``n``-th request for ``key`` from now on answers with ``status``."""
        with self._lock:
            self._every[key] = (n, status)
            self._seen[key] = 0

    def heal(self, key: str) -> None:
        with self._lock:
            self._always.pop(key, None)
            self._failures.pop(key, None)
            self._every.pop(key, None)

    def record(self, recorded: Recorded, key: str | None) -> int | None:
        """Keep the request; the scripted status for ``key``, if any (from a server thread)."""
        with self._lock:
            self.requests.append(recorded)
            if key is None:
                return None
            queued = self._failures[key].popleft() if self._failures.get(key) else None
            return queued or self._always.get(key) or self._every_nth(key)

    def _every_nth(self, key: str) -> int | None:
        if key not in self._every:
            return None
        n, status = self._every[key]
        self._seen[key] += 1
        return status if self._seen[key] % n == 0 else None
