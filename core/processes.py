"""Pools of processes for a worker's CPU work: spawned, gone with their worker, and at a CPU
priority of their own.

Two kinds use them. The page readers (pdf.extract) read a big document's page ranges: work a
user waits for. The ``Background`` process encodes passages for the re-ranker and
clusters topic maps: work that may wait, and the heaviest CPU of ingestion (a 4-page PDF takes
11 ms to parse and 67 ms to encode). In the worker's own threads it shared the two cores and the
interpreter lock with the work users wait for; in a process at the lowest priority (nice 19) the
kernel gives it the CPU that parsing, embedding, answering, the web process, the broker and the
database leave, and it still goes on under full load (a nice-19 process is slowed, not stopped).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("pdfchat.core.processes")
PARENT_CHECK_S = 1.0  # how often a pool process checks that its worker still lives
LOWEST_PRIORITY = 19
P = ParamSpec("P")
T = TypeVar("T")


def process_pool(
    processes: int,
    *,
    nice: int = 0,
    max_tasks_per_child: int | None = None,
    warm_up: Callable[[], Any] | None = None,
) -> ProcessPoolExecutor:
    """``processes`` spawned processes (not forked: the caller has threads and an event loop),
    each at least ``nice`` (never more urgent than the caller), each exiting once the caller is
    gone. ``warm_up`` runs in every process now, not during the first piece of work."""
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        max_tasks_per_child=max_tasks_per_child,
        initializer=_start,
        initargs=(os.getpid(), nice),
    )
    if warm_up is not None:
        for _ in range(processes):
            pool.submit(warm_up)
    return pool


class Background:
    """Where a worker runs its work that may wait: one process at ``nice`` (one is enough: its
    work is behind what users wait for, and two would take both cores whenever they are idle),
    or, with ``in_process``, a thread of the worker as before."""

    def __init__(self, *, nice: int = LOWEST_PRIORITY, in_process: bool = False) -> None:
        self.nice = nice
        self._pool = None if in_process else process_pool(1, nice=nice)

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)``, which must pickle, and its result too. A dead process
        is replaced, and its work fails (the caller's sweep asks for it again)."""
        call, pool = partial(work, *args, **kwargs), self._pool
        if pool is None:
            return await asyncio.to_thread(call)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, call)
        except BrokenProcessPool:
            if pool is self._pool:  # not replaced already, for another piece of its work
                log.warning(
                    "the background process died (killed, or out of memory): its work failed"
                    " and is asked for again by the maintenance sweep; a new process takes over"
                )
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = process_pool(1, nice=self.nice)
            raise

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _start(parent: int, nice: int) -> None:
    if nice:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(max(current, nice), LOWEST_PRIORITY))
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Exit once the process that started this one is gone: a worker killed with SIGKILL
    cannot stop its pool, whose processes would wait for work for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
