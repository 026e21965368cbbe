"""Detached child processes with pid files, logs and health checks."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from config import Settings

POLL_S = 0.1


class StackError(RuntimeError):
    """A service of the local stack failed to start or to stop."""


class StartupError(StackError):
    pass


def require_java_and_maven(what: str) -> None:
    """Kafka and Keycloak come from Maven Central as jars: fetched with Maven, run with Java."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise StartupError(
            f"{what} needs Java 17+ and Maven on the PATH; missing: {', '.join(missing)} "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven)"
        )


def install_command(argv: Sequence[str], module: str, install: Callable[[], None]) -> int:
    """`python -m <module> install`, as the Makefile runs it: 0 when installed, 1 with the
    reason when not, 2 for any other arguments."""
    if list(argv) != ["install"]:
        print(f"usage: python -m {module} install", file=sys.stderr)
        return 2
    try:
        install()
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def wait_until(condition: Callable[[], bool], *, within_s: float, what: str) -> None:
    """Poll ``condition`` until true; raise StartupError naming ``what`` on the deadline.

    The one polling loop of the supervisor: every wait is for a condition, with a deadline.
    """
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise StartupError(f"timed out after {within_s:.0f}s waiting for {what}")
        time.sleep(POLL_S)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ensure_port_free(host: str, port: int, what: str, *, within_s: float = 0.0) -> None:
    """Fail with a clear message instead of a bind error buried in a log file; wait up to
    ``within_s`` for a port that a process which just died is still releasing."""
    deadline = time.monotonic() + within_s
    while port_open(host, port):
        if time.monotonic() >= deadline:
            raise StartupError(f"{what}: port {host}:{port} is already in use by another program")
        time.sleep(POLL_S)


# Ports handed out by free_port in this process: never the same one twice.
_handed_out: set[int] = set()
LOWEST_FREE_PORT = 10_000
# The ports `pdfchat up` uses by default stay free for it (workers: a few above their base).
_DEFAULT_PORTS = {
    field.default + extra
    for name, field in Settings.model_fields.items()
    if name.endswith(("_port", "_port_base")) and isinstance(field.default, int)
    for extra in range(8 if name.endswith("_base") else 1)
}


def free_port(count: int = 1) -> int:
    """The first of ``count`` consecutive TCP ports free right now, for a second stack beside the
    first. Below the kernel's ephemeral range: a port in it may become the source port of any
    outgoing connection at any moment, and a server started later could not bind it."""
    below = _ephemeral_range()[0] - count
    for _ in range(1000):
        first = random.randrange(LOWEST_FREE_PORT, below)
        ports = range(first, first + count)
        if (
            _handed_out.isdisjoint(ports)
            and _DEFAULT_PORTS.isdisjoint(ports)
            and all(_bindable(p) for p in ports)
        ):
            _handed_out.update(ports)
            return first
    raise StackError(f"no {count} free consecutive ports between {LOWEST_FREE_PORT} and {below}")


def _bindable(port: int) -> bool:
    # All interfaces, as Faust's web server binds.
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


# One client for every health check (httpx clients are thread-safe): a new one per check built
# an SSL context each time, about 2 KB that stayed, and the supervisor checks every app twice
# a second (+34 MB in a 30-minute soak). trust_env=False: an HTTP(S)_PROXY set for package
# registries must not see loopback checks.
_health_checks = httpx.Client(timeout=2.0, trust_env=False)


def http_ok(url: str) -> bool:
    try:
        return _health_checks.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return f"--- last lines of {path} ---\n{text}"


def same_process(pid: int, started_at: float, *, tolerance_s: float = 0.01) -> bool:
    """True if ``pid`` is alive and is the process that started at ``started_at`` (epoch s).

    Pid files outlive reboots and crashes, and pids are reused: the start time tells our
    process apart from a stranger that got the same number.
    """
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started_at) > tolerance_s:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class PidFile:
    """A pid together with the process's start time (see :func:`same_process`)."""

    path: Path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = psutil.Process(pid).create_time()
        self.path.write_text(json.dumps({"pid": pid, "create_time": created}))

    def alive_pid(self) -> int | None:
        try:
            record = json.loads(self.path.read_text())
            pid, created = int(record["pid"]), float(record["create_time"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if same_process(pid, created) else None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Detached:
    """A detached process of ours with a pid file and a log: launched, awaited until ready,
    and stopped (SIGTERM, then SIGKILL after ``stop_grace_s``). Subclasses say how it runs."""

    name: str
    stop_grace_s: float = 20.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = settings.log_dir / f"{self.name}.log"
        self.pid_file = PidFile(settings.run_dir / f"{self.name}.pid")

    def pid(self) -> int | None:
        return self.pid_file.alive_pid()

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid, grace_s=self.stop_grace_s)
        self.pid_file.remove()

    def launch(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        ready: Callable[[], bool],
        within_s: float,
    ) -> None:
        """Spawn the process and wait until ``ready``; one that never gets there is stopped,
        not left behind, and the error ends with the tail of its log."""
        self.pid_file.write(spawn(argv, env=env, log=self.log))
        try:
            wait_until(ready, within_s=within_s, what=self.name)
        except StartupError as exc:
            self.stop()
            raise StartupError(f"{exc}\n{log_tail(self.log)}") from None


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log: Path) -> int:
    """Start a detached process writing to ``log``; returns its pid.

    posix_spawn rather than subprocess.Popen: the child must outlive us, and a Popen object
    for a process we deliberately leave running only produces ResourceWarnings. setsid puts
    it in a new session, so a Ctrl-C in the terminal that ran `pdfchat up` does not reach it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    return os.posix_spawnp(
        argv[0],
        list(argv),
        dict(env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def terminate(pid: int, *, grace_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace_s``."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        if not _gone_within(process, grace_s):
            process.kill()
            _gone_within(process, 5)
    except psutil.NoSuchProcess:
        pass
    reap(pid)


def send_signal(pid: int, sig: int) -> None:
    """Deliver ``sig``; for SIGKILL also wait until the process is gone."""
    try:
        process = psutil.Process(pid)
        process.send_signal(sig)
        if sig == signal.SIGKILL:
            _gone_within(process, 10)
    except psutil.NoSuchProcess:
        pass
    reap(pid)


def _gone_within(process: psutil.Process, timeout_s: float) -> bool:
    """Wait until the process has exited. A child of another process (the supervisor's)
    stays a zombie until that parent reaps it: for us it is gone all the same."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
            process.wait(POLL_S)
            return True
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            return True
    return False


def reap_children() -> None:
    """Collect every child of this process that has exited (the supervisor's restarts)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def reap(pid: int) -> None:
    """Collect a child of this process that has exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def exclusive(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an advisory lock on ``path`` (one starter or stopper of a service at a time, across
    processes); yields False at once, without the lock, when ``wait`` is false and it is
    taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
