"""The Dockerfile, read as text (no Docker engine here): what the image must be, checked
against the project it packages."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

from cli.processes import free_port
from config import REPO_ROOT, Settings

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
HEALTHCHECK = REPO_ROOT / "ops" / "docker" / "healthcheck.py"


def _stages() -> list[list[str]]:
    """The instructions of each stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _instructions(stage: list[str], name: str) -> list[str]:
    return [line[len(name) + 1 :] for line in stage if line.upper().startswith(name + " ")]


def test_the_image_is_built_in_stages_on_slim_python_3_11() -> None:
    stages = _stages()
    assert len(stages) >= 2, "build and run stages"
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE)
    assert base and re.fullmatch(r"python:3\.11-slim(-\w+)?", base[1])
    assert all(_instructions(s, "FROM")[0].startswith("${PYTHON_IMAGE}") for s in stages)


def test_the_run_stage_has_no_build_tools_and_runs_as_nobody_special() -> None:
    run = _stages()[-1]
    text = "\n".join(run)
    assert not re.search(r"build-essential|\bgcc\b|\bg\+\+|\bmake\b", text)
    # The one thing installed there is what runs: Tesseract, which reads scanned PDFs.
    installs = re.findall(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", text)
    assert [i.split() for i in installs] == [["tesseract-ocr", "tesseract-ocr-eng"]], installs
    assert text.count("apt-get install") == 1
    (user,) = _instructions(run, "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "a numeric uid, so Kubernetes can see it is not root"
    assert _instructions(run, "HEALTHCHECK"), "the run stage declares a health check"


def test_every_package_of_the_project_is_copied() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {c.split()[0].strip("/") for c in _instructions(_stages()[0], "COPY")}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


def test_the_build_stage_unpacks_the_encoder_and_proves_it_loads() -> None:
    """retrieval/encoder.py's files come from Maven Central at build time, never at run time;
    the run stage gets them with /app (and no Maven)."""
    build, run = "\n".join(_stages()[0]), "\n".join(_stages()[-1])
    assert "COPY ops/models/pom.xml" in build
    unpack = build.index("mvn -q -f ops/models/pom.xml dependency:unpack")
    assert build.index("Encoder(Settings().encoder_dir)") > unpack
    assert "COPY --from=build /app /app" in run and "maven" not in run
    assert "ops/models/build" in (REPO_ROOT / ".dockerignore").read_text().split()


def test_the_image_settings_are_real_settings_and_name_external_services() -> None:
    env = dict(re.findall(r"\b(PDFCHAT_[A-Z0-9_]+)=(\S+)", "\n".join(_stages()[-1])))
    fields = {f"PDFCHAT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, f"not settings: {sorted(set(env) - fields)}"
    assert env["PDFCHAT_EXTERNAL_SERVICES"] == "true"
    assert env["PDFCHAT_WEB_HOST"] == "0.0.0.0"  # reachable from outside the container
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE  # nothing downloads weights at run time


def test_the_build_context_leaves_out_state_and_secrets() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".pdfchat", "ops/kafka/lib", "ops/k8s/build", "**/*.pem"):
        assert path in ignored


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _health_check(**env: str) -> int:
    clean = {"PATH": "/usr/bin:/bin", "PDFCHAT_HOME": "/nonexistent"} | env
    run = [sys.executable, str(HEALTHCHECK)]
    return subprocess.run(run, env=clean, cwd="/", timeout=30, capture_output=True).returncode


def test_the_health_check_passes_for_a_web_or_a_worker_server_and_fails_without() -> None:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Healthz)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert _health_check(PDFCHAT_WEB_PORT=str(port)) == 0
        assert _health_check(PDFCHAT_WORKER_WEB_PORT_BASE=str(port)) == 0
    finally:
        server.shutdown()
        server.server_close()
    quiet = str(free_port())
    assert _health_check(PDFCHAT_WEB_PORT=quiet, PDFCHAT_WORKER_WEB_PORT_BASE=quiet) == 1
