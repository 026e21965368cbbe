"""Keycloak beside the local stack: a real OpenID Connect provider for development and tests.

`pdfchat up --oidc keycloak` fetches Keycloak once (``ensure_installed``: the Quarkus
distribution from Maven Central, through ops/keycloak/pom.xml, unzipped into
ops/keycloak/build/, git-ignored), starts it in dev mode on 127.0.0.1 with the realm of
ops/keycloak/realm.json.tmpl imported, and runs the web server with ``oidc_issuer`` set to
that realm, so it accepts Keycloak's access tokens and no development token.

Each home runs its own server directory, <home>/keycloak/server: a copy of ``kc.sh`` (which
takes its home from where it lies) beside links to the shared distribution, and a ``data``
directory of its own, emptied on every start. The realm is imported afresh each time (an
import never overwrites an existing realm), so a restart also gives the realm new signing keys.

The realm, its client secret and its users' passwords are for development only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from cli.processes import (
    Detached,
    StartupError,
    ensure_port_free,
    exclusive,
    http_ok,
    install_command,
    require_java_and_maven,
)
from config import REPO_ROOT, Settings

VERSION = "26.7.3"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:zip"
OPS_DIR = REPO_ROOT / "ops" / "keycloak"
BUILD_DIR = OPS_DIR / "build"
DIST_DIR = BUILD_DIR / f"keycloak-{VERSION}"
ZIP = BUILD_DIR / f"keycloak-quarkus-dist-{VERSION}.zip"
REALM = "pdfchat"
HOST = "127.0.0.1"
# The first start after fetching (or after a build option changes) re-augments Quarkus:
# about a minute alone on two cores; later starts take 13-22 s.
START_TIMEOUT_S = 240
STOP_GRACE_S = 30
SHARED = ("conf", "lib", "providers", "themes")
INSTALL_HINT = ".venv/bin/python -m cli.keycloak install"
# "@{name}" in the realm template ("$" is Keycloak's own, as in the user profile's "${username}").
_FIELD = re.compile(r"@\{(\w+)\}")
# Demo users of the realm (development only): username -> (password, tenant, roles).
DEMO_USERS = {
    "alice": ("alice-dev-password", "acme", ("admin", "analyst")),
    "bob": ("bob-dev-password", "acme", ("viewer",)),
    "carol": ("carol-dev-password", "globex", ("editor",)),
}


def issuer(settings: Settings) -> str:
    """The realm's issuer: fixed by --hostname, whichever address a client used."""
    return f"http://{HOST}:{settings.keycloak_port}/realms/{REALM}"


def token_url(settings: Settings) -> str:
    return f"{issuer(settings)}/protocol/openid-connect/token"


def realm_text(settings: Settings) -> str:
    """The realm to import, from ops/keycloak/realm.json.tmpl and the settings."""
    client_id = settings.keycloak_client_id
    fields = {
        "client_id": client_id,
        "client_secret": settings.keycloak_client_secret.get_secret_value(),
        "audience": settings.jwt_audience,
        "service_account": f"service-account-{client_id.lower()}",
    }
    text = (OPS_DIR / "realm.json.tmpl").read_text()
    return _FIELD.sub(lambda field: json.dumps(fields[field.group(1)]), text)


def recorded_file(settings: Settings) -> Path:
    return settings.home / "keycloak" / "enabled"


def record(settings: Settings, enabled: bool) -> None:
    """Remember for this home whether `up` runs Keycloak (`--oidc keycloak` or `none`)."""
    path = recorded_file(settings)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keycloak\n")
    else:
        path.unlink(missing_ok=True)


def chosen(settings: Settings, oidc: str | None) -> tuple[Settings, bool]:
    """Whether `up` runs Keycloak (``oidc``: "keycloak" or "none" from --oidc, remembered for
    this home; None: as last time), and the settings to run with: Keycloak's realm is the
    issuer unless they name one themselves (PDFCHAT_OIDC_ISSUER)."""
    if oidc is not None:
        record(settings, oidc == "keycloak")
    wanted = recorded_file(settings).exists()
    if wanted and settings.oidc_issuer is None:
        settings = settings.model_copy(update={"oidc_issuer": issuer(settings)})
    return settings, wanted


