"""The supervisor process against stand-in apps (a few lines of http.server) in a home of their
own: it restarts what dies, backs off from what keeps dying, replaces nothing stopped or held
on purpose, and reports its restarts. The real stack's outages are in tests/stack."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from cli.processes import free_port
from cli.stack import AppSpec, Stack, isolated_settings
from cli.supervisor import POLL_S
from config import Settings
from tests.cli.test_stack import FAKE_APP
from tests.waiting import wait_until

# Gone a moment after it starts: a process in a crash loop.
SHORT_LIVED_APP = "import time; time.sleep(0.3); raise SystemExit(1)"
# Absence of an action can only be seen over time: this many of the supervisor's looks.
LOOKS_S = 6 * POLL_S


def _app(name: str, code: str) -> AppSpec:
    port = free_port()
    return AppSpec(
        name, [sys.executable, "-c", code, str(port)], port, f"http://127.0.0.1:{port}/healthz"
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    return isolated_settings(tmp_path, restart_backoff_max_s=2.0)


@pytest.fixture
def supervised(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings, apps=[_app("fake", FAKE_APP), _app("flaky", SHORT_LIVED_APP)])
    stack.start("fake")
    stack.start("supervisor")
    try:
        yield stack
    finally:
        stack.down()


def _restarts(settings: Settings, service: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{settings.supervisor_port}/metrics").text
    prefix = f'pdfchat_supervisor_restarts_total{{service="{service}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def test_a_killed_app_is_started_again(supervised, settings):
    first = supervised.pid("fake")
    supervised.kill("fake", signal.SIGKILL)

    def back() -> bool:
        return supervised.pid("fake") not in (None, first) and supervised.service("fake").healthy()

    await wait_until(back, within_s=30)
    # Counted once the new process is up, which the supervisor sees a moment after we may.
    await wait_until(lambda: _restarts(settings, "fake") >= 1, within_s=10)
    assert _restarts(settings, "fake") == 1


async def test_an_app_stopped_or_held_on_purpose_stays_down(supervised, settings):
    supervised.stop("fake")
    await asyncio.sleep(LOOKS_S)
    assert supervised.pid("fake") is None and _restarts(settings, "fake") == 0

    supervised.start("fake")
    supervised.hold("fake")
    supervised.kill("fake", signal.SIGKILL)
    await asyncio.sleep(LOOKS_S)
    assert supervised.pid("fake") is None
    supervised.release("fake")
    await wait_until(lambda: _restarts(settings, "fake") == 1, within_s=30)
    assert supervised.service("fake").healthy()


async def test_a_crash_loop_is_restarted_with_growing_pauses(supervised, settings):
    supervised.release("flaky")  # wanted, never healthy: each start fails, and is tried again
    await wait_until(lambda: len(_restart_times(settings, "flaky")) >= 4, within_s=60)
    supervised.stop("flaky")
    times = _restart_times(settings, "flaky")
    pauses = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    # 0.5 s, 1 s, 2 s, then capped at restart_backoff_max_s (2 s here); each start also
    # waits for the process to fail, so the pauses are at least the back-off.
    assert pauses[0] >= 0.5 and pauses[1] >= 1.0 and pauses[2] >= 2.0, pauses
    assert "flaky exited during start-up" in (settings.log_dir / "supervisor.log").read_text()


def _restart_times(settings: Settings, service: str) -> list[datetime]:
    lines = (settings.log_dir / "supervisor.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [
        datetime.fromisoformat(r["ts"].replace(",", "."))
        for r in records
        if r.get("target") == service and r["message"].startswith("restarting")
    ]


async def test_status_lists_the_supervisor(supervised):
    statuses = {s.name: s for s in supervised.status()}
    assert statuses["supervisor"].healthy
    assert statuses["fake"].healthy
