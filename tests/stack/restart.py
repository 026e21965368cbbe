"""Running the session stack's worker and web server with other settings for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cli.stack import AppProcess, Stack, web_spec, worker_spec
from config import Settings


@contextmanager
def apps_with(stack: Stack, settings: Settings) -> Iterator[None]:
    """Run the stack's worker and web server with ``settings``; put the originals back after,
    so later tests find the stack as it was."""
    originals = {name: stack.apps[name] for name in ("worker-1", "web")}
    for name in originals:
        stack.stop(name)
    try:
        for spec in (worker_spec(settings, 1), web_spec(settings)):
            stack.apps[spec.name] = AppProcess(settings, spec)
            stack.start(spec.name)
        yield
    finally:
        for name, app in originals.items():
            stack.stop(name)
            stack.apps[name] = app
            stack.start(name)


@contextmanager
def workers_with(stack: Stack, settings: Settings) -> Iterator[None]:
    """Replace the stack's worker with ``settings.workers`` workers run with ``settings``;
    put the original back after."""
    original = stack.apps["worker-1"]
    stack.stop("worker-1")
    names = [f"worker-{n}" for n in range(1, settings.workers + 1)]
    try:
        for n in range(1, settings.workers + 1):
            spec = worker_spec(settings, n)
            stack.apps[spec.name] = AppProcess(settings, spec)
            stack.start(spec.name)
        yield
    finally:
        for name in names:
            stack.stop(name)
            del stack.apps[name]
        stack.apps["worker-1"] = original
        stack.start("worker-1")
