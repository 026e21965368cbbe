"""The local stack: PostgreSQL, Kafka, the Faust workers, the web server and the supervisor.

Used by `pdfchat up | down | status` and by the test session, always through Settings, so a
second stack (tests, benchmarks) runs beside the first in its own home on its own ports.

Each service has a state file in the run directory saying whether it is wanted (started and
not stopped on purpose) and, for our own processes, how to run it. The supervisor
(cli/supervisor.py) restarts every wanted service that dies; `start` and `stop` take a lock
per service, so they and the supervisor never start one twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cli.kafka import Kafka, kafka_nodes
from cli.keycloak import Keycloak
from cli.observability import observability_services, write_targets
from cli.postgres import Postgres
from cli.processes import (
    Detached,
    StackError,
    StartupError,
    ensure_port_free,
    exclusive,
    free_port,
    http_ok,
    send_signal,
)
from config import Settings

APP_START_TIMEOUT_S = 120
APP_STOP_GRACE_S = 20
PORT_RELEASE_S = 10
# Consecutive ports an isolated stack keeps for its workers' web servers.
WORKER_PORTS = 8
SUPERVISOR = "supervisor"
WORKER_NAME = re.compile(r"worker-([1-9][0-9]*)")

# Applies migrations and creates topics; the stack only runs it, so it imports no app code.
Prepare = Callable[[Settings], Awaitable[None]]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    healthy: bool
    detail: str
    # False when stopped on purpose (down, or scaled down): then it is not a fault.
    wanted: bool = True

    @property
    def ok(self) -> bool:
        return self.healthy or (not self.wanted and self.pid is None)


@dataclass(frozen=True)
class AppSpec:
    """How to run one of our Python processes and how to tell it is healthy."""

    name: str
    argv: Sequence[str]
    port: int
    health_url: str
    env: Mapping[str, str] = field(default_factory=dict)


def isolated_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a second stack (tests, benchmarks, the evaluation) in its own home on free
    ports, so it runs beside `pdfchat up`."""
    names = (
        "web_port",
        "postgres_port",
        "supervisor_port",
        "prometheus_port",
        "alertmanager_port",
        "collector_otlp_port",
        "collector_query_port",
        "keycloak_port",
        "keycloak_management_port",
    )
    ports = {name: free_port() for name in names}
    # Node n of a cluster listens on kafka_port + 2(n - 1) and kafka_controller_port + 2(n - 1).
    brokers = int(overrides.get("kafka_brokers", 1))
    ports["kafka_port"] = free_port(count=2 * brokers)
    ports["kafka_controller_port"] = ports["kafka_port"] + 1
    # ... and its analytics listener on kafka_analytics_port + (n - 1).
    ports["kafka_analytics_port"] = free_port(count=brokers)
    # Worker n listens on worker_web_port_base + n - 1: keep a block free for a few of them.
    ports["worker_web_port_base"] = free_port(count=WORKER_PORTS)
    return Settings(home=home, **(ports | overrides))


def with_recorded_brokers(settings: Settings) -> Settings:
    """The settings with the home's Kafka cluster size as the last `up` chose it (`--brokers`),
    unless they choose one themselves (PDFCHAT_KAFKA_BROKERS): `status` and `down` then see
    every broker, and clients are given every address."""
    recorded = _brokers_file(settings)
    if "kafka_brokers" in settings.model_fields_set or not recorded.exists():
        return settings
    return with_brokers(settings, int(recorded.read_text()))


def with_brokers(settings: Settings, brokers: int) -> Settings:
    return Settings.model_validate(settings.model_dump() | {"kafka_brokers": brokers})


def _brokers_file(settings: Settings) -> Path:
    return settings.home / "kafka" / "brokers"


@contextmanager
def scratch_stack(prepare: Prepare, *, prefix: str, **overrides: Any) -> Iterator[Settings]:
    """A whole stack, up and prepared, in a temporary home on free ports: for a benchmark or
    an evaluation that must not touch the stack of `pdfchat up`. Gone with its data after."""
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as home,
        running_stack(isolated_settings(Path(home), **overrides), prepare) as stack,
    ):
        yield stack.settings


@contextmanager
def running_stack(settings: Settings, prepare: Prepare) -> Iterator[Stack]:
    """The whole stack of ``settings``, up and prepared, and down again at the end."""
    stack = Stack(settings)
    try:
        stack.up(prepare=prepare)
        yield stack
    finally:
        stack.down()


