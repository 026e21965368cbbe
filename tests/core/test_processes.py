import os
import signal
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from core.processes import LOWEST_PRIORITY, Background, process_pool

REPO = Path(__file__).resolve().parents[2]


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def _pid_and_priority() -> tuple[int, int]:
    return os.getpid(), _priority()


def _thread() -> str:
    return threading.current_thread().name


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_pool_runs_at_the_priority_asked():
    pool = process_pool(1, nice=3)
    try:
        assert pool.submit(_priority).result(timeout=30) == max(3, _priority())
    finally:
        pool.shutdown()


def test_a_pool_is_never_more_urgent_than_its_caller():
    code = (
        "import os; from core.processes import process_pool; pool = process_pool(1, nice=5);"
        " print(pool.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=30));"
        " pool.shutdown()"
    )
    niced = subprocess.run(
        ["nice", "-n", "12", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert int(niced.stdout) == max(12, _priority())


async def test_background_work_runs_in_another_process_at_the_lowest_priority():
    background = Background()
    try:
        pid, priority = await background.run(_pid_and_priority)
    finally:
        background.shutdown()
    assert pid != os.getpid()
    assert priority == LOWEST_PRIORITY


async def test_background_in_process_runs_in_a_thread():
    background = Background(in_process=True)
    assert await background.run(_thread) != threading.main_thread().name
    assert await background.run(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


async def test_a_dead_background_process_fails_its_work_and_is_replaced(caplog):
    background = Background()
    try:
        first, _ = await background.run(_pid_and_priority)
        with pytest.raises(BrokenProcessPool):
            await background.run(_kill_self)
        assert "the background process died" in caplog.text
        second, priority = await background.run(_pid_and_priority)
    finally:
        background.shutdown()
    assert second not in (first, os.getpid())
    assert priority == LOWEST_PRIORITY
