"""One alert end to end on the real stack: with the ingestion worker stopped and uploads
waiting, the lag and worker-down alerts fire in Alertmanager (Prometheus and Alertmanager from
Debian, configured from ops/observability with short thresholds). A chat worker stays up and
keeps relaying the outbox, so the uploads reach Kafka and wait there as lag."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

import pdfgen
from cli.observability import Alertmanager, Prometheus, write_targets
from config import Settings
from tests.stack.restart import workers_with
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

UPLOADS = 12
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def alerting(stack, settings: Settings) -> Iterator[Settings]:
    quick = settings.model_copy(
        update={"alert_for_s": 2.0, "alert_lag_messages": 3, "scrape_interval_s": 1.0}
    )
    servers = [Alertmanager(quick), Prometheus(quick)]
    for server in servers:
        server.start()
    try:
        yield quick
    finally:
        for server in reversed(servers):
            server.stop()


def _alertmanager(settings: Settings) -> dict[str, dict]:
    """The alerts Alertmanager holds, by name: firing ones, notified or inhibited."""
    url = f"http://127.0.0.1:{settings.alertmanager_port}/api/v2/alerts"
    return {a["labels"]["alertname"]: a for a in httpx.get(url, timeout=5).json()}


def _firing(settings: Settings) -> set[str]:
    return set(_alertmanager(settings))


def _prometheus_alerts(settings: Settings) -> list[tuple[str, str]]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/alerts"
    alerts = httpx.get(url, timeout=5).json()["data"]["alerts"]
    return [(a["labels"]["alertname"], a["state"]) for a in alerts]


def _workers_scraped(settings: Settings) -> bool:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/targets"
    targets = httpx.get(url, timeout=5).json()["data"]["activeTargets"]
    up = {
        t["labels"]["service"]
        for t in targets
        if t["labels"]["job"] == "pdfchat-workers" and t["health"] == "up"
    }
    return up == {"worker-1", "worker-2"}


async def test_a_stopped_worker_fires_the_lag_and_worker_down_alerts(stack, alerting, api, tenant):
    split = alerting.model_copy(update={"workers": 2, "chat_workers": 1})
    with workers_with(stack, split):  # worker-1 answers (and relays), worker-2 ingests
        write_targets(alerting, workers=[1, 2])
        await wait_until(lambda: _workers_scraped(alerting), within_s=TIMEOUT_S)
        assert not {"WorkerDown", "ConsumerLagHigh"} & _firing(alerting)
        client = api(tenant)
        stack.stop("worker-2")
        try:
            ids = [
                (await client.upload(pdfgen.sample_pdf(1, seed=500 + i), f"{i}.pdf"))["document_id"]
                for i in range(UPLOADS)
            ]
            try:
                await wait_until(
                    lambda: {"WorkerDown", "ConsumerLagHigh"} <= _firing(alerting),
                    within_s=TIMEOUT_S,
                )
            except TimeoutError:
                raise AssertionError(
                    f"alertmanager has {_firing(alerting)}; prometheus has"
                    f" {_prometheus_alerts(alerting)}"
                ) from None
            # The worker being down explains the lag: its alert holds back the lag's notice.
            lag = _alertmanager(alerting)["ConsumerLagHigh"]["status"]
            assert lag["state"] == "suppressed" and lag["inhibitedBy"], lag
        finally:
            stack.start("worker-2")
        async with asyncio.timeout(TIMEOUT_S):
            views = await client.wait_for(ids)
        assert {v["status"] for v in views.values()} == {"ready"}
    write_targets(alerting, workers=[1])
