"""The chat model layer: prompt pipeline, model catalog and routing, providers, breaker.

    models = ChatModels(settings)
    prompt = Prompt(question, evidence=[Evidence(...)], history=[Turn("user", ...), ...])
    async for event in models.answer(prompt, remaining_budget_usd=left, sla="interactive"):
        ...  # Delta(text) ..., then Finished(text, usage, citations)
    await models.aclose()

See ``llm.models`` for the contract and docs/models.md for the catalog and routing rules.
Imports only config, core and retrieval.
"""

from llm.catalog import BUILTIN, LOCAL_MODEL, Catalog, ModelInfo, Need, Router, cost_usd
from llm.errors import AnswerInterrupted, BudgetExceeded, ContextTooLong, ModelsUnavailable
from llm.events import Citation, Delta, Finished, Usage
from llm.local import NOT_FOUND, LocalExtractive
from llm.models import ChatModels
from llm.prompt import (
    DEFAULT_SYSTEM,
    OVERVIEW_SYSTEM,
    REFUSAL,
    Evidence,
    Prompt,
    Rendered,
    Turn,
    byline_subject,
    dated_subject,
    is_follow_up,
    is_refusal,
    new_topic,
    overview_subject,
    previous_question,
    render,
    what_is_subject,
)
from llm.providers import ChatProvider, create_provider

__all__ = [
    "BUILTIN",
    "DEFAULT_SYSTEM",
    "LOCAL_MODEL",
    "NOT_FOUND",
    "OVERVIEW_SYSTEM",
    "REFUSAL",
    "AnswerInterrupted",
    "BudgetExceeded",
    "Catalog",
    "ChatModels",
    "ChatProvider",
    "Citation",
    "ContextTooLong",
    "Delta",
    "Evidence",
    "Finished",
    "LocalExtractive",
    "ModelInfo",
    "ModelsUnavailable",
    "Need",
    "Prompt",
    "Rendered",
    "Router",
    "Turn",
    "Usage",
    "byline_subject",
    "cost_usd",
    "create_provider",
    "dated_subject",
    "is_follow_up",
    "is_refusal",
    "new_topic",
    "overview_subject",
    "previous_question",
    "render",
    "what_is_subject",
]
