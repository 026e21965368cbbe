"""PostgreSQL 16 + pgvector from the pgserver wheel, listening on 127.0.0.1."""

from __future__ import annotations

import os
import pwd
import shlex
import stat
import subprocess
import warnings
from pathlib import Path
from typing import Any

from cli.processes import (
    StackError,
    StartupError,
    ensure_port_free,
    log_tail,
    port_open,
    same_process,
)
from config import Settings

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import and warns when XDG_RUNTIME_DIR
    # is unset (as under CI); we never use that directory.
    warnings.simplefilter("ignore")
    from pgserver import _commands as pgserver_commands
    from pgserver.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

# pgserver makes initdb, pg_ctl and psql at import time, where a type checker cannot see them.
_commands: Any = pgserver_commands

START_TIMEOUT_S = 60
# Postgres refuses to run as root; as root we run it as pgserver's own system user.
SYSTEM_USER = "pgserver"
# sun_path is 108 bytes on Linux; a longer socket path makes the postmaster refuse to start.
MAX_SOCKET_PATH = 107


class Postgres:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = settings.postgres_port
        self.root = settings.home / "postgres"
        self.data = self.root / "data"
        self.log = settings.log_dir / "postgres.log"
        self.user = SYSTEM_USER if os.geteuid() == 0 else None

    def pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, if that process is still the postmaster."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
            pid, started_at = int(lines[0]), float(lines[2])
        except (OSError, ValueError, IndexError):
            return None
        # postmaster.pid keeps whole seconds of the start time.
        return pid if same_process(pid, started_at, tolerance_s=2.0) else None

    def healthy(self) -> bool:
        return self.pid() is not None and port_open(self.host, self.port)

    def start(self) -> None:
        ensure_port_free(self.host, self.port, self.name)
        self._initialize()
        options = f"-h {self.host} -p {self.port} -k {shlex.quote(self._socket_dir())}"
        # -w: pg_ctl returns once the server accepts connections (or fails after -t seconds).
        self._pg_ctl("-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log), "-o", options, "start")
        if not self.healthy():
            raise StartupError(f"postgres did not come up\n{log_tail(self.log)}")
        self._ensure_database()

    def stop(self) -> None:
        if self.pid() is not None:
            self._pg_ctl("-w", "-m", "fast", "stop")

    def _socket_dir(self) -> str:
        """The data's parent dir for a local socket (handy for psql -h), or none if too long."""
        fits = len(str(self.root / f".s.PGSQL.{self.port}")) <= MAX_SOCKET_PATH
        return str(self.root) if fits else ""

    def _initialize(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if self.user is not None:
            self._grant_system_user()
        if not (self.data / "PG_VERSION").exists():
            # Trust on loopback only: this is the single-user local stack on 127.0.0.1.
            # Production points PDFCHAT_DATABASE_URL at a server with password or TLS auth.
            _commands.initdb(
                ["--auth=trust", "--encoding=utf8", "-U", self.settings.postgres_user],
                pgdata=self.data,
                user=self.user,
            )

    def _grant_system_user(self) -> None:
        """Let the system user reach the binaries and own its directories and log file,
        as pgserver's own get_server() does."""
        assert self.user is not None
        ensure_user_exists(self.user)
        bin_path = _commands.POSTGRES_BIN_PATH
        for path in (self.root, self.log, bin_path):
            ensure_prefix_permissions(path)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path.parent / "lib", readable)
        for path in (self.root, self.log):
            _chown(path, self.user)

    def _pg_ctl(self, *args: str) -> None:
        try:
            _commands.pg_ctl(list(args), pgdata=self.data, user=self.user, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            error = StartupError if args[-1] == "start" else StackError
            raise error(f"pg_ctl {args[-1]} failed\n{log_tail(self.log)}") from exc

    def _ensure_database(self) -> None:
        db = self.settings.postgres_db
        if not self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = {_literal(db)}"):
            self._psql("postgres", f"CREATE DATABASE {_identifier(db)}")
        self._psql(db, "CREATE EXTENSION IF NOT EXISTS vector")

    def _psql(self, db: str, sql: str) -> str:
        args = [
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.settings.postgres_user,
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ]
        try:
            output: str = _commands.psql(args)
            return output.strip()
        except subprocess.CalledProcessError as exc:
            raise StartupError(f"psql failed on {db}: {sql}\n{log_tail(self.log)}") from exc


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
