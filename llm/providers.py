"""The one interface every chat model is used through, and the factory that builds them.

    async for event in provider.stream(prompt, max_tokens=800):
        Delta(text)            zero or more, in order
        Finished(...)          exactly one, last: the text, usage and citations

``stream`` raises ``TransientError`` for failures worth retrying (429, 5xx, timeouts, dropped
connections) and ``retrieval.ProviderError`` for those that are not (bad key, unknown model);
it never retries by itself: ``llm.ChatModels`` owns retries, fallback and the breaker.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

from config import Settings
from llm.catalog import ModelInfo
from llm.events import Delta, Finished
from llm.prompt import Prompt
from providers import api_key_for


@runtime_checkable
class ChatProvider(Protocol):
    model: str
    """"provider:name", e.g. ``openai:gpt-4o-mini``, ``cohere:command-r``, ``local:extractive``."""

    def stream(
        self, prompt: Prompt, *, max_tokens: int
    ) -> AsyncGenerator[Delta | Finished, None]: ...

    async def aclose(self) -> None: ...


def create_provider(info: ModelInfo, settings: Settings) -> ChatProvider:
    """The provider for one catalog entry, with this process's credentials."""
    if info.provider == "local":
        from llm.local import LocalExtractive

        return LocalExtractive(min_evidence_score=settings.chat_min_evidence_score)
    if info.provider == "openai":
        from llm.remote import OpenAIChat

        base_url = info.base_url or settings.openai_base_url
        return OpenAIChat(
            info,
            api_key=api_key_for("openai", settings.openai_api_key, base_url),
            base_url=base_url,
            timeout_s=settings.chat_timeout_s,
        )
    from llm.remote import CohereChat

    return CohereChat(
        info,
        api_key=api_key_for("cohere", settings.cohere_api_key, settings.cohere_base_url),
        base_url=settings.cohere_base_url,
        timeout_s=settings.chat_timeout_s,
    )
