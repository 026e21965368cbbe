from __future__ import annotations

import pytest

from config import get_settings
from core.errors import InvalidInput
from llm.catalog import BUILTIN, LOCAL_MODEL, Catalog, ModelInfo, Need, Router, cost_usd
from llm.errors import BudgetExceeded, ContextTooLong


def catalog(*models: ModelInfo) -> Catalog:
    return Catalog(models)


BIG = ModelInfo("openai:big", 128_000, 2.50, 10.00, ttft_ms=2000)
SMALL = ModelInfo("openai:small", 128_000, 0.15, 0.60, ttft_ms=400)
TINY_WINDOW = ModelInfo("openai:tiny", 4_096, 0.10, 0.40, ttft_ms=300)
LOCAL = BUILTIN[LOCAL_MODEL]


def router(*models: ModelInfo, open_: frozenset[str] = frozenset()) -> Router:
    return Router(catalog(*models), interactive_ttft_ms=1500, is_open=lambda m: m in open_)


def names(models: list[ModelInfo]) -> list[str]:
    return [m.model for m in models]


NEED = Need(min_prompt_tokens=3_500, full_prompt_tokens=5_000, reply_tokens=800)


def test_cost_arithmetic() -> None:
    # gpt-4o: 2.50 USD per 1M in, 10.00 per 1M out
    assert cost_usd("openai:gpt-4o", 1_000_000, 0) == pytest.approx(2.50)
    assert cost_usd("openai:gpt-4o", 2_000, 500) == pytest.approx(0.005 + 0.005)
    assert cost_usd("openai:gpt-4o-mini", 10_000, 1_000) == pytest.approx(0.0015 + 0.0006)
    assert cost_usd("cohere:command-r", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd(LOCAL_MODEL, 10**9, 10**9) == 0.0
    with pytest.raises(InvalidInput):
        cost_usd("openai:unknown-model", 1, 1)


def test_catalog_from_settings_keeps_order_and_applies_overrides() -> None:
    settings = get_settings(
        chat_models="openai:gpt-4o, openai:llama3.1 ,local:extractive,openai:gpt-4o",
        chat_model_overrides=(
            '{"openai:llama3.1": {"context_window": 8192, "usd_in_per_m": 0.1,'
            ' "usd_out_per_m": 0.2, "base_url": "http://127.0.0.1:8000/v1"},'
            ' "openai:gpt-4o": {"usd_in_per_m": 2.0}}'
        ),
    )
    cat = Catalog.from_settings(settings)
    assert names(cat.models) == ["openai:gpt-4o", "openai:llama3.1", LOCAL_MODEL]
    assert cat["openai:gpt-4o"].usd_in_per_m == 2.0
    assert cat["openai:gpt-4o"].usd_out_per_m == 10.0  # the rest from the built-in table
    assert cat["openai:llama3.1"].context_window == 8192
    assert cat["openai:llama3.1"].base_url == "http://127.0.0.1:8000/v1"
    assert cat.cost_usd("openai:llama3.1", 1_000_000, 1_000_000) == pytest.approx(0.3)


def test_unknown_model_gets_safe_defaults() -> None:
    cat = Catalog.from_settings(get_settings(chat_models="openai:my-vllm-model"))
    assert cat["openai:my-vllm-model"].context_window == 8192
    assert cat.cost_usd("openai:my-vllm-model", 1000, 1000) == 0.0


@pytest.mark.parametrize(
    ("models", "overrides"),
    [
        ("gpt-4o", ""),
        ("bard:gemini", ""),
        ("local:llama", ""),
        ("", ""),
        ("openai:gpt-4o", "{not json"),
        ("openai:gpt-4o", '{"openai:gpt-4o": {"price": 1}}'),
        ("openai:gpt-4o", '["openai:gpt-4o"]'),
    ],
)
def test_bad_configuration_is_a_clear_error(models: str, overrides: str) -> None:
    with pytest.raises(InvalidInput):
        Catalog.from_settings(get_settings(chat_models=models, chat_model_overrides=overrides))


def test_preference_order_when_everything_fits() -> None:
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, 100.0)) == [
        "openai:big",
        "openai:small",
        LOCAL_MODEL,
    ]


def test_a_window_too_small_is_skipped() -> None:
    assert names(router(TINY_WINDOW, SMALL).choose(NEED, None)) == ["openai:small"]
    # The history alone does not disqualify: it is trimmed to fit.
    need = Need(min_prompt_tokens=2_000, full_prompt_tokens=50_000, reply_tokens=800)
    assert names(router(TINY_WINDOW).choose(need, None)) == ["openai:tiny"]


def test_nothing_large_enough_is_context_too_long() -> None:
    with pytest.raises(ContextTooLong) as info:
        router(TINY_WINDOW).choose(NEED, None)
    assert info.value.code == "context_too_long"


def test_over_budget_tenant_is_routed_to_a_cheaper_model() -> None:
    # Worst case on BIG: 5000 in × 2.5 + 800 out × 10 per 1M = 0.0205 USD; SMALL: 0.00123
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, 0.03)) == [
        "openai:big",
        "openai:small",
        LOCAL_MODEL,
    ]
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, 0.02)) == ["openai:small", LOCAL_MODEL]
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, 0.001)) == [LOCAL_MODEL]
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, 0.0)) == [LOCAL_MODEL]
    assert names(router(BIG, SMALL, LOCAL).choose(NEED, -5.0)) == [LOCAL_MODEL]


def test_budget_counts_only_what_the_window_takes() -> None:
    need = Need(min_prompt_tokens=1_000, full_prompt_tokens=1_000_000, reply_tokens=96)
    # TINY_WINDOW is sent at most 4000 tokens: 4000 × 0.1 + 96 × 0.4 per 1M ≈ 0.00044 USD
    assert names(router(TINY_WINDOW).choose(need, 0.0005)) == ["openai:tiny"]


def test_nothing_affordable_is_budget_exceeded() -> None:
    with pytest.raises(BudgetExceeded) as info:
        router(BIG, SMALL).choose(NEED, 0.001)
    assert info.value.code == "budget_exceeded"
    assert "budget" in info.value.message and "0.0012" in info.value.message


def test_open_circuits_are_skipped() -> None:
    chosen = router(BIG, SMALL, LOCAL, open_=frozenset({"openai:big"})).choose(NEED, None)
    assert names(chosen) == ["openai:small", LOCAL_MODEL]


def test_interactive_sla_puts_fast_models_first() -> None:
    chosen = router(BIG, SMALL, LOCAL).choose(NEED, None, "interactive")
    assert names(chosen) == ["openai:small", LOCAL_MODEL, "openai:big"]
    assert names(router(BIG, SMALL).choose(NEED, None, "batch")) == ["openai:big", "openai:small"]
