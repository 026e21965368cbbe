"""Prometheus, Alertmanager and the trace collector (Jaeger v2) beside the local stack.

`pdfchat up --observability` starts them (``observability_services``, in that order) after
``ensure_installed``. Each renders its configuration from the templates in ops/observability/
into <home>/observability/ on every start, from the settings: scrape targets, alert
thresholds, ports, trace sampling. All of them listen on 127.0.0.1 only.

Prometheus and Alertmanager are Debian's (apt); Jaeger is built once from the Go module proxy
(no release binaries can be downloaded here), into ops/observability/build/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import string
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

from cli.processes import (
    Detached,
    StartupError,
    ensure_port_free,
    exclusive,
    http_ok,
    install_command,
    log_tail,
    port_open,
)
from config import REPO_ROOT, Settings

OPS_DIR = REPO_ROOT / "ops" / "observability"
CONSOLES_DIR = OPS_DIR / "consoles"
RULES_FILE = "pdfchat.rules.yml"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30
STOP_GRACE_S = 15
# Spans of one trace arriving within this time of its first are sampled together. Covers an
# answer's whole trace (HTTP, outbox relay, orchestrator, model); later spans of a kept trace
# are kept too (the collector's decision cache).
DECISION_WAIT_S = 10.0

DEBIAN_PACKAGES = ("prometheus", "prometheus-alertmanager")
DEBIAN_BINARIES = ("prometheus", "promtool", "prometheus-alertmanager")
APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
# Where distributions put prom.lib, the console library our consoles build on.
CONSOLE_LIBRARY_SOURCES = (
    Path("/usr/share/doc/prometheus/examples/console_libraries"),
    Path("/usr/share/prometheus/console_libraries"),
    Path("/etc/prometheus/console_libraries"),
)

JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_VERSION = "v1.76.0"
BUILD_DIR = OPS_DIR / "build"
JAEGER_BIN = BUILD_DIR / f"jaeger-{JAEGER_VERSION}" / "jaeger"
INSTALL_HINT = ".venv/bin/python -m cli.observability install"


class _Template(string.Template):
    # "@{name}": "$" is taken by Prometheus' own templates ($labels, $value) in the rules.
    delimiter = "@"


def config_dir(settings: Settings) -> Path:
    return settings.home / "observability"


def render_template(name: str, **fields: object) -> str:
    """ops/observability/<name>.tmpl with its @{fields}; a field left out is an error."""
    text = (OPS_DIR / f"{name}.tmpl").read_text()
    return _Template(text).substitute({key: str(value) for key, value in fields.items()})


def duration(seconds: float) -> str:
    """Seconds as a Prometheus duration, which takes whole units only ("2m", "1500ms")."""
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def rules_text(settings: Settings) -> str:
    """The alert rules with this stack's thresholds."""
    return render_template(
        "rules/pdfchat.rules.yml",
        lag_messages=settings.alert_lag_messages,
        task_deadline_s=f"{settings.document_deadline_s:g}",
        ttft_s=f"{settings.chat_interactive_ttft_ms / 1000:g}",
        **{"for": duration(settings.alert_for_s)},
    )


def render_rules(settings: Settings, directory: Path) -> Path:
    """The alert rules as <directory>/pdfchat.rules.yml (where the unit tests expect them)."""
    path = directory / RULES_FILE
    _write_if_changed(path, rules_text(settings))
    return path


def write_targets(settings: Settings, workers: Iterable[int] | None = None) -> Path:
    """The scrape targets (file_sd JSON), one file per job; Prometheus re-reads them by itself,
    so call this again when workers are added (``workers``: their numbers, default
    1..settings.workers)."""
    directory = config_dir(settings) / "targets"
    numbers = range(1, settings.workers + 1) if workers is None else sorted(set(workers))
    worker_targets = [
        _target(settings.worker_web_port_base + n - 1, f"worker-{n}") for n in numbers
    ]
    _write_if_changed(directory / "workers.json", json.dumps(worker_targets, indent=1))
    web = [_target(settings.web_port, "web", host=_scrape_host(settings.web_host))]
    _write_if_changed(directory / "web.json", json.dumps(web, indent=1))
    supervisor = [_target(settings.supervisor_port, "supervisor")]
    _write_if_changed(directory / "supervisor.json", json.dumps(supervisor, indent=1))
    return directory


