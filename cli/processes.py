"""Detached child processes with pid files, logs and health checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

POLL_S = 0.1


class StartupError(RuntimeError):
    pass


def wait_until(condition: Callable[[], bool], *, within_s: float, what: str) -> None:
    """Poll ``condition`` until true; raise StartupError naming ``what`` on the deadline."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise StartupError(f"timed out after {within_s:.0f}s waiting for {what}")
        time.sleep(POLL_S)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port nobody listens on right now, for a second stack beside the first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PidFile:
    """A pid together with the process's start time, so a reused pid is never mistaken
    for our process."""

    path: Path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = psutil.Process(pid).create_time()
        self.path.write_text(json.dumps({"pid": pid, "create_time": created}))

    def alive_pid(self) -> int | None:
        try:
            record = json.loads(self.path.read_text())
            process = psutil.Process(record["pid"])
            if abs(process.create_time() - record["create_time"]) > 0.01:
                return None
            return None if process.status() == psutil.STATUS_ZOMBIE else process.pid
        except (OSError, ValueError, KeyError, psutil.Error):
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # A new session: the child outlives `pdfchat up` and ignores its terminal's Ctrl-C.
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return process.pid


def terminate(pid: int, *, grace_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace_s``."""
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(grace_s)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(5)
    except psutil.NoSuchProcess:
        pass


def send_signal(pid: int, sig: int) -> None:
    try:
        process = psutil.Process(pid)
        process.send_signal(sig)
        if sig == signal.SIGKILL:
            process.wait(10)
    except psutil.NoSuchProcess:
        pass


def reap(pid: int) -> None:
    """Collect a child of this process that has exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
