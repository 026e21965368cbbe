"""The garbage collector of a long-running process: what its full collections scan, and how
long each one stops the process.

A full (generation 2) collection walks every container object the process holds, and nothing
else runs meanwhile: no socket is written, no answer goes on. Under ops/bench/chat.py at 10
clients the web process stopped for 94-177 ms every 6-7 s and the worker for about 100 ms
every 13 s, most of it walking objects made at start-up (modules, classes, the app, the
models' tokenizers) that live as long as the process anyway.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from core.metrics import GC_PAUSE

# One child per generation, made now: the callback below must not create metric children,
# whose registration takes a lock that a scrape may hold while it allocates.
_PAUSES = [GC_PAUSE.labels(str(generation)) for generation in range(3)]
_started: list[float] = [0.0]


def settle_after_start() -> None:
    """Collect once, then move every object that survived out of all later collections
    (``gc.freeze``): call it when start-up is done. Measured on the web process: a full
    collection walked about 200,000 such objects; the worker holds more."""
    gc.collect()
    gc.freeze()


def time_collections() -> None:
    """Observe every collection's pause in ``pdfchat_gc_pause_seconds`` (once per process)."""
    if _observe not in gc.callbacks:
        gc.callbacks.append(_observe)


def _observe(phase: str, info: dict[str, Any]) -> None:
    # No collection starts inside a callback, and a child's observe() allocates nothing the
    # collector tracks while it holds its lock: this cannot wait on itself.
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _PAUSES[info["generation"]].observe(time.perf_counter() - _started[0])