def _target(port: int, service: str, *, host: str = HOST) -> dict[str, object]:
    return {"targets": [f"{host}:{port}"], "labels": {"service": service}}


def _scrape_host(host: str) -> str:
    # A server bound to every interface is reached on loopback.
    return HOST if host in ("", "0.0.0.0", "::") else host


def _write_if_changed(path: Path, text: str) -> bool:
    """Write atomically (Prometheus watches the targets files) and only on a change; True if
    the file changed."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return True


class Daemon(Detached):
    """A detached server of ours on 127.0.0.1 with a pid file, a log and a rendered config.

    ``start`` is safe to repeat: when the server already runs, a changed config is applied
    (``_apply``) instead of starting a second one.
    """

    port: int
    stop_grace_s = STOP_GRACE_S

    def __init__(self, settings: Settings, port: int, config_name: str) -> None:
        super().__init__(settings)
        self.port = port
        self.dir = config_dir(settings)
        self.config = self.dir / config_name

    def healthy(self) -> bool:
        return self.pid() is not None and self._answers()

    def start(self) -> None:
        changed = self.render()
        if self.healthy():
            if changed:
                try:
                    self._apply()
                except StartupError:
                    # Refused: the server runs on with its old config. Without this file the
                    # next start renders it anew and tries again, instead of seeing no change.
                    self.config.unlink(missing_ok=True)
                    raise
            return
        if self.pid() is not None:
            self.stop()  # running but not answering: start afresh
        self._launch()

    def render(self) -> bool:
        """Write this server's configuration; True if it changed."""
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        raise NotImplementedError

    def _apply(self) -> None:
        """Make a running server use its new configuration."""
        self.stop()
        self._launch()

    def _launch(self) -> None:
        command = self._command()
        if shutil.which(command[0]) is None:
            raise StartupError(f"{self.name}: {command[0]} not found; run {INSTALL_HINT}")
        ensure_port_free(HOST, self.port, self.name)
        self.launch(command, env=os.environ, ready=self._ready, within_s=START_TIMEOUT_S)

    def _ready(self) -> bool:
        if self.pid() is None:
            raise StartupError(f"{self.name} exited during start-up")
        return self._answers()


class PrometheusStyleDaemon(Daemon):
    """Prometheus and Alertmanager: ready at /-/ready, and a new config is applied by
    POST /-/reload, which refuses a bad one and keeps the old."""

    def __init__(self, settings: Settings, port: int, config_name: str) -> None:
        super().__init__(settings, port, config_name)
        self.url = f"http://{HOST}:{port}"

    def _answers(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    def _apply(self) -> None:
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=10, trust_env=False)
        except httpx.HTTPError as exc:
            raise StartupError(f"{self.name}: reloading the configuration failed: {exc}") from exc
        if response.status_code != 200:
            raise StartupError(
                f"{self.name} refused its new configuration: {response.text.strip()}\n"
                f"{log_tail(self.log)}"
            )


class Prometheus(PrometheusStyleDaemon):
    """Scrapes the web server, every worker and the supervisor; evaluates the alert rules;
    serves the consoles at /consoles/index.html."""

    name = "prometheus"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.prometheus_port, "prometheus.yml")

    def render(self) -> bool:
        write_targets(self.settings)
        rules_changed = _write_if_changed(
            self.dir / "rules" / RULES_FILE, rules_text(self.settings)
        )
        _install_console_libraries(self.dir / "console_libraries")
        interval = self.settings.scrape_interval_s
        text = render_template(
            "prometheus.yml",
            scrape_interval=duration(interval),
            scrape_timeout=duration(min(interval, 10.0)),
            alertmanager_port=self.settings.alertmanager_port,
            prometheus_port=self.port,
            rules_dir=self.dir / "rules",
            targets_dir=self.dir / "targets",
        )
        return _write_if_changed(self.config, text) or rules_changed

    def _command(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self.config}",
            f"--web.listen-address={HOST}:{self.port}",
            f"--web.external-url={self.url}/",  # links in alerts point here, not the hostname
            f"--storage.tsdb.path={self.dir / 'prometheus-data'}",
            f"--web.console.templates={CONSOLES_DIR}",
            f"--web.console.libraries={self.dir / 'console_libraries'}",
            "--web.enable-lifecycle",  # /-/reload, so new thresholds need no restart
            "--log.format=json",
        ]