class Keycloak(Detached):
    """Keycloak in dev mode on keycloak_port (HTTP, the realm) and keycloak_management_port
    (ready at /health/ready)."""

    name = "keycloak"
    stop_grace_s = STOP_GRACE_S

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.port = settings.keycloak_port
        self.management_port = settings.keycloak_management_port
        self.server = settings.home / "keycloak" / "server"
        self.realm_file = self.server / "data" / "import" / f"{REALM}-realm.json"

    def healthy(self) -> bool:
        return self.pid() is not None and self._ready_url_ok()

    def start(self) -> None:
        if not (DIST_DIR / "bin" / "kc.sh").exists():
            raise StartupError(f"keycloak: not fetched yet; run {INSTALL_HINT}")
        ensure_port_free(HOST, self.port, self.name)
        ensure_port_free(HOST, self.management_port, self.name)
        self._prepare_server()
        # One start at a time across homes: a first start writes the shared distribution's
        # augmentation (lib/quarkus).
        with exclusive(BUILD_DIR / "keycloak.lock"):
            self.launch(
                self._command(), env=os.environ, ready=self._ready, within_s=START_TIMEOUT_S
            )

    def _prepare_server(self) -> None:
        bin_dir = self.server / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DIST_DIR / "bin" / "kc.sh", bin_dir / "kc.sh")
        for name in SHARED:
            link = self.server / name
            if not link.is_symlink():
                link.symlink_to(DIST_DIR / name, target_is_directory=True)
        shutil.rmtree(self.server / "data", ignore_errors=True)
        self.realm_file.parent.mkdir(parents=True)
        self.realm_file.write_text(realm_text(self.settings))

    def _command(self) -> list[str]:
        return [
            str(self.server / "bin" / "kc.sh"),
            "start-dev",
            f"--http-host={HOST}",
            f"--http-port={self.port}",
            f"--hostname=http://{HOST}:{self.port}",
            f"--http-management-port={self.management_port}",
            "--health-enabled=true",
            "--import-realm",
        ]

    def _ready(self) -> bool:
        if self.pid() is None:
            raise StartupError(f"{self.name} exited during start-up")
        return self._ready_url_ok()

    def _ready_url_ok(self) -> bool:
        return http_ok(f"http://{HOST}:{self.management_port}/health/ready")


# --- installation -----------------------------------------------------------------------------


def ensure_installed() -> None:
    """Fetch Keycloak from Maven Central with Maven (177 MB, once) and unzip it."""
    if (DIST_DIR / "bin" / "kc.sh").exists():
        return
    require_java_and_maven("Keycloak")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with exclusive(BUILD_DIR / "fetch.lock"):  # one fetch at a time, across processes
        if not (DIST_DIR / "bin" / "kc.sh").exists():
            _fetch()


def _fetch() -> None:
    print(f"fetching Keycloak {VERSION} from Maven Central (177 MB, once) ...", file=sys.stderr)
    started = time.monotonic()
    if not ZIP.exists():
        command = [
            "mvn",
            "-q",
            "-f",
            str(OPS_DIR / "pom.xml"),
            "dependency:copy",
            f"-Dartifact={ARTIFACT}",
            f"-DoutputDirectory={BUILD_DIR}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-3000:]
            raise StartupError(f"fetching Keycloak failed: {' '.join(command)}\n{output}")
    partial = BUILD_DIR / "unzipping"
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(ZIP) as archive:
        archive.extractall(partial)
    for script in (partial / DIST_DIR.name / "bin").glob("*.sh"):
        script.chmod(0o755)  # zipfile keeps no modes
    (partial / DIST_DIR.name).replace(DIST_DIR)  # only a complete tree gets the final name
    partial.rmdir()
    print(f"fetched {DIST_DIR} in {time.monotonic() - started:.0f} s", file=sys.stderr)


def main(argv: list[str]) -> int:
    """`python -m cli.keycloak install`: what `make test` runs."""
    return install_command(argv, "cli.keycloak", ensure_installed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
