"""The `pdfchat` command against the session's stack, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import pdfgen

pytestmark = pytest.mark.stack

PDFCHAT = str(Path(sys.executable).with_name("pdfchat"))


def _run(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.to_env() | {"COLUMNS": "200"}
    return subprocess.run([PDFCHAT, *args], env=env, capture_output=True, text=True, timeout=180)


def test_status_lists_every_service_healthy(settings):
    result = _run(settings, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("postgres", "kafka", "worker-1", "web"):
        assert name in result.stdout
    assert str(settings.web_port) in result.stdout


def test_token_is_accepted_by_the_api_and_scoped_to_its_tenant(settings, tenant):
    token = _run(settings, "token", "--tenant", tenant, "--user", "ann", "--role", "viewer")
    assert token.returncode == 0, token.stderr
    response = httpx.get(
        f"{settings.web_url}/v1/documents",
        headers={"Authorization": f"Bearer {token.stdout.strip()}"},
    )
    assert response.status_code == 200
    assert response.json()["documents"] == []
    bad = _run(settings, "token", "--tenant", "no spaces allowed")
    assert bad.returncode != 0 and "tenant must match" in bad.stderr


def test_without_a_tenant_token_ingest_and_ask_agree_on_one(settings, tmp_path):
    note = tmp_path / "note.pdf"
    note.write_bytes(pdfgen.text_pdf([[("p", "The boiler is serviced every October.")]]))
    assert _run(settings, "ingest", str(note)).returncode == 0
    token = _run(settings, "token").stdout.strip()
    listed = httpx.get(
        f"{settings.web_url}/v1/documents", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert "note.pdf" in [d["filename"] for d in listed["documents"]]


def test_ingest_follows_each_file_to_the_end(settings, tenant, tmp_path):
    good, locked, text = tmp_path / "good.pdf", tmp_path / "locked.pdf", tmp_path / "notes.txt"
    good.write_bytes(pdfgen.sample_pdf(3, seed=41))
    locked.write_bytes(pdfgen.encrypted_pdf())
    text.write_text("not a pdf")

    result = _run(settings, "ingest", "--tenant", tenant, str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ready (3 pages" in result.stdout
    good.write_bytes(pdfgen.sample_pdf(1, seed=42))
    result = _run(settings, "ingest", "--tenant", tenant, str(good))
    assert "ready (1 page," in result.stdout, result.stdout  # not "1 pages"

    result = _run(settings, "ingest", "--tenant", tenant, str(locked), str(text))
    assert result.returncode == 1
    assert "locked.pdf: failed (encrypted)" in result.stdout
    assert "notes.txt: not uploaded: 415 not_pdf" in result.stdout


def test_ask_streams_the_answer_then_its_sources(settings, tenant, tmp_path):
    handbook = tmp_path / "handbook.pdf"
    handbook.write_bytes(
        pdfgen.text_pdf(
            [
                [
                    ("h1", "Opening Hours"),
                    (
                        "p",
                        "The reading room of the Harbour Library opens at nine in the morning and "
                        "closes at half past six in the evening, except on Sundays, when it stays "
                        "closed.",
                    ),
                ]
            ]
        )
    )
    assert _run(settings, "ingest", "--tenant", tenant, str(handbook)).returncode == 0

    result = _run(settings, "ask", "--tenant", tenant, "When does the reading room close?")
    assert result.returncode == 0, result.stdout + result.stderr
    answer, _, sources = result.stdout.partition("\nSources:\n")
    assert "half past six" in answer
    assert sources.startswith("  [1] handbook.pdf, page 1: \u201c")
    assert "local:extractive" in result.stderr and "conversation " in result.stderr

    conversation = result.stderr.split("conversation ")[1].split()[0]
    follow = _run(
        settings, "ask", "--tenant", tenant, "--conversation", conversation, "And on Sundays?"
    )
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert "closed" in follow.stdout.partition("\nSources:\n")[0]

    refused = _run(settings, "ask", "--tenant", tenant, "   ")
    assert refused.returncode == 1 and "question must not be empty" in refused.stderr