class Alertmanager(PrometheusStyleDaemon):
    """Groups and routes the alerts; lists them at /api/v2/alerts, and posts them to a webhook
    when one is configured (``webhook_url``, or a setting ``alert_webhook_url``)."""

    name = "alertmanager"

    def __init__(self, settings: Settings, *, webhook_url: str | None = None) -> None:
        super().__init__(settings, settings.alertmanager_port, "alertmanager.yml")
        self.webhook_url = webhook_url or getattr(settings, "alert_webhook_url", None)

    def render(self) -> bool:
        if self.webhook_url:
            receiver = "webhook"
            block = (
                "  - name: webhook\n    webhook_configs:\n"
                f"      - url: {json.dumps(self.webhook_url)}\n        send_resolved: true\n"
            )
        else:
            receiver, block = '"null"', ""
        text = render_template("alertmanager.yml", receiver=receiver, webhook_receiver=block)
        return _write_if_changed(self.config, text)

    def _command(self) -> list[str]:
        return [
            "prometheus-alertmanager",
            f"--config.file={self.config}",
            f"--web.listen-address={HOST}:{self.port}",
            "--cluster.listen-address=",  # no gossip port: one instance, and no 0.0.0.0:9094
            f"--storage.path={self.dir / 'alertmanager-data'}",
            "--log.format=json",
        ]


class Collector(Daemon):
    """Jaeger v2: takes OTLP/HTTP on collector_otlp_port, keeps what tail sampling keeps (in
    memory) and serves it on collector_query_port (/api/traces/<id>, /api/v3/...)."""

    name = "collector"

    def __init__(self, settings: Settings, *, decision_wait_s: float = DECISION_WAIT_S) -> None:
        super().__init__(settings, settings.collector_otlp_port, "jaeger.yaml")
        self.query_port = settings.collector_query_port
        self.query_url = f"http://{HOST}:{self.query_port}"
        self.otlp_url = f"http://{HOST}:{self.port}"
        self.decision_wait_s = decision_wait_s

    def render(self) -> bool:
        text = render_template(
            "jaeger.yaml",
            otlp_port=self.port,
            query_port=self.query_port,
            decision_wait=duration(self.decision_wait_s),
            slow_ms=self.settings.trace_slow_ms,
            sample_percent=f"{self.settings.trace_sample_percent:g}",
        )
        return _write_if_changed(self.config, text)

    def _command(self) -> list[str]:
        if not JAEGER_BIN.exists():
            raise StartupError(f"collector: Jaeger is not built yet; run {INSTALL_HINT}")
        return [str(JAEGER_BIN), "--config", f"file:{self.config}"]

    def _launch(self) -> None:
        ensure_port_free(HOST, self.query_port, self.name)
        super()._launch()

    def _answers(self) -> bool:
        return port_open(HOST, self.port) and http_ok(f"{self.query_url}/api/services")

    # _apply: the collector cannot reload; a changed config restarts it, and the traces it
    # held in memory are gone (they are a debugging aid, not a record).


def observability_services(settings: Settings) -> list[Daemon]:
    """In start order: the collector (apps export to it from their first request), then
    Alertmanager (Prometheus sends alerts to it), then Prometheus. Stop in reverse."""
    return [Collector(settings), Alertmanager(settings), Prometheus(settings)]


def _install_console_libraries(directory: Path) -> None:
    """Prometheus' own prom.lib (from the distribution) beside ours: menu.lib's navigation
    replaces the example one (node exporter pages we do not have)."""
    directory.mkdir(parents=True, exist_ok=True)
    for library in (OPS_DIR / "console_libraries").glob("*.lib"):
        _write_if_changed(directory / library.name, library.read_text())
    for source in CONSOLE_LIBRARY_SOURCES:
        if (source / "prom.lib").exists():
            _write_if_changed(directory / "prom.lib", (source / "prom.lib").read_text())
            return
    # Without prom.lib Prometheus runs and alerts all the same; only the consoles say it lacks.


