"""Settings travel to child processes as PDFCHAT_* variables and must read back the same."""

from __future__ import annotations

import pytest

from config import get_settings


def test_every_setting_survives_the_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = get_settings(
        tenant_budgets_usd={"acme": 12.5, "globex": 0.0},
        chat_models="openai:gpt-4o-mini,local:extractive",
        log_json=False,
    )
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)
    assert get_settings() == original
