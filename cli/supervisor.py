"""The local supervisor: `pdfchat up` leaves it running, and it restarts what dies.

``python -m cli.supervisor`` (started by cli.stack) looks at every wanted service of its home
twice a second, in start order (postgres, kafka, workers, web): one that is gone is started
again, after a back-off that doubles with each restart (0.5 s, 1 s, 2 s, ... up to
``restart_backoff_max_s``) and resets once the service has stayed up for a minute; one of our
processes that has not answered its health check for ``HUNG_AFTER_S`` is replaced. A service
stopped on purpose (`Stack.stop`, `pdfchat down`) is left alone. Its metrics
(`pdfchat_supervisor_restarts_total`, `pdfchat_supervisor_service_up`) are on
127.0.0.1:``supervisor_port``/metrics.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

from prometheus_client import start_http_server

from cli.processes import StackError, reap_children
from cli.stack import AppProcess, Service, Stack
from config import Settings, get_settings
from core.logging import setup_logging
from core.metrics import RESTARTS, SERVICE_UP

log = logging.getLogger("pdfchat.supervisor")

POLL_S = 0.5
FIRST_BACKOFF_S = 0.5
STABLE_AFTER_S = 60.0
HUNG_AFTER_S = 60.0


@dataclass
class Watch:
    """What the supervisor remembers of one service between looks."""

    restarts: int = 0  # since it was last stable
    not_before: float = 0.0  # no restart before this (monotonic)
    up_since: float | None = None
    unhealthy_since: float | None = None


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = Stack(settings, apps=[])
        self.watches: dict[str, Watch] = {}

    def run(self, stopping: threading.Event) -> None:
        log.info("supervising", extra={"home": str(self.settings.home)})
        while not stopping.is_set():
            self.look_once()
            stopping.wait(POLL_S)

    def look_once(self) -> None:
        reap_children()  # what it restarted are its children: no zombies left behind
        for service in self.stack.supervised():
            watch = self.watches.setdefault(service.name, Watch())
            try:
                self._look(service, watch)
            except Exception:  # one service's trouble must not stop the care of the others
                log.exception("supervising a service failed", extra={"target": service.name})

    def _look(self, service: Service, watch: Watch) -> None:
        now = time.monotonic()
        running = service.pid() is not None
        SERVICE_UP.labels(service.name).set(1 if running else 0)
        if running:
            self._running(service, watch, now)
            return
        watch.up_since = watch.unhealthy_since = None
        if now >= watch.not_before and self.stack.wanted(service.name):
            self._restart(service, watch, now)

    def _running(self, service: Service, watch: Watch, now: float) -> None:
        watch.up_since = watch.up_since or now
        if now - watch.up_since > STABLE_AFTER_S:
            watch.restarts = 0
        if not isinstance(service, AppProcess) or service.healthy():
            watch.unhealthy_since = None
            return
        watch.unhealthy_since = watch.unhealthy_since or now
        if now - watch.unhealthy_since > HUNG_AFTER_S:
            log.error("replacing a process that stopped answering", extra={"target": service.name})
            RESTARTS.labels(service.name).inc()
            self.stack.replace_hung(service.name)
            watch.unhealthy_since = None

    def _restart(self, service: Service, watch: Watch, now: float) -> None:
        watch.restarts += 1
        backoff = FIRST_BACKOFF_S * 2 ** (watch.restarts - 1)
        delay = min(backoff, self.settings.restart_backoff_max_s)
        watch.not_before = now + delay
        log.warning(
            "restarting a service that is gone",
            extra={"target": service.name, "restart": watch.restarts},
        )
        try:
            if self.stack.restart_if_dead(service.name):
                RESTARTS.labels(service.name).inc()
                log.info("restarted", extra={"target": service.name})
        except StackError as exc:
            log.error(
                "restart failed; trying again later",
                extra={"target": service.name, "retry_in_s": delay, "error": str(exc)},
            )


def main() -> None:
    settings = get_settings()
    setup_logging("supervisor", level=settings.log_level, json=settings.log_json)
    # A line per health check, and per pg_ctl command, otherwise.
    for chatty in ("httpx", "pgserver"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    start_http_server(settings.supervisor_port, addr="127.0.0.1")
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    Supervisor(settings).run(stopping)


if __name__ == "__main__":
    main()