# --- installation -----------------------------------------------------------------------------


def ensure_installed(settings: Settings) -> None:
    """The install step: Debian's Prometheus, promtool and Alertmanager (apt-get as root), and
    the Jaeger binary, built once from the Go module proxy (about 6 minutes and 2.3 GB of RAM
    cold; its log is <log_dir>/jaeger-build.log)."""
    _ensure_debian_binaries()
    _ensure_jaeger(settings.log_dir / "jaeger-build.log")


def _missing_binaries() -> list[str]:
    return [binary for binary in DEBIAN_BINARIES if shutil.which(binary) is None]


def _ensure_debian_binaries() -> None:
    missing = _missing_binaries()
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install()
        missing = _missing_binaries()
    if missing:
        raise StartupError(
            f"observability needs {', '.join(missing)}; install them with:\n"
            f"  sudo {' '.join(APT_INSTALL)}"
        )


def _apt_install() -> None:
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    if _run(APT_INSTALL, env=env).returncode == 0:
        return
    # A fresh machine has no package lists yet.
    _run(["apt-get", "update", "-qq"], env=env)
    result = _run(APT_INSTALL, env=env)
    if result.returncode != 0:
        raise StartupError(f"{' '.join(APT_INSTALL)} failed:\n{result.stdout[-2000:]}")


def _run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )


def _ensure_jaeger(log: Path) -> None:
    if JAEGER_BIN.exists():
        return
    if shutil.which("go") is None:
        raise StartupError(
            f"the trace collector is built from source and needs Go 1.24 or newer on the PATH "
            f"(https://go.dev/dl/), then: {INSTALL_HINT}"
        )
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with exclusive(BUILD_DIR / "jaeger.lock"):  # one build at a time, across processes
        if not JAEGER_BIN.exists():
            _build_jaeger(log)


def _build_jaeger(log: Path) -> None:
    """`go install ...@version` refuses the module (its go.mod has replace directives), so
    download it, copy it out of the read-only module cache and build it there."""
    print(f"building Jaeger {JAEGER_VERSION} (once; about 6 minutes) ...", file=sys.stderr)
    started = time.monotonic()
    # GOTOOLCHAIN=local: the Go on the PATH builds it, never one downloaded for the purpose.
    env = os.environ | {"GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    log.parent.mkdir(parents=True, exist_ok=True)
    download = ["go", "mod", "download", "-json", f"{JAEGER_MODULE}@{JAEGER_VERSION}"]
    result = _run(download, env=env, cwd=BUILD_DIR)
    log.write_text(result.stdout)
    if result.returncode != 0:
        raise StartupError(f"{' '.join(download)} failed\n{log_tail(log)}")
    source = BUILD_DIR / f"jaeger-{JAEGER_VERSION}-src"
    _remove_tree(source)
    shutil.copytree(json.loads(result.stdout)["Dir"], source)
    _make_writable(source)
    partial = JAEGER_BIN.with_name("jaeger.partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    build = ["go", "build", "-o", str(partial), "./cmd/jaeger"]
    result = _run(build, env=env, cwd=source)
    with log.open("a") as handle:
        handle.write(result.stdout)
    if result.returncode != 0:
        raise StartupError(f"building Jaeger failed: {' '.join(build)}\n{log_tail(log)}")
    partial.replace(JAEGER_BIN)  # only a complete binary ever has the final name
    _remove_tree(source)
    print(f"built {JAEGER_BIN} in {time.monotonic() - started:.0f} s", file=sys.stderr)


def _make_writable(root: Path) -> None:
    # The module cache is read-only; go build writes nothing there, but we delete it after.
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _remove_tree(root: Path) -> None:
    if root.exists():
        _make_writable(root)
        shutil.rmtree(root)


def main(argv: Sequence[str]) -> int:
    """`python -m cli.observability install`: what `make install` runs."""
    return install_command(argv, "cli.observability", lambda: ensure_installed(Settings()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
