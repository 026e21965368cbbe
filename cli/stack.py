"""The local stack: PostgreSQL, Kafka, the Faust workers and the web server.

Used by `pdfchat up | down | status` and by the test session, always through Settings, so a
second stack (tests, benchmarks) runs beside the first in its own home on its own ports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from cli.kafka import Kafka
from cli.postgres import Postgres
from cli.processes import (
    PidFile,
    StartupError,
    http_ok,
    log_tail,
    reap,
    send_signal,
    spawn,
    terminate,
    wait_until,
)
from config import REPO_ROOT, Settings

APP_START_TIMEOUT_S = 120
Prepare = Callable[[Settings], Awaitable[None]]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    healthy: bool
    detail: str


class AppProcess:
    """A Python process of ours (web or worker), healthy when its /healthz answers 200."""

    def __init__(self, settings: Settings, name: str, argv: list[str], port: int) -> None:
        self.settings, self.name, self.argv, self.port = settings, name, argv, port
        self.log = settings.log_dir / f"{name}.log"
        self.pid_file = PidFile(settings.run_dir / f"{name}.pid")
        self.health_url = f"http://127.0.0.1:{port}/healthz"

    def pid(self) -> int | None:
        return self.pid_file.alive_pid()

    def healthy(self) -> bool:
        return self.pid() is not None and http_ok(self.health_url)

    def start(self) -> None:
        env = os.environ | self.settings.to_env()
        pid = spawn(self.argv, env=env, log=self.log, cwd=REPO_ROOT)
        self.pid_file.write(pid)

        def ready() -> bool:
            if self.pid() is None:
                reap(pid)
                raise StartupError(f"{self.name} exited during start-up\n{log_tail(self.log)}")
            return http_ok(self.health_url)

        try:
            wait_until(ready, within_s=APP_START_TIMEOUT_S, what=self.name)
        except StartupError as exc:
            raise StartupError(f"{exc}\n{log_tail(self.log)}") from None

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid)
            reap(pid)
        self.pid_file.remove()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        pid = self.pid()
        if pid is not None:
            send_signal(pid, sig)
            reap(pid)


Service = Postgres | Kafka | AppProcess


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres = Postgres(settings)
        self.kafka = Kafka(settings)
        self.apps = {p.name: p for p in self._app_processes(range(1, settings.workers + 1))}

    def up(self, *, prepare: Prepare | None = None, apps: bool = True) -> list[ServiceStatus]:
        """Start whatever is not running yet, in dependency order; idempotent."""
        for directory in (self.settings.run_dir, self.settings.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for service in (self.postgres, self.kafka):
            if not service.healthy():
                service.start()
        if prepare is not None:
            asyncio.run(prepare(self.settings))
        if apps:
            for name in self.apps:
                self.start(name)
        return self.status()

    def down(self) -> None:
        """Stop everything, apps first; idempotent."""
        for process in reversed(list(self.apps.values())):
            process.stop()
        self.kafka.stop()
        self.postgres.stop()

    def status(self) -> list[ServiceStatus]:
        return [_status(s) for s in (self.postgres, self.kafka, *self.apps.values())]

    def start(self, name: str) -> None:
        """Start one app process by name: ``web`` or ``worker-N`` (any N, for scaling out)."""
        process = self._app(name)
        if not process.healthy():
            process.start()

    def stop(self, name: str) -> None:
        self._app(name).stop()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self._app(name).kill(sig)

    def _app(self, name: str) -> AppProcess:
        if name not in self.apps and name.startswith("worker-") and name[7:].isdigit():
            (self.apps[name],) = self._app_processes([int(name[7:])], web=False)
        if name not in self.apps:
            raise KeyError(f"no app process named {name!r}")
        return self.apps[name]

    def _app_processes(self, workers: Iterable[int], *, web: bool = True) -> list[AppProcess]:
        s = self.settings
        processes = []
        for n in workers:
            port = s.worker_web_port_base + n - 1
            argv = [sys.executable, "-m", "agents", "worker", "--web-host", "127.0.0.1",
                    "--web-port", str(port), "--loglevel", s.log_level.lower()]  # fmt: skip
            processes.append(AppProcess(s, f"worker-{n}", argv, port))
        if web:
            processes.append(AppProcess(s, "web", [sys.executable, "-m", "web"], s.web_port))
        return processes


def _status(service: Service) -> ServiceStatus:
    pid = service.pid()
    healthy = pid is not None and service.healthy()
    detail = "ok" if healthy else ("running, not healthy" if pid else "stopped")
    return ServiceStatus(service.name, pid, service.port, healthy, detail)
