"""Feature flags on the real stack: a change through the API or `pdfchat flags` reaches the web
process and the worker within seconds, without a restart; only admins change them, and bad
input is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

import topics
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

PDFCHAT = str(Path(sys.executable).with_name("pdfchat"))
WITHIN_S = 10  # "within seconds": the relay, the topic, each process's view
OUTAGE_TIMEOUT_S = 120  # a broker back from a crash, its leaders elected, the relay caught up


@pytest.fixture
def name() -> str:
    return f"f_{uuid.uuid4().hex[:10]}"


def _pdfchat(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.to_env() | {"COLUMNS": "200"}
    return subprocess.run([PDFCHAT, *args], env=env, capture_output=True, text=True, timeout=120)


async def _worker_flag(settings, tenant: str, name: str) -> dict | None:
    url = f"http://127.0.0.1:{settings.worker_web_port_base}/flags/"
    async with httpx.AsyncClient(timeout=5) as http:
        page = (await http.get(url)).json()
    return next((f for f in page["flags"] if f["tenant"] == tenant and f["name"] == name), None)


async def _web_flag(http: httpx.AsyncClient, name: str, user_id: str = "u-1") -> dict:
    response = await http.get(f"/v1/flags/chat/{name}", params={"user_id": user_id})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_change_reaches_the_web_process_and_the_worker_without_a_restart(
    settings, token, tenant, name
):
    admin = {"Authorization": f"Bearer {token(tenant, user='alice')}"}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=admin) as http:
        for percent, value in ((100, {"models": ["large"]}), (0, {"models": ["small", "large"]})):
            body = {"enabled": True, "rollout_percent": percent, "value": value}
            put = await http.put(f"/v1/flags/chat/{name}", json=body)
            assert put.status_code == 200, put.text
            assert put.json()["tenant"] == tenant and put.json()["updated_by"] == "alice"

            async def web_sees_it(value: dict = value) -> bool:
                live = (await _web_flag(http, name))["live"]
                return live is not None and live["value"] == value

            async def worker_sees_it(value: dict = value) -> bool:
                seen = await _worker_flag(settings, tenant, name)
                return seen is not None and seen["value"] == value

            await wait_until(web_sees_it, within_s=WITHIN_S)
            await wait_until(worker_sees_it, within_s=WITHIN_S)
            # Rollout 100 %: every user is in; 0 %: nobody.
            assert (await _web_flag(http, name))["enabled_for_user"] is (percent == 100)
            assert (await _worker_flag(settings, tenant, name))["rollout_percent"] == percent

        listed = (await http.get("/v1/flags")).json()["flags"]
    assert next(f for f in listed if f["name"] == name)["rollout_percent"] == 0


async def test_only_admins_read_or_change_flags(settings, token, tenant, name):
    body = {"enabled": True, "rollout_percent": 10}
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        for role in ("viewer", "editor", "analyst"):
            headers = {"Authorization": f"Bearer {token(tenant, roles=(role,))}"}
            put = await http.put(f"/v1/flags/chat/{name}", json=body, headers=headers)
            listed = await http.get("/v1/flags", headers=headers)
            assert (put.status_code, listed.status_code) == (403, 403), role
            assert put.json()["error"]["code"] == "forbidden"
        anonymous = await http.put(f"/v1/flags/chat/{name}", json=body)
        assert anonymous.status_code == 401
        admin = {"Authorization": f"Bearer {token(tenant)}"}
        # An admin changes its own tenant's flags, not every tenant's defaults nor another's.
        for other in ("*", "someone-else"):
            put = await http.put(
                f"/v1/flags/chat/{name}", json=body | {"tenant": other}, headers=admin
            )
            assert put.status_code == 403, other
        listed = (await http.get("/v1/flags", headers=admin)).json()["flags"]
    assert [f for f in listed if f["name"] == name] == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("chat/{name}", {"enabled": True, "rollout_percent": 101}, 400),
        ("chat/{name}", {"enabled": True, "rollout_percent": -1}, 400),
        ("chat/{name}", {"enabled": True, "rollout_percent": "50"}, 400),
        ("chat/{name}", {"enabled": "yes", "rollout_percent": 5}, 400),
        ("chat/{name}", {"enabled": True}, 400),
        ("chat/{name}", {"enabled": True, "rollout_percent": 5, "colour": "red"}, 400),
        ("chat/Not-Lower", {"enabled": True, "rollout_percent": 5}, 400),
        ("c%20hat/{name}", {"enabled": True, "rollout_percent": 5}, 400),
        ("chat/{name}", [1, 2], 400),
        ("chat/{name}", {"enabled": True, "rollout_percent": 5, "value": "x" * 40_000}, 413),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    settings, token, tenant, name, path, body, status
):
    admin = {"Authorization": f"Bearer {token(tenant)}"}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=admin) as http:
        response = await http.put(f"/v1/flags/{path.format(name=name)}", json=body)
        listed = (await http.get("/v1/flags")).json()["flags"]
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] in ("invalid_input", "too_large")
    assert [f for f in listed if f["tenant"] == tenant] == []


async def test_the_command_sets_a_default_the_api_and_every_process_see(
    settings, token, tenant, name
):
    done = _pdfchat(
        settings, "flags", "set", "chat", name, "--enabled", "--percent", "30", "--value", "[1]"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    admin = {"Authorization": f"Bearer {token(tenant)}"}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=admin) as http:
        listed = (await http.get("/v1/flags")).json()["flags"]
        mine = [f for f in listed if f["name"] == name]
        assert [(f["tenant"], f["rollout_percent"], f["value"]) for f in mine] == [("*", 30, [1])]
        assert mine[0]["updated_by"].startswith("cli:")

        async def web_sees_it() -> bool:
            live = (await _web_flag(http, name))["live"]
            return live is not None and live["tenant"] == "*"

        await wait_until(web_sees_it, within_s=WITHIN_S)

    async def worker_sees_it() -> bool:
        return await _worker_flag(settings, "*", name) is not None

    await wait_until(worker_sees_it, within_s=WITHIN_S)
    shown = _pdfchat(settings, "flags", "get", "chat", name)
    assert shown.returncode == 0 and name in shown.stdout and "30" in shown.stdout
    refused = _pdfchat(settings, "flags", "set", "chat", name, "--enabled", "--percent", "200")
    assert refused.returncode == 1 and "rollout_percent" in refused.stdout
    missing = _pdfchat(settings, "flags", "get", "chat", f"{name}_none")
    assert missing.returncode == 1


async def test_the_flags_topic_is_compacted_on_the_broker(settings):
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics.FLAGS)]
        )
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert entries["cleanup.policy"] == "compact"


async def test_through_a_broker_outage_the_last_values_stay_and_a_change_arrives_after(
    stack, settings, token, tenant, name
):
    admin = {"Authorization": f"Bearer {token(tenant)}"}
    apps = {app: stack.pid(app) for app in ("worker-1", "web")}
    async with httpx.AsyncClient(base_url=settings.web_url, headers=admin) as http:

        async def everywhere(value: int) -> bool:
            live = (await _web_flag(http, name))["live"]
            seen = await _worker_flag(settings, tenant, name)
            return bool(live and seen and live["value"] == value == seen["value"])

        body = {"enabled": True, "rollout_percent": 100, "value": 1}
        assert (await http.put(f"/v1/flags/chat/{name}", json=body)).status_code == 200
        await wait_until(lambda: everywhere(1), within_s=WITHIN_S)
        stack.hold("kafka")
        stack.kill("kafka", signal.SIGKILL)
        try:
            # The database is up: the change commits, and waits in the outbox.
            put = await http.put(f"/v1/flags/chat/{name}", json=body | {"value": 2})
            assert put.status_code == 200, put.text
            assert await everywhere(1)  # the last known values stay
        finally:
            stack.release("kafka")
        await wait_until(lambda: stack.service("kafka").healthy(), within_s=OUTAGE_TIMEOUT_S)
        await wait_until(lambda: everywhere(2), within_s=OUTAGE_TIMEOUT_S)
    assert {app: stack.pid(app) for app in apps} == apps, "an app was restarted"
