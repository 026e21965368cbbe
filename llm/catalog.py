"""The model catalog and the router.

``Settings.chat_models`` lists the models to use, best first ("openai:gpt-4o,
openai:gpt-4o-mini,local:extractive"). Each gets a ``ModelInfo`` from the built-in table below,
overridden or completed by ``Settings.chat_model_overrides`` (JSON). ``Router.choose`` turns
one request's size, the tenant's remaining budget and the SLA into the models to try, in order.

Prices are list prices in USD per million tokens, as the vendors published them (OpenAI's and
Cohere's pricing pages, 2025); they change, so check them and override when they do. Context
windows are the models' documented input limits. ``ttft_ms`` is our rough expectation of the
time to first token for a short prompt, used only for the "interactive" SLA.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

from config import Settings
from core.errors import InvalidInput
from llm.errors import BudgetExceeded, ContextTooLong, ModelsUnavailable

Provider = Literal["openai", "cohere", "local"]
Sla = Literal["interactive", "batch"]
PROVIDERS: tuple[Provider, ...] = ("openai", "cohere", "local")
LOCAL_MODEL = "local:extractive"
# The local provider reads evidence, not a token window: any prompt fits.
UNLIMITED_WINDOW = 10_000_000
UNKNOWN_WINDOW = 8_192  # the safe guess for a self-hosted model nobody described
UNKNOWN_TTFT_MS = 1_000


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model: str  # "provider:name"
    context_window: int
    usd_in_per_m: float
    usd_out_per_m: float
    ttft_ms: int = UNKNOWN_TTFT_MS
    base_url: str | None = None  # an OpenAI-compatible server for this model alone

    @property
    def provider(self) -> Provider:
        return parse_model(self.model)[0]

    @property
    def name(self) -> str:
        return parse_model(self.model)[1]

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.usd_in_per_m + tokens_out * self.usd_out_per_m) / 1_000_000


# model                         context window   USD in/M   USD out/M   ttft ms
_PRICE_LIST = """
openai:gpt-4o                     128000           2.50       10.00       700
openai:gpt-4o-mini                128000           0.15       0.60        500
openai:gpt-4.1                    1047576          2.00       8.00        800
openai:gpt-4.1-mini               1047576          0.40       1.60        500
openai:gpt-4.1-nano               1047576          0.10       0.40        350
openai:gpt-3.5-turbo              16385            0.50       1.50        400
cohere:command-a-03-2025          256000           2.50       10.00       900
cohere:command-r-plus             128000           2.50       10.00       800
cohere:command-r-plus-08-2024     128000           2.50       10.00       800
cohere:command-r                  128000           0.15       0.60        500
cohere:command-r-08-2024          128000           0.15       0.60        500
cohere:command-r7b-12-2024        128000           0.0375     0.15        350
"""


def _price_list(text: str) -> Iterable[ModelInfo]:
    for line in text.strip().splitlines():
        model, window, usd_in, usd_out, ttft_ms = line.split()
        yield ModelInfo(model, int(window), float(usd_in), float(usd_out), int(ttft_ms))


BUILTIN: dict[str, ModelInfo] = {
    m.model: m
    for m in (
        *_price_list(_PRICE_LIST),
        ModelInfo(LOCAL_MODEL, UNLIMITED_WINDOW, 0.0, 0.0, ttft_ms=20),
    )
}
BUILTIN["cohere:command-a"] = replace(BUILTIN["cohere:command-a-03-2025"], model="cohere:command-a")


def parse_model(model: str) -> tuple[Provider, str]:
    provider, sep, name = model.strip().partition(":")
    if not sep or not name or provider not in PROVIDERS:
        raise InvalidInput(
            f"chat model {model!r} must be 'provider:name' with provider one of "
            f"{', '.join(PROVIDERS)} (e.g. openai:gpt-4o-mini, local:extractive)"
        )
    if provider == "local" and model != LOCAL_MODEL:
        raise InvalidInput(f"the local provider has one model, {LOCAL_MODEL}, not {model!r}")
    return provider, name


class Catalog:
    """The configured models, in preference order, with what routing needs to know of each."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self.models = list(models)
        if not self.models:
            raise InvalidInput("no chat models configured (PDFCHAT_CHAT_MODELS is empty)")
        self._by_name = {m.model: m for m in self.models}

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalog:
        overrides = _parse_overrides(settings.chat_model_overrides)
        names = [n.strip() for n in settings.chat_models.split(",") if n.strip()]
        return cls(_info(name, overrides) for name in dict.fromkeys(names))

    def __getitem__(self, model: str) -> ModelInfo:
        try:
            return self._by_name[model]
        except KeyError:
            raise InvalidInput(f"chat model {model!r} is not in the catalog") from None

    def __contains__(self, model: object) -> bool:
        return model in self._by_name

    @property
    def free_only(self) -> bool:
        """Every model costs nothing: a budget cannot change the route."""
        return all(m.usd_in_per_m == 0 and m.usd_out_per_m == 0 for m in self.models)

    def cost_usd(self, model: str, tokens_in: int, tokens_out: int) -> float:
        return self[model].cost_usd(tokens_in, tokens_out)


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    """Cost of one call of a built-in model; configured models: ``Catalog.cost_usd``."""
    info = BUILTIN.get(model)
    if info is None:
        raise InvalidInput(f"no built-in price for {model!r}: use the catalog's cost_usd")
    return info.cost_usd(tokens_in, tokens_out)


