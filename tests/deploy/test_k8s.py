"""ops/k8s/: built with kustomize, validated with kubeconform -strict against the Kubernetes
and KEDA schemas (offline, from ops/k8s/install.py), then held to what an operator expects:
limits, probes on the ports the processes serve, secrets only from Secrets, one image,
selectors that select, and no more workers of a role than partitions."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml

import topics
from cli.stack import worker_spec
from config import REPO_ROOT, Settings

K8S = REPO_ROOT / "ops" / "k8s"
TOOLS = K8S / "build" / "bin"
SCHEMAS = K8S / "build" / "schemas"
TREES = {"base": (K8S / "base", "0.1.0"), "dev": (K8S / "overlays" / "dev", "dev")}
DEFAULTS = Settings()
# Settings read from a Secret only: the SecretStr ones, and the URL that carries a password.
SECRET_SETTINGS = {
    f"PDFCHAT_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation) or name == "database_url"
}
INGEST_TOPICS = (topics.PARSE_REQUESTED, topics.PARSED, topics.STATUS, topics.READY)


def _tool(name: str) -> str:
    path = TOOLS / name
    assert path.exists(), (
        f"{path} is missing: run make test (or .venv/bin/python ops/k8s/install.py)"
    )
    return str(path)


@cache
def _built(tree: str) -> str:
    path, _ = TREES[tree]
    run = [_tool("kustomize"), "build", str(path)]
    return subprocess.run(run, check=True, capture_output=True, text=True, timeout=60).stdout


def _objects(tree: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_built(tree)) if doc]


def _of_kind(tree: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in _objects(tree) if o["kind"] == kind}


def _pod_specs(tree: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in _objects(tree):
        if obj["kind"] in ("Deployment", "Job", "StatefulSet"):
            yield obj["metadata"]["name"], obj["spec"]["template"]


def _containers(tree: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, template in _pod_specs(tree):
        spec = template["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{name}/{container['name']}", container


def _config(tree: str) -> dict[str, str]:
    return dict(_of_kind(tree, "ConfigMap")["pdfchat-config"]["data"])


@pytest.mark.parametrize("tree", TREES)
def test_the_manifests_are_valid_kubernetes_and_keda(tree: str) -> None:
    validate = [
        _tool("kubeconform"),
        "-strict",
        "-summary",
        "-schema-location",
        str(SCHEMAS / "{{.ResourceKind}}{{.KindSuffix}}.json"),
        "-",
    ]
    result = subprocess.run(
        validate, input=_built(tree), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Skipped: 0" in result.stdout


@pytest.mark.parametrize("tree", TREES)
def test_the_whole_product_is_there(tree: str) -> None:
    deployments = _of_kind(tree, "Deployment")
    roles = {
        env["value"]
        for d in deployments.values()
        for c in d["spec"]["template"]["spec"]["containers"]
        for env in c.get("env", [])
        if env["name"] == "PDFCHAT_WORKER_ROLE"
    }
    assert roles == {"chat", "ingest"}, "one Deployment for each worker role"
    assert "pdfchat-web" in deployments
    (job,) = _of_kind(tree, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["pdfchat", "migrate"]
    hpa = _of_kind(tree, "HorizontalPodAutoscaler")["pdfchat-web"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "pdfchat-web"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


@pytest.mark.parametrize("tree", TREES)
def test_every_container_has_requests_limits_and_a_restricted_context(tree: str) -> None:
    for name, container in _containers(tree):
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert set(resources.get(kind, {})) >= {"cpu", "memory"}, f"{name}: {kind}"
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("capabilities", {}).get("drop") == ["ALL"], name
    for name, template in _pod_specs(tree):
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, name


@pytest.mark.parametrize("tree", TREES)
def test_probes_ask_the_port_and_path_each_process_serves(tree: str) -> None:
    argv = list(worker_spec(DEFAULTS, 1).argv)
    worker_port = int(argv[argv.index("--web-port") + 1])
    for name, container in _containers(tree):
        if name.startswith("pdfchat-migrate"):
            continue  # one-shot: it ends, it does not serve
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {kind: container.get(f"{kind}Probe") for kind in ("liveness", "readiness")}
        assert all(probes.values()), f"{name}: liveness and readiness probes"
        paths = {kind: p["httpGet"]["path"] for kind, p in probes.items() if p}
        probed = {ports[p["httpGet"]["port"]] for p in probes.values() if p}
        if name.startswith("pdfchat-web"):
            assert paths == {"liveness": "/healthz", "readiness": "/readyz"}, name
            assert probed == {DEFAULTS.web_port}, name
        else:
            # A worker's Faust web server serves /healthz (agents/health.py), on the port its
            # command gives it.
            command = container["command"]
            assert command[command.index("--web-port") + 1] == str(worker_port)
            assert command[command.index("--web-host") + 1] == "0.0.0.0", name
            assert paths == {"liveness": "/healthz", "readiness": "/healthz"}, name
            assert probed == {worker_port}, name


@pytest.mark.parametrize("tree", TREES)
def test_secrets_come_from_secret_objects_only(tree: str) -> None:
    assert not _of_kind(tree, "Secret"), "no Secret with its values in the manifests"
    assert not SECRET_SETTINGS & set(_config(tree)), "a secret setting in the ConfigMap"
    for name, container in _containers(tree):
        for env in container.get("env", []):
            if env["name"] in SECRET_SETTINGS:
                assert "value" not in env, f"{name}: {env['name']} as a literal"
                assert "secretKeyRef" in env["valueFrom"], f"{name}: {env['name']}"
        for source in container.get("envFrom", []):
            assert "configMapRef" in source or "secretRef" in source


@pytest.mark.parametrize("tree", TREES)
def test_the_settings_are_real_and_start_a_container(
    tree: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {f"PDFCHAT_{name.upper()}" for name in Settings.model_fields}
    config = _config(tree)
    assert set(config) <= fields, f"not settings: {sorted(set(config) - fields)}"
    for name, container in _containers(tree):
        env = {e["name"] for e in container.get("env", [])}
        assert env <= fields, f"{name}: not settings: {sorted(env - fields)}"
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PDFCHAT_EXTERNAL_SERVICES", "true")  # as the image sets
    monkeypatch.setenv("PDFCHAT_DATABASE_URL", "postgresql://pdfchat@postgres/pdfchat")
    Settings()  # the validators a container runs at start


@pytest.mark.parametrize("tree", TREES)
def test_one_image_everywhere(tree: str) -> None:
    _, tag = TREES[tree]
    images = {container["image"] for _, container in _containers(tree)}
    assert images == {f"pdfchat:{tag}"}


@pytest.mark.parametrize("tree", TREES)
def test_selectors_select_the_pods_they_mean(tree: str) -> None:
    pods = {
        name: o["spec"]["template"]["metadata"]["labels"]
        for name, o in _of_kind(tree, "Deployment").items()
    }
    for name, labels in pods.items():
        selector = _of_kind(tree, "Deployment")[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
    for kind in ("PodDisruptionBudget", "Service"):
        for name, obj in _of_kind(tree, kind).items():
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            chosen = [d for d, labels in pods.items() if selector.items() <= labels.items()]
            assert chosen == [name], f"{kind} {name} selects {chosen}"
    assert set(_of_kind(tree, "PodDisruptionBudget")) == set(pods), "a budget per Deployment"


@pytest.mark.parametrize("tree", TREES)
def test_ingest_workers_scale_on_their_lag_up_to_the_partitions(tree: str) -> None:
    partitions = int(_config(tree)["PDFCHAT_TOPIC_PARTITIONS"])
    (scaled,) = _of_kind(tree, "ScaledObject").values()
    assert scaled["spec"]["scaleTargetRef"]["name"] == "pdfchat-worker-ingest"
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= partitions, "workers beyond the partitions idle"
    assert "replicas" not in _of_kind(tree, "Deployment")["pdfchat-worker-ingest"]["spec"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert "pdfchat_consumer_lag_messages" in query and f'group="{DEFAULTS.app_id}"' in query
    # The topic matcher, as Prometheus reads it (a PromQL string escapes its backslashes).
    matcher = re.search(r'topic=~"([^"]+)"', query)
    assert matcher, query
    ingest = re.compile(matcher[1].replace("\\\\", "\\"))
    assert {t for t in topics.ALL_TOPICS if ingest.fullmatch(t)} == set(INGEST_TOPICS)
    chat = _of_kind(tree, "Deployment")["pdfchat-worker-chat"]["spec"]["replicas"]
    assert chat <= partitions
