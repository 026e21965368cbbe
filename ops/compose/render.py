"""Writes the monitoring configs of docker-compose.kafka.yml as `pdfchat up --observability`
renders them, so both stacks alert and sample traces alike:

    .venv/bin/python ops/compose/render.py

pdfchat.rules.yml, alertmanager.yml and jaeger.yaml beside this script are its output, kept in
the repository so `docker compose` needs nothing run first; tests/deploy/test_compose.py fails
when they are out of date. prometheus.yml is written by hand: its targets are compose services.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cli.observability import HOST, RULES_FILE, Alertmanager, Collector, rules_text
from config import Settings

HERE = Path(__file__).resolve().parent
# In a container the collector listens on every interface: the apps are in other containers.
ANY_HOST = "0.0.0.0"


def rendered() -> dict[str, str]:
    """File name → text, with the default settings' thresholds, ports and sampling."""
    with tempfile.TemporaryDirectory(prefix="pdfchat-compose-") as home:
        settings = Settings(home=Path(home))
        texts = {RULES_FILE: rules_text(settings)}
        for daemon in (Alertmanager(settings), Collector(settings)):
            daemon.render()  # into the temporary home, exactly as `up` does
            texts[daemon.config.name] = daemon.config.read_text()
    for port in (settings.collector_otlp_port, settings.collector_query_port):
        texts["jaeger.yaml"] = texts["jaeger.yaml"].replace(f"{HOST}:{port}", f"{ANY_HOST}:{port}")
    return texts


HEADER = (
    "# Written by ops/compose/render.py for docker-compose.kafka.yml, from what `pdfchat up\n"
    "# --observability` renders (ops/observability/); edit those, then run the script again.\n"
    "# In compose the collector listens on 0.0.0.0: the apps are in other containers.\n"
)


def main() -> None:
    for name, text in rendered().items():
        (HERE / name).write_text(HEADER + text)


if __name__ == "__main__":
    main()