def _info(model: str, overrides: dict[str, dict[str, object]]) -> ModelInfo:
    parse_model(model)
    base = BUILTIN.get(model) or ModelInfo(model, UNKNOWN_WINDOW, 0.0, 0.0)
    extra = overrides.get(model, {})
    try:
        return replace(base, **extra)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidInput(f"chat_model_overrides[{model!r}]: {exc}") from exc


_OVERRIDABLE = {f.name for f in fields(ModelInfo)} - {"model"}


def _parse_overrides(text: str) -> dict[str, dict[str, object]]:
    """``{"openai:llama3.1": {"context_window": 8192, "usd_in_per_m": 0, ...}}``."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"chat_model_overrides is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidInput("chat_model_overrides must be a JSON object of objects")
    for model, entry in data.items():
        unknown = set(entry) - _OVERRIDABLE
        if unknown:
            raise InvalidInput(
                f"chat_model_overrides[{model!r}] has unknown keys {sorted(unknown)}; "
                f"known: {sorted(_OVERRIDABLE)}"
            )
    return data


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    """What one request needs of a model."""

    min_prompt_tokens: int  # system + question + all evidence: must fit in the window
    full_prompt_tokens: int  # the same plus the whole history (trimmed if it does not fit)
    reply_tokens: int  # reserved for the answer

    def tokens_in(self, info: ModelInfo) -> int:
        """What the model will be sent: everything, or as much as its window takes."""
        return min(self.full_prompt_tokens, info.context_window - self.reply_tokens)


class Router:
    """Rules, applied to the catalog in preference order:

    - a model whose circuit is open is skipped;
    - a model whose window cannot hold the question and all its evidence plus the reply is
      skipped (history alone is trimmed to fit);
    - a model whose worst-case cost (prompt + the whole reply reserve) exceeds the tenant's
      remaining budget is skipped: the tenant falls through to cheaper models, down to the free
      local one; with none left, ``BudgetExceeded`` ("budget_exceeded");
    - sla="interactive": models expected to answer within ``interactive_ttft_ms`` come first;
      slower ones stay, after them, as fallbacks (a slow answer beats none).

    A ``route`` (a canary's variant, workflows/rollouts.py) replaces the catalog's order with
    its own models, and only those: a variant is judged by its own models' answers, never by a
    fallback's.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        interactive_ttft_ms: int,
        is_open: Callable[[str], bool] = lambda model: False,
    ) -> None:
        self.catalog = catalog
        self.interactive_ttft_ms = interactive_ttft_ms
        self._is_open = is_open

    def choose(
        self,
        need: Need,
        remaining_budget_usd: float | None,
        sla: Sla | None = None,
        route: Sequence[str] | None = None,
    ) -> list[ModelInfo]:
        """Models to try, best first. ``remaining_budget_usd=None`` means no budget limit."""
        models = self.catalog.models
        if route is not None:
            models = [self.catalog[m] for m in route if m in self.catalog]
            if not models:
                raise ModelsUnavailable(f"no model of the route {list(route)} is configured")
        fitting = [m for m in models if self._fits(m, need)]
        if not fitting:
            raise ContextTooLong(
                f"the question and its context need about {need.min_prompt_tokens} tokens "
                f"plus {need.reply_tokens} for the answer; no configured model takes that many"
            )
        affordable = [m for m in fitting if _affordable(m, need, remaining_budget_usd)]
        if not affordable:
            cheapest = min(m.cost_usd(need.tokens_in(m), need.reply_tokens) for m in fitting)
            raise BudgetExceeded(
                f"the tenant's chat budget is spent: {max(remaining_budget_usd or 0.0, 0.0):.4f}"
                f" USD left, the cheapest model would cost about {cheapest:.4f} USD"
            )
        candidates = [m for m in affordable if not self._is_open(m.model)]
        if sla == "interactive":
            fast = [m for m in candidates if m.ttft_ms <= self.interactive_ttft_ms]
            candidates = fast + [m for m in candidates if m not in fast]
        return candidates

    @staticmethod
    def _fits(info: ModelInfo, need: Need) -> bool:
        return need.min_prompt_tokens + need.reply_tokens <= info.context_window


def _affordable(info: ModelInfo, need: Need, remaining_usd: float | None) -> bool:
    cost = info.cost_usd(need.tokens_in(info), need.reply_tokens)
    return cost == 0.0 or remaining_usd is None or cost <= remaining_usd
