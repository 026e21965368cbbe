"""Remote chat models through their official clients: OpenAI (and any OpenAI-compatible server:
vLLM, Ollama, llama.cpp's server) and Cohere v2. Both stream; both send their [n]-marked answer
through ``llm.citations``. The clients' own retries are off: ``llm.ChatModels`` owns them."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from core.errors import PdfchatError, TransientError
from llm._text import estimate_tokens
from llm.catalog import ModelInfo
from llm.citations import citations_from_markers
from llm.events import Delta, Finished, Usage
from llm.prompt import Prompt, Rendered, is_refusal, render
from providers import cohere_client, cohere_error, openai_client, openai_error

TEMPERATURE = 0.2  # grounded answers: little creativity wanted

# What a provider's stream yields: a piece of the answer's text, or the token counts it
# reported (tokens in, tokens out).
Piece = str | tuple[int, int]


async def answer_events(
    model: str, rendered: Rendered, pieces: AsyncIterator[Piece]
) -> AsyncGenerator[Delta | Finished, None]:
    """A provider's pieces as the events of an answer: a Delta per piece of text, then one
    Finished with the whole text, its citations and the token counts."""
    parts: list[str] = []
    reported: tuple[int, int] | None = None
    async for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            yield Delta(piece)
        else:
            reported = piece
    yield finished(model, rendered, "".join(parts), reported)


def finished(
    model: str, rendered: Rendered, text: str, reported: tuple[int, int] | None
) -> Finished:
    """The closing event: the provider's token counts when it sent them, estimates otherwise."""
    if reported is not None:
        usage = Usage(model, reported[0], reported[1])
    else:
        usage = Usage(model, rendered.prompt_tokens, estimate_tokens(text), estimated=True)
    if is_refusal(text):
        # Passed through as what it is: no sources, whatever markers the model added.
        return Finished(text, usage, [], found=False)
    return Finished(text, usage, citations_from_markers(text, rendered.evidence))


class RemoteChat:
    """A chat model behind an API: the prompt rendered for its context window, its streamed
    pieces turned into the answer's events. Subclasses say how to get the pieces."""

    model: str
    _info: ModelInfo

    async def stream(
        self, prompt: Prompt, *, max_tokens: int
    ) -> AsyncGenerator[Delta | Finished, None]:
        rendered = render(prompt, context_window=self._info.context_window, reply_tokens=max_tokens)
        pieces = self._pieces(rendered, max_tokens)
        events = answer_events(self.model, rendered, pieces)
        # Closed at once when the consumer stops early, not when the garbage collector gets
        # to them: the provider's HTTP response stays open until then.
        async with aclosing(pieces), aclosing(events):
            async for event in events:
                yield event

    def _pieces(self, rendered: Rendered, max_tokens: int) -> AsyncGenerator[Piece, None]:
        raise NotImplementedError


class OpenAIChat(RemoteChat):
    """``chat.completions`` streaming with ``stream_options.include_usage`` (the last chunk
    carries the token counts; servers that ignore the option get estimates)."""

    def __init__(
        self, info: ModelInfo, *, api_key: str, base_url: str | None, timeout_s: float
    ) -> None:
        self.model = info.model
        self._info = info
        # OpenAI's newer models refuse max_tokens and want max_completion_tokens, which
        # OpenAI-compatible servers (Ollama, llama.cpp) do not all know yet.
        self._max_tokens_field = "max_tokens" if base_url else "max_completion_tokens"
        self._client = openai_client(api_key=api_key, base_url=base_url, timeout_s=timeout_s)

    async def aclose(self) -> None:
        await self._client.close()

    async def _pieces(self, rendered: Rendered, max_tokens: int) -> AsyncGenerator[Piece, None]:
        import openai

        try:
            # The messages are plain role/content dicts, which the SDK's TypedDicts accept.
            stream = await self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self._info.name,
                messages=rendered.messages,
                stream=True,
                stream_options={"include_usage": True},
                temperature=TEMPERATURE,
                **{self._max_tokens_field: max_tokens},
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        yield (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices[:1]:
                        if choice.delta.content:
                            yield choice.delta.content
        except openai.OpenAIError as exc:
            raise openai_error(exc, "chat") from exc


class CohereChat(RemoteChat):
    """Cohere v2 ``chat_stream``: text from content-delta events, usage from message-end."""

    def __init__(
        self, info: ModelInfo, *, api_key: str, base_url: str | None, timeout_s: float
    ) -> None:
        self.model = info.model
        self._info = info
        self._client, self._http = cohere_client(
            api_key=api_key, base_url=base_url, timeout_s=timeout_s
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _pieces(self, rendered: Rendered, max_tokens: int) -> AsyncGenerator[Piece, None]:
        try:
            events = self._client.chat_stream(
                model=self._info.name,
                messages=rendered.messages,
                max_tokens=max_tokens,
                temperature=TEMPERATURE,
            )
            # Closed here when the consumer stops early, not whenever the garbage collector
            # gets to it: its HTTP response stays open until then.
            async with aclosing(events):
                async for event in events:
                    if event.type == "content-delta":
                        text = _delta_text(event)
                        if text:
                            yield text
                    elif event.type == "message-end":
                        usage = _cohere_usage(event)
                        if usage is not None:
                            yield usage
        except PdfchatError:
            raise
        except Exception as exc:  # the client raises ApiError subclasses and raw httpx errors
            raise cohere_error(exc, "chat") from exc


def _delta_text(event: Any) -> str:
    try:
        return event.delta.message.content.text or ""
    except AttributeError:
        return ""


def _cohere_usage(event: Any) -> tuple[int, int] | None:
    delta = event.delta
    if delta is not None and delta.error:
        raise TransientError(f"cohere chat stream ended with an error: {delta.error}")
    usage = delta.usage if delta is not None else None
    if usage is None:
        return None
    # Billed units are what the invoice counts; raw tokens add Cohere's own prompt template.
    for counts in (usage.billed_units, usage.tokens):
        if counts is not None and counts.input_tokens is not None:
            return int(counts.input_tokens), int(counts.output_tokens or 0)
    return None
