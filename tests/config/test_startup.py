"""A process started with bad settings stops at once, naming the setting, before it serves or
consumes anything (not at its first request)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config import REPO_ROOT

START_TIMEOUT_S = 60


def _start(module: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    # Only these settings: none of the caller's PDFCHAT_* variables leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDFCHAT_")} | variables
    return subprocess.run(
        [sys.executable, "-m", *module],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


@pytest.mark.parametrize(
    ("module", "variables", "named"),
    [
        (
            ["web"],
            {"PDFCHAT_EXTERNAL_SERVICES": "true", "PDFCHAT_KAFKA_HOST": "kafka"},
            "PDFCHAT_DATABASE_URL is not set (nor PDFCHAT_POSTGRES_HOST)",
        ),
        (["agents", "worker"], {"PDFCHAT_WORKER_ROLE": "everything"}, "worker_role"),
        (
            ["agents", "worker"],
            {"PDFCHAT_WORKERS": "3", "PDFCHAT_TOPIC_PARTITIONS": "2"},
            "PDFCHAT_TOPIC_PARTITIONS=2 is fewer than the 3 workers",
        ),
    ],
)
def test_a_process_with_bad_settings_fails_at_start_naming_the_setting(
    module: list[str], variables: dict[str, str], named: str
) -> None:
    started = _start(module, **variables)
    assert started.returncode != 0
    assert named in started.stderr, started.stderr[-2000:]
