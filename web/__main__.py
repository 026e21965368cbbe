"""``python -m web``: serve the API with Hypercorn on the configured address."""

from __future__ import annotations

import asyncio
import logging
import math
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from config import HTTP_KEEP_ALIVE_S, get_settings
from core.cpu import limit_library_threads
from core.eventloop import use_uvloop
from core.heap import time_collections
from core.logging import setup_logging
from core.tracing import setup_tracing, shutdown_tracing
from web.app import create_app


def main() -> None:
    settings = get_settings()
    limit_library_threads()  # search re-ranks in this process too
    use_uvloop()
    time_collections()
    setup_logging("web", level=settings.log_level, json=settings.log_json)
    setup_tracing(settings, "web")
    config = Config()
    config.bind = [f"{settings.web_host}:{settings.web_port}"]
    # Loggers rather than "-": hypercorn then writes through our JSON handler.
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 5
    # Answer sockets are pinged; a client that sends nothing back (not even the pong) for
    # ws_dead_after_s is gone, and its connection is closed.
    config.keep_alive_timeout = HTTP_KEEP_ALIVE_S
    config.websocket_ping_interval = settings.ws_ping_interval_s
    config.read_timeout = math.ceil(settings.ws_dead_after_s)
    try:
        asyncio.run(_serve(create_app(settings), config))
    finally:
        shutdown_tracing()


async def _serve(app: Quart, config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    main()
