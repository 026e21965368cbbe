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
