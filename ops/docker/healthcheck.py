"""The image's HEALTHCHECK: exit 0 when this container's server answers ``/healthz`` with
200, whichever it runs: the web server (PDFCHAT_WEB_PORT) or a worker's Faust server
(PDFCHAT_WORKER_WEB_PORT_BASE). A one-shot ``pdfchat migrate`` has neither, and exits before a
health check matters.

    python /app/ops/docker/healthcheck.py
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from config import get_settings

TIMEOUT_S = 3.0
# No proxy: an HTTP(S)_PROXY set for the outside world must not see a loopback check.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def healthy(port: int) -> bool:
    try:
        with _direct.open(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT_S) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def main() -> int:
    settings = get_settings()
    ports = (settings.web_port, settings.worker_web_port_base)
    return 0 if any(healthy(port) for port in ports) else 1


if __name__ == "__main__":
    sys.exit(main())
