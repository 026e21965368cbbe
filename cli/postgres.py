"""PostgreSQL 16 + pgvector from the pgserver wheel, listening on 127.0.0.1."""

from __future__ import annotations

import os
import stat
import subprocess
import warnings
from pathlib import Path

from cli.processes import StartupError, log_tail, port_open, wait_until
from config import Settings

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import and warns when XDG_RUNTIME_DIR
    # is unset (as under CI); we never use that directory.
    warnings.simplefilter("ignore")
    from pgserver import _commands
    from pgserver.utils import (
        PostmasterInfo,
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

START_TIMEOUT_S = 60


class Postgres:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.postgres_port
        self.root = settings.home / "postgres"
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        # Postgres refuses to run as root; pgserver runs it as its own system user.
        self.user = "pgserver" if os.geteuid() == 0 else None

    def pid(self) -> int | None:
        info = PostmasterInfo.read_from_pgdata(self.data)
        return info.pid if info is not None and info.is_running() else None

    def healthy(self) -> bool:
        return self.pid() is not None and port_open(self.settings.postgres_host, self.port)

    def start(self) -> None:
        self._initialize()
        self._pg_ctl(
            "-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log),
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}",
            "start",
        )  # fmt: skip
        wait_until(self.healthy, within_s=START_TIMEOUT_S, what="postgres")
        self._ensure_database()

    def stop(self) -> None:
        if self.pid() is not None:
            self._pg_ctl("-w", "-m", "fast", "stop")

    def _initialize(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.root)
            bin_path = _commands.POSTGRES_BIN_PATH
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(bin_path.parent / "lib", readable)
            _chown(self.root, self.user)
        if not (self.data / "PG_VERSION").exists():
            # Trust on loopback only: this is the single-user local stack. Production points
            # PDFCHAT_DATABASE_URL at a managed server with password or certificate auth.
            _commands.initdb(
                ["--auth=trust", "--encoding=utf8", "-U", self.settings.postgres_user],
                pgdata=self.data, user=self.user,
            )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        try:
            _commands.pg_ctl(list(args), pgdata=self.data, user=self.user, timeout=120)
        except subprocess.CalledProcessError as exc:
            raise StartupError(f"pg_ctl {' '.join(args)} failed\n{log_tail(self.log)}") from exc

    def _ensure_database(self) -> None:
        db = self.settings.postgres_db
        connection = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.settings.postgres_user]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{db}'"
        exists = _commands.psql([*connection, "-d", "postgres", "-tAc", query])
        if exists.strip() != "1":
            _commands.psql([*connection, "-d", "postgres", "-c", f'CREATE DATABASE "{db}"'])
        _commands.psql([*connection, "-d", db, "-c", "CREATE EXTENSION IF NOT EXISTS vector"])


def _chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