def worker_spec(settings: Settings, n: int) -> AppSpec:
    """Worker ``n`` (1-based) with its own Faust web port, so workers never collide."""
    port = settings.worker_web_port_base + n - 1
    argv = [
        sys.executable,
        "-m",
        "agents",
        "worker",
        "--web-port",
        str(port),
        "--web-host",
        "127.0.0.1",
        "--loglevel",
        _faust_level(settings.log_level),
    ]
    role = worker_role(settings, n)
    if role == "ingest" and settings.ingest_nice:
        argv = ["nice", "-n", str(settings.ingest_nice), *argv]  # execs: the pid stays ours
    # A stable instance id makes the worker a static member of the consumer group: restarted
    # after a crash, it takes its partitions back at once instead of waiting for the group to
    # notice the dead member and rebalance.
    env = {
        "PDFCHAT_WORKER_INSTANCE_ID": f"worker-{n}",
        "PDFCHAT_WORKER_ROLE": role,
        "PDFCHAT_DATABASE_ROLE": "worker",  # least privilege: storage/roles.py
    }
    return AppSpec(f"worker-{n}", argv, port, f"http://127.0.0.1:{port}/healthz", env)


def worker_role(settings: Settings, n: int) -> str:
    """With chat workers configured, workers 1..chat_workers answer and the rest ingest."""
    if not settings.chat_workers:
        return "all"
    return "chat" if n <= settings.chat_workers else "ingest"


def _faust_level(level: str) -> str:
    """Faust's worker takes its own spelling of the standard level names."""
    level = level.lower()
    return {"warning": "warn", "critical": "crit"}.get(level, level)


def web_spec(settings: Settings) -> AppSpec:
    argv = [sys.executable, "-m", "web"]
    env = {"PDFCHAT_DATABASE_ROLE": "web"}  # least privilege: storage/roles.py
    return AppSpec("web", argv, settings.web_port, f"{settings.web_url}/healthz", env)


def supervisor_spec(settings: Settings) -> AppSpec:
    port = settings.supervisor_port
    argv = [sys.executable, "-m", "cli.supervisor"]
    return AppSpec(SUPERVISOR, argv, port, f"http://127.0.0.1:{port}/metrics")


def default_apps(settings: Settings) -> list[AppSpec]:
    """Workers before the web server, so the API never accepts work nobody consumes."""
    workers = [worker_spec(settings, n) for n in range(1, settings.workers + 1)]
    return [*workers, web_spec(settings)]


