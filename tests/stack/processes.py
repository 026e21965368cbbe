"""The processes a stack's app has started itself."""

from __future__ import annotations

import psutil

from cli.stack import Stack
from core.processes import LOWEST_PRIORITY


def page_readers(stack: Stack, name: str) -> list[psutil.Process]:
    """The page-reading processes of worker ``name`` (spawned by multiprocessing, at the
    worker's own priority)."""
    return [p for p in _spawned(stack, name) if p.nice() < LOWEST_PRIORITY]


def background(stack: Stack, name: str) -> list[psutil.Process]:
    """The background process of worker ``name`` (core.processes), once it has had work."""
    return [p for p in _spawned(stack, name) if p.nice() == LOWEST_PRIORITY]


def _spawned(stack: Stack, name: str) -> list[psutil.Process]:
    worker = psutil.Process(stack.pid(name))
    return [p for p in worker.children() if "spawn_main" in " ".join(p.cmdline())]
