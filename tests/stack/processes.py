"""The processes a stack's app has started itself."""

from __future__ import annotations

import psutil

from cli.stack import Stack


def page_readers(stack: Stack, name: str) -> list[psutil.Process]:
    """The page-reading processes of worker ``name`` (spawned by multiprocessing)."""
    worker = psutil.Process(stack.pid(name))
    return [p for p in worker.children() if "spawn_main" in " ".join(p.cmdline())]