class Service(Protocol):
    name: str
    port: int

    def pid(self) -> int | None: ...
    def healthy(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class AppProcess(Detached):
    """A detached Python process of ours, healthy when its health URL answers 200."""

    stop_grace_s = APP_STOP_GRACE_S

    def __init__(self, settings: Settings, spec: AppSpec) -> None:
        self.spec, self.name, self.port = spec, spec.name, spec.port
        super().__init__(settings)

    def healthy(self) -> bool:
        return self.pid() is not None and http_ok(self.spec.health_url)

    @classmethod
    def restore(cls, settings: Settings, recorded: Mapping[str, Any]) -> AppProcess:
        """The process as it was last started, from its state file."""
        spec = AppSpec(
            recorded["name"],
            recorded["argv"],
            recorded["port"],
            recorded["health_url"],
            recorded["env"],
        )
        return cls(settings, spec)

    def recorded(self) -> dict[str, Any]:
        """How to run this process again: the settings it runs with, but no secret (those
        come from the environment of whoever restarts it)."""
        env = self.settings.to_env(secrets=False) | dict(self.spec.env)
        return asdict(self.spec) | {"env": env}

    def start(self) -> None:
        # A killed process of many threads is a zombie (gone, for the supervisor that is its
        # parent) a moment before its last thread closes its sockets.
        ensure_port_free("127.0.0.1", self.port, self.name, within_s=PORT_RELEASE_S)
        env = os.environ | self.settings.to_env() | dict(self.spec.env)
        self.launch(self.spec.argv, env=env, ready=self._ready, within_s=APP_START_TIMEOUT_S)

    def _ready(self) -> bool:
        if self.pid() is None:
            raise StartupError(f"{self.name} exited during start-up")
        return http_ok(self.spec.health_url)


class Stack:
    """Start, stop and inspect the services of one home; every method is idempotent."""

    def __init__(
        self,
        settings: Settings,
        apps: Iterable[AppSpec] | None = None,
        *,
        observability: bool = False,
        keycloak: bool = False,
    ) -> None:
        """``observability``: also Prometheus, Alertmanager and the trace collector;
        ``keycloak``: also Keycloak (cli/keycloak.py). Once started they stay part of this
        home's stack until ``down``."""
        self.settings = settings
        self.postgres = Postgres(settings)
        self.kafka: dict[str, Kafka] = {node.name: node for node in kafka_nodes(settings)}
        specs = default_apps(settings) if apps is None else apps
        self.apps = {spec.name: AppProcess(settings, spec) for spec in specs}
        self.supervisor = AppProcess(settings, supervisor_spec(settings))
        observers = observability_services(settings)
        if not observability and not any(self.wanted(o.name) for o in observers):
            observers = []
        self.observers = {o.name: o for o in observers}
        wants_keycloak = keycloak or self.wanted(Keycloak.name)
        self.identity = {Keycloak.name: Keycloak(settings)} if wants_keycloak else {}
        self.infrastructure = ["postgres", *self.kafka]
        self._expected = {
            *self.infrastructure,
            *self.identity,
            *self.observers,
            *self.apps,
            SUPERVISOR,
        }

    def up(
        self, *, prepare: Prepare | None = None, apps: bool = True, supervise: bool = True
    ) -> list[ServiceStatus]:
        """Start what is not healthy yet: postgres, kafka, ``prepare``, the apps, and then the
        supervisor that keeps them running (unless ``supervise`` is false).

        ``apps=False`` starts the infrastructure only (and still runs ``prepare``), without a
        supervisor.
        """
        self._record_brokers()
        self.start("postgres")
        # Together: a node of a cluster is not started until a majority of them runs.
        with ThreadPoolExecutor(max_workers=len(self.kafka)) as starting:
            list(starting.map(self.start, self.kafka))
        for name in [*self.identity, *self.observers]:
            self.start(name)
        if prepare is not None:
            _run_coroutine(prepare, self.settings)
        if apps:
            for name in list(self.apps):
                self.start(name)
        if apps and supervise:
            self.start(SUPERVISOR)
        return self.status()

    def down(self) -> None:
        """Stop every service of this home, the supervisor first and then the apps; also apps
        that another Stack of this home started."""
        self._adopt_apps()
        errors = []

        def stop(name: str) -> None:
            try:
                self.stop(name)
            except StackError as exc:
                errors.append(f"{name}: {exc}")

        for service in [self.supervisor, *reversed(self._services())]:
            if service.name not in self.infrastructure:
                stop(service.name)
        # Brokers together: the last of a cluster to stop one by one would find no controller
        # quorum left to let it shut down in order, and wait for it until killed.
        with ThreadPoolExecutor(max_workers=len(self.kafka)) as stopping:
            list(stopping.map(stop, self.kafka))
        stop("postgres")
        if errors:
            raise StackError("\n".join(errors))

    def status(self) -> list[ServiceStatus]:
        self._adopt_apps()
        services = [*self._services(), self.supervisor]
        # This stack's own services are expected; others (a worker scaled away, a replaced
        # app) only while they are wanted.
        return [
            _status(s, wanted=s.name in self._expected or self.wanted(s.name)) for s in services
        ]

    def start(self, name: str) -> None:
        """Start one service unless it is healthy; one that runs but is not healthy is
        restarted. ``worker-N`` works for any N, to scale out beyond settings.workers."""
        service = self.service(name)
        with exclusive(self._lock(name)):
            # Wanted again only under the lock: the supervisor starts a wanted service that is
            # not running, as it last knew it, and could otherwise start the old one first.
            self.release(name)
            if service.healthy():
                return
            if service.pid() is not None:
                service.stop()
            service.start()
        if self.observers and WORKER_NAME.fullmatch(name):
            numbers = [
                _worker_number(a) for a in self.apps.values() if WORKER_NAME.fullmatch(a.name)
            ]
            write_targets(self.settings, workers=sorted(numbers))  # Prometheus scrapes it too

    def stop(self, name: str) -> None:
        """Stop a service on purpose: the supervisor leaves it stopped until ``start``."""
        self.hold(name)
        with exclusive(self._lock(name)):
            self.service(name).stop()

    def hold(self, name: str) -> None:
        """Tell the supervisor to leave a service as it is, running or not (maintenance, or a
        test's outage), until ``release`` or ``start``."""
        self._want(self.service(name), False)

    def release(self, name: str) -> None:
        """Undo ``hold``: the supervisor starts the service again if it is not running."""
        self._want(self.service(name), True)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a service, as a crash would (SIGKILL waits until it is gone); the
        supervisor, if running, brings it back."""
        pid = self.service(name).pid()
        if pid is not None:
            send_signal(pid, sig)

    def restart_if_dead(self, name: str) -> bool | None:
        """For the supervisor: start a wanted service that is not running. True if it was
        started, None if nothing was to be done (running, unwanted, or someone else is starting
        or stopping it right now); raises StackError if it would not start."""
        if not self.wanted(name) or self.service(name).pid() is not None:
            return None
        with exclusive(self._lock(name), wait=False) as mine:
            if not mine or not self.wanted(name):
                return None
            service = self._as_last_started(name)
            if service.pid() is not None:
                return None
            service.start()
            return True

    def replace_hung(self, name: str) -> None:
        """For the supervisor: stop a running service that stopped answering, and start it."""
        with exclusive(self._lock(name), wait=False) as mine:
            if mine and self.wanted(name):
                service = self._as_last_started(name)
                service.stop()
                service.start()

    def _as_last_started(self, name: str) -> Service:
        """The service as its state file says it was last started. Another Stack of this home
        (`up`, `scale`, a test) may have started it since with other settings, and the
        supervisor, which knew it from before, must not bring the older ones back."""
        recorded = self._state(name).get("app")
        if recorded is not None:
            self.apps[name] = AppProcess.restore(self.settings, recorded)
        return self.service(name)

    def wanted(self, name: str) -> bool:
        return bool(self._state(name).get("wanted"))

    def supervised(self) -> list[Service]:
        """What the supervisor looks after, in start order."""
        self._adopt_apps()
        return self._services()

    def pid(self, name: str) -> int | None:
        return self.service(name).pid()

    def service(self, name: str) -> Service:
        if name == "postgres":
            return self.postgres
        if name in self.kafka:
            return self.kafka[name]
        if name == SUPERVISOR:
            return self.supervisor
        if name in self.observers:
            return self.observers[name]
        if name in self.identity:
            return self.identity[name]
        if name not in self.apps:
            self._adopt(name)
        if name not in self.apps:
            raise KeyError(f"no service named {name!r}")
        return self.apps[name]

    def _record_brokers(self) -> None:
        """Remember the cluster size; refuse another while brokers of the old one run (their
        data and replication are that cluster's)."""
        path = _brokers_file(self.settings)
        recorded = int(path.read_text()) if path.exists() else self.settings.kafka_brokers
        if recorded != self.settings.kafka_brokers:
            running = [
                n.name for n in kafka_nodes(with_brokers(self.settings, recorded)) if n.pid()
            ]
            if running:
                raise StackError(
                    f"this home runs {recorded} Kafka broker(s) ({', '.join(running)}): stop the"
                    f" stack (pdfchat down) before starting it with {self.settings.kafka_brokers}"
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(self.settings.kafka_brokers))

    def _services(self) -> list[Service]:
        """In start order: infrastructure, workers by number, then the other apps."""
        apps = sorted(self.apps.values(), key=_worker_number)
        kafka, identity, observers = self.kafka.values(), self.identity.values(), self.observers
        return [self.postgres, *kafka, *identity, *observers.values(), *apps]

    def _adopt(self, name: str) -> None:
        """Know an app from how it was last started (another Stack of this home started it),
        or a worker beyond settings.workers."""
        recorded = self._state(name).get("app")
        if recorded is not None:
            self.apps[name] = AppProcess.restore(self.settings, recorded)
        elif WORKER_NAME.fullmatch(name):
            self.apps[name] = AppProcess(
                self.settings, worker_spec(self.settings, _worker_number_of(name))
            )

    def _adopt_apps(self) -> None:
        """Know every app that has a state file, so none is orphaned or left unsupervised."""
        for path in self.settings.run_dir.glob("*.state.json"):
            name = path.name.removesuffix(".state.json")
            known = (*self.apps, *self.infrastructure, *self.identity, *self.observers)
            if name not in (*known, SUPERVISOR):
                self._adopt(name)

    def _want(self, service: Service, wanted: bool) -> None:
        state: dict[str, Any] = {"wanted": wanted}
        if isinstance(service, AppProcess):
            state["app"] = service.recorded()
        path = self._state_path(service.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(path)  # readers never see half a file

    def _state(self, name: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._state_path(name).read_text())
            return state
        except (OSError, ValueError):
            return {}

    def _state_path(self, name: str) -> Path:
        return self.settings.run_dir / f"{name}.state.json"

    def _lock(self, name: str) -> Path:
        return self.settings.run_dir / f"{name}.lock"


def _worker_number_of(name: str) -> int:
    return int(name.removeprefix("worker-"))


def _worker_number(app: AppProcess) -> int:
    match = WORKER_NAME.fullmatch(app.name)
    return int(match.group(1)) if match else sys.maxsize


def _status(service: Service, *, wanted: bool) -> ServiceStatus:
    pid = service.pid()
    healthy = pid is not None and service.healthy()
    stopped = "stopped" if wanted else "stopped on purpose"
    detail = "ok" if healthy else ("running, not healthy" if pid else stopped)
    return ServiceStatus(service.name, pid, service.port, healthy, detail, wanted)


def _run_coroutine(prepare: Prepare, settings: Settings) -> None:
    """Run ``prepare`` to completion, also when called from code with a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_awaited(prepare, settings))
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _awaited(prepare, settings)).result()


async def _awaited(prepare: Prepare, settings: Settings) -> None:
    # asyncio.run takes a coroutine; ``prepare`` may return any awaitable.
    await prepare(settings)
