"""Re-rankers: order the candidates of a first-stage search by relevance to the query.

    local   offline hybrid: embedding cosine, best-sentence and word-level similarity, BM25
    cohere  Cohere rerank v2 (default model rerank-english-v3.0)

``rerank`` returns ``(index into passages, score)`` pairs, best first, at most ``top_n``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from config import Settings
from core import cjk
from core.errors import InvalidInput, PdfchatError
from providers import RetryPolicy, api_key_for, call_with_retry, cohere_client, cohere_error
from retrieval.embeddings import WORDLLAMA_DIM, Embedder, LocalEmbedder, wordllama_means
from retrieval.encoder import Encoder, load_encoder

COHERE_DEFAULT_RERANK_MODEL = "rerank-english-v3.0"


class StoredVectors(Protocol):
    """The vectors the first stage already has of some passages, by their index among the
    passages, and the model that made them: a re-ranker that embeds with that model reads
    them instead of embedding the passages again. ``encodings`` are the re-ranker's own
    encoder's, stored after their documents were ready (retrieval.encoder)."""

    @property
    def model(self) -> str: ...

    async def __call__(self, indices: Sequence[int]) -> Mapping[int, ArrayLike]: ...

    async def encodings(self, encoder: str, indices: Sequence[int]) -> Mapping[int, ArrayLike]: ...


@runtime_checkable
class Reranker(Protocol):
    name: str

    async def rerank(
        self,
        query: str,
        passages: Sequence[str],
        *,
        top_n: int,
        stored: StoredVectors | None = None,
        lexical: Sequence[float] | None = None,
    ) -> list[tuple[int, float]]: ...

    async def aclose(self) -> None: ...


def _check(query: str, passages: Sequence[str], top_n: int) -> list[str]:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the query is empty: nothing to rank by")
    if isinstance(passages, str):
        raise InvalidInput("passages must be a sequence of strings, not one string")
    if not isinstance(top_n, int) or top_n < 1:
        raise InvalidInput(f"top_n must be a positive integer, not {top_n!r}")
    checked = list(passages)
    for i, passage in enumerate(checked):
        if not isinstance(passage, str):
            raise InvalidInput(f"passage {i} is {type(passage).__name__}, not str")
    return checked


class CheckedReranker:
    """What every re-ranker does before ranking: refuse bad input, return nothing for no
    passages, and never ask for more than there are. ``_rank`` does the ranking."""

    name: str

    async def rerank(
        self,
        query: str,
        passages: Sequence[str],
        *,
        top_n: int,
        stored: StoredVectors | None = None,
        lexical: Sequence[float] | None = None,
    ) -> list[tuple[int, float]]:
        """The best ``top_n`` passages as (index, score), best first. ``lexical``, when the
        caller has it, is each passage's full-text score over the whole corpus searched, as a
        share of the most any passage could score for the query (0 for a passage full text did
        not find); a re-ranker may use it or not."""
        texts = _check(query, passages, top_n)
        scores = _check_lexical(lexical, len(texts))
        if not texts:
            return []
        return await self._rank(query, texts, min(top_n, len(texts)), stored, scores)

    async def aclose(self) -> None:
        """Nothing of its own to release unless a subclass says otherwise."""

    async def _rank(
        self,
        query: str,
        texts: list[str],
        top_n: int,
        stored: StoredVectors | None,
        lexical: np.ndarray | None,
    ) -> list[tuple[int, float]]:
        raise NotImplementedError


def _check_lexical(lexical: Sequence[float] | None, passages: int) -> np.ndarray | None:
    if lexical is None:
        return None
    scores = np.asarray(lexical, dtype=float)
    if scores.shape != (passages,):
        raise InvalidInput(f"lexical has {scores.size} scores for {passages} passages")
    if not np.all((scores >= 0) & (scores <= 1)):  # NaN fails both
        raise InvalidInput("lexical scores must be shares of their bound, from 0 to 1")
    return scores


# ---------------------------------------------------------------------------------------------
# Lexical analysis: lower-case words (CJK runs as character pairs, core.cjk), no stopwords,
# light suffix stripping

# Function words only: anything that could carry the topic of a question stays a term.
_STOPWORDS = """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stripper: enough for plurals and -ing/-ed forms to meet
    ("deliveries" ~ "delivery", "recorded" ~ "records"), too light to merge unrelated words.
    Digits and short words are left alone."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    for suffix, keep in (("ing", 4), ("ed", 4)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)]
            # "stopped" -> "stopp" -> "stop"; "running" -> "run"
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            return word
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# ---------------------------------------------------------------------------------------------
# Local hybrid re-ranker
#
#   score = 0.3 · cosine         the embedder's cosine(query, passage)                  [-1, 1]
#         + 0.4 · best_sentence  max over the passage's sentences of cosine(query, s)     [-1, 1]
#         + 0.2 · soft_terms     each query word's best cosine with a passage word, IDF-   [0, 1]
#                                weighted average (negative counts as 0)
#         + 0.1 · bm25           Okapi BM25 (k1 1.2, b 0.75), IDF over the candidates,     [0, 1]
#                                divided by its bound for this query, Σ idf(t)·(k1 + 1)
#
# With full text's scores (hybrid search), corpus_bm25 (its BM25 over the tenant's corpus, as a
# share of the question's ceiling) stands in for bm25: see CORPUS_WEIGHTS.
#
# Terms are lower-cased words without stopwords, lightly stemmed for bm25 and IDF.
# best_sentence and soft_terms use wordllama (offline, in the wheel) whatever the embedder is.
#
# Why these parts: a segment's averaged vector blurs the one sentence that answers, which
# best_sentence finds; averaged vectors cannot tell "185" from "158" or one place name from
# another, which exact terms can, and IDF over the candidates makes a word they all share (the
# document's own topic) weigh nothing and a rare one (a name, a number, a code) weigh most;
# soft_terms lets "staff" meet "employees". Why these weights: 70 % stays on meaning
# (cosine + best_sentence), because every point moved to term matching made passages that
# merely repeat the question's words win more often. A proximity bonus was tried and dropped:
# it helped nothing that bm25 did not, and hurt against such echoing passages.
# Measured with wordllama as the embedder (question sets in tests/retrieval/test_rerank.py),
# mean reciprocal rank of the answer, cosine alone → this score:
#   paraphrased questions over 4-sentence segments   0.94 → 0.96, 0.80 → 0.88, held out 0.94 → 0.94
#   the same over single sentences                 0.85 → 0.85, 0.69 → 0.69, held out 0.72 → 0.75
#   exact facts in look-alike generated paragraphs 0.57-0.68 → 0.93-1.0
# Known limit: passages that echo most of the question's words still beat an answer phrased
# with none of them (as they do under all-MiniLM-L6-v2's cosine); that needs a cross-encoder.

WEIGHTS = {"cosine": 0.3, "best_sentence": 0.4, "soft_terms": 0.2, "bm25": 0.1}
# When the first stage's full-text scores come along (hybrid search), BM25 over the tenant's
# whole corpus (as a share of its bound for the question, storage.search.bm25_bound) replaces
# BM25 over the candidates: its IDF counts every segment, not the 70 that were retrieved
# because they share the question's words. combine() takes the weighted mean, so scores stay
# in the same range. Chosen on both question sets (docs/evaluation.md, "Full text's own scores
# in the re-ranker").
CORPUS_WEIGHTS = {"cosine": 0.3, "best_sentence": 0.4, "soft_terms": 0.3, "corpus_bm25": 0.3}
# When every candidate has its encoding (retrieval.encoder: a transformer's reading of the
# passage, against its reading of the question), that cosine joins them. Fitted by
# ops/eval/tune.py on the even questions of both sets; on the odd ones hit@8 / MRR went
# 0.943 / 0.727 → 0.955 / 0.775 (debian) and 0.880 / 0.731 → 0.960 / 0.854 (legal)
# (docs/evaluation.md, "A transformer in the re-ranker").
ENCODER_WEIGHTS = {
    "cosine": 0.15,
    "best_sentence": 0.6,
    "soft_terms": 0.3,
    "corpus_bm25": 0.25,
    "encoder": 0.5,
}
# Okapi BM25's textbook constants, here over the candidates. Full text's ranking
# (storage/search.py) uses the same over a tenant's corpus; each is tuned apart if ever.
BM25_K1 = 1.2
BM25_B = 0.75
# A command-line option as written ("-I", "--fig-path"; not the hyphen in "non-interactive"):
# the rule of the full-text lexemes (storage/migrations/023_option_lexemes.sql). "-I" and
# "-i" are different options, so case counts.
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]{0,38}")
# Added to the score of a passage for the share of the question's options it has: word
# vectors and stems read "-I" as the letter i, and a passage that has the option a question
# asks about is the one that tells about it ("What does the -I option of dblatex do?").
OPTION_BONUS = 0.1


def options(text: str) -> set[str]:
    """The command-line options ``text`` names, as written."""
    return set(_OPTION.findall(text))


def option_shares(query: str, passages: list[str]) -> np.ndarray:
    """The share of the question's options each passage has (all 0 when it names none)."""
    asked = options(query)
    if not asked:
        return np.zeros(len(passages))
    return np.array([len(asked & options(p)) / len(asked) for p in passages])


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])\s*|\n+")


@dataclass(frozen=True, slots=True)
class Analysed:
    """A text's content words (lower case, no stopwords) and their stems, in order."""

    words: list[str]
    stems: list[str]

    @classmethod
    def of(cls, text: str) -> Analysed:
        words = [w for w in cjk.words(text) if w not in STOPWORDS]
        return cls(words, [stem(w) for w in words])


@dataclass(frozen=True, slots=True)
class Passage:
    """What the local features need of a candidate passage, worked out once: a chat keeps
    returning to the same passages, and the regular expressions are most of the cost."""

    analysed: Analysed
    sentences: list[str]
    distinct_words: list[str]
    stem_counts: Counter[str]  # for BM25 and IDF


# A few KB each: 5,000 passages is the working set of many chats, in tens of MB.
@lru_cache(maxsize=5_000)
def prepared(text: str) -> Passage:
    analysed = Analysed.of(text)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    distinct = list(dict.fromkeys(analysed.words))
    return Passage(analysed, sentences, distinct, Counter(analysed.stems))


def idf_weights(query: list[str], passages: Sequence[Collection[str]]) -> np.ndarray:
    """BM25's IDF of each query stem, counted over the candidate passages' stems."""
    n = len(passages)
    df = np.array([sum(term in p for p in passages) for term in query], dtype=float)
    return np.log(1 + (n - df + 0.5) / (df + 0.5))


def bm25_scores(query: list[str], passages: Sequence[Counter[str]]) -> np.ndarray:
    """BM25 of each passage (its stems counted) for the unique query stems, scaled into
    [0, 1)."""
    unique = list(dict.fromkeys(query))
    if not passages or not unique:
        return np.zeros(len(passages))
    idf = idf_weights(unique, passages)
    tf = np.array([[c[t] for t in unique] for c in passages], dtype=float)  # passages × terms
    lengths = np.array([c.total() for c in passages], dtype=float)
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / (lengths.mean() or 1.0))
    saturated = tf * (BM25_K1 + 1) / (tf + norm[:, None])
    scores: np.ndarray = saturated @ idf / (idf.sum() * (BM25_K1 + 1))
    return scores


def _embed(texts: list[str]) -> np.ndarray:
    """wordllama vectors of short texts, unit length (zero rows stay zero), in this thread."""
    matrix = wordllama_means(texts)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1)


def best_sentence_scores(query: str, passages: list[str]) -> np.ndarray:
    """Each passage's best cosine between the query and one of its sentences."""
    sentences: list[str] = []
    owner: list[int] = []
    for i, passage in enumerate(passages):
        parts = prepared(passage).sentences
        sentences += parts
        owner += [i] * len(parts)
    if not sentences:
        return np.zeros(len(passages))
    # Candidates recur from question to question (a chat stays on its documents): cached.
    vectors = text_vectors([query, *sentences])
    similarity = vectors[1:] @ vectors[0]
    best = np.full(len(passages), -np.inf)
    np.maximum.at(best, np.asarray(owner), similarity)
    return np.where(np.isfinite(best), best, 0.0)  # a blank passage has no sentence: 0


_vector_cache: dict[str, np.ndarray] = {}
_vector_cache_lock = threading.Lock()
# ~100 MB of float32 vectors at most: a search service's words and passages recur.
VECTOR_CACHE_SIZE = 100_000


def text_vectors(texts: list[str]) -> np.ndarray:
    """Unit wordllama vectors of words or sentences, cached (cleared whole when full)."""
    if not texts:
        return np.zeros((0, WORDLLAMA_DIM), dtype=np.float32)
    with _vector_cache_lock:
        found = list(map(_vector_cache.get, texts))
    missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
    if missing:
        fresh = dict(zip(missing, _embed(missing), strict=True))
        found = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        with _vector_cache_lock:
            if len(_vector_cache) + len(fresh) > VECTOR_CACHE_SIZE:
                _vector_cache.clear()
            _vector_cache.update(fresh)
    # np.array, not np.stack: one pass in C over thousands of rows instead of a Python loop.
    return np.array(found)


def soft_term_scores(query: Analysed, passages: list[Passage]) -> np.ndarray:
    """IDF-weighted average over query words of their best cosine with a passage word."""
    out = np.zeros(len(passages))
    unique = list(dict.fromkeys(zip(query.words, query.stems, strict=True)))
    if not unique or not passages:
        return out
    idf = idf_weights([s for _, s in unique], [p.stem_counts for p in passages])
    vocabulary = list(dict.fromkeys(w for p in passages for w in p.distinct_words))
    if not vocabulary:
        return out
    index = {w: i for i, w in enumerate(vocabulary)}
    # Every query word against every candidate word at once, then each passage's best per
    # query word over its own columns (passages laid end to end, one reduceat).
    similarity = text_vectors([w for w, _ in unique]) @ text_vectors(vocabulary).T
    columns = [index[w] for p in passages for w in p.distinct_words]
    sizes = np.array([len(p.distinct_words) for p in passages])
    has_words = sizes > 0
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[has_words]
    best = np.clip(np.maximum.reduceat(similarity[:, columns], starts, axis=1), 0, None)
    out[has_words] = idf @ best / idf.sum()
    return out


def local_features(query: str, passages: list[str], *, bm25: bool = True) -> dict[str, np.ndarray]:
    """Every feature except the embedder's cosine (and BM25 over the candidates only when
    ``bm25``). CPU-bound: call it in a thread."""
    q = Analysed.of(query)
    candidates = [prepared(p) for p in passages]
    features = {
        "best_sentence": best_sentence_scores(query, passages),
        "soft_terms": soft_term_scores(q, candidates),
    }
    if bm25:
        features["bm25"] = bm25_scores(q.stems, [c.stem_counts for c in candidates])
    return features


def combine(features: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the features: on the same scale whichever weights rank."""
    total = np.zeros(len(next(iter(features.values()))))
    for name, weight in weights.items():
        total += weight * features[name]
    return total / (sum(weights.values()) or 1.0)  # all weights 0: every score 0


def best_first(scores: np.ndarray, top_n: int) -> list[tuple[int, float]]:
    """Indices by descending score; ties keep the first stage's order (stable sort)."""
    order = np.argsort(-scores, kind="stable")[:top_n]
    return [(int(i), float(scores[i])) for i in order]


class LocalReranker(CheckedReranker):
    """Offline, deterministic hybrid of the embedder's cosine, sentence-level and word-level
    wordllama similarity, and lexical evidence (formula above); with ``encoder``, the
    encoder's cosine too, for candidates whose encodings are stored.

    It embeds the passages with ``embedder``, unless it has them already: from an earlier
    question, or ``stored`` by the first stage with the same model (embedding 100 unseen
    passages takes ~20 ms of CPU with the local embedder, and a paid API call per search with a
    remote one, so pass a LocalEmbedder unless that is what you want)."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        weights: dict[str, float] | None = None,
        corpus_weights: dict[str, float] | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.embedder = embedder
        self.encoder = encoder
        self.weights = dict(weights or WEIGHTS)
        self.corpus_weights = dict(corpus_weights or CORPUS_WEIGHTS)
        self.encoder_weights = dict(ENCODER_WEIGHTS)
        self.name = f"local-hybrid:{embedder.model}"
        if encoder is not None:
            self.name += f"+{encoder.name}"
        self._passages: dict[str, np.ndarray] = {}

    async def _rank(
        self,
        query: str,
        texts: list[str],
        top_n: int,
        stored: StoredVectors | None,
        lexical: np.ndarray | None,
    ) -> list[tuple[int, float]]:
        weights = self.weights if lexical is None else self.corpus_weights
        encodings = await self._encodings(query, texts, stored) if lexical is not None else None
        # The local features are CPU work: a thread, running alongside the embedder (and the
        # encoder, which leaves the interpreter lock while it runs).
        cosine, features, encoder_cosine = await asyncio.gather(
            self._cosine(query, texts, stored),
            asyncio.to_thread(local_features, query, texts, bm25="bm25" in weights),
            self._encoder_cosine(query, encodings),
        )
        features["cosine"] = cosine
        if lexical is not None:
            features["corpus_bm25"] = lexical
        if encoder_cosine is not None:
            features["encoder"] = encoder_cosine
            weights = self.encoder_weights
        scores = combine(features, weights) + OPTION_BONUS * option_shares(query, texts)
        return best_first(scores, top_n)

    async def _encodings(
        self, query: str, texts: list[str], stored: StoredVectors | None
    ) -> np.ndarray | None:
        """Every candidate's stored encoding (zero for a blank one), or None: without an
        encoder or a store, for a question in Chinese, Japanese or Korean (the encoder was
        trained on English), and when any candidate has none yet (its document is still being
        encoded): scores with and without the encoder are not comparable."""
        if self.encoder is None or stored is None or cjk.has_cjk(query):
            return None
        filled = [i for i, t in enumerate(texts) if t.strip()]
        found = await stored.encodings(self.encoder.name, filled)
        if len(found) < len(filled):
            return None
        rows = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        for i, encoding in found.items():
            rows[i] = np.asarray(encoding, dtype=np.float32)
        return rows

    async def _encoder_cosine(self, query: str, encodings: np.ndarray | None) -> np.ndarray | None:
        if encodings is None or self.encoder is None:
            return None
        asked = await asyncio.to_thread(self.encoder.encode_question, query)
        cosine: np.ndarray = encodings @ asked
        return cosine

    async def _passage_vectors(
        self, texts: list[str], indices: list[int], stored: StoredVectors | None
    ) -> np.ndarray:
        """The embedder's vectors of ``texts[i]`` for i in ``indices``. The same passages come
        back question after question, so they are remembered (cleared whole past
        VECTOR_CACHE_SIZE); those never seen are read from ``stored`` when it has them."""
        missing = list(dict.fromkeys(texts[i] for i in indices if texts[i] not in self._passages))
        if missing:
            if len(self._passages) + len(missing) > VECTOR_CACHE_SIZE:
                self._passages.clear()
            found = await self._stored(texts, indices, missing, stored)
            unstored = [t for t in missing if t not in found]
            if unstored:
                fresh = await self.embedder.embed_documents(unstored)
                found.update(zip(unstored, fresh, strict=True))
            # float32: what the embedders compute; as float64 the cache took twice the memory.
            self._passages.update((t, np.asarray(v, dtype=np.float32)) for t, v in found.items())
        return np.stack([self._passages[texts[i]] for i in indices])

    async def _stored(
        self,
        texts: list[str],
        indices: list[int],
        missing: list[str],
        stored: StoredVectors | None,
    ) -> dict[str, ArrayLike]:
        if stored is None or stored.model != self.embedder.model:
            return {}
        wanted = set(missing)
        vectors = await stored([i for i in indices if texts[i] in wanted])
        return {texts[i]: vector for i, vector in vectors.items()}

    async def _cosine(
        self, query: str, texts: list[str], stored: StoredVectors | None
    ) -> np.ndarray:
        filled = [i for i, t in enumerate(texts) if t.strip()]  # blank passages score 0
        cosine = np.zeros(len(texts))
        if filled:
            q, p = await asyncio.gather(
                self.embedder.embed_query(query), self._passage_vectors(texts, filled, stored)
            )
            cosine[filled] = p @ np.asarray(q)
        return cosine


# ---------------------------------------------------------------------------------------------
# Cohere rerank v2


class CohereReranker(CheckedReranker):
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = COHERE_DEFAULT_RERANK_MODEL,
        retry: RetryPolicy = RetryPolicy(),  # frozen dataclass: safe to share
    ) -> None:
        self.name = f"cohere:{model}"
        self._model = model
        self._retry = retry
        self._client, self._http = cohere_client(
            api_key=api_key, base_url=base_url, timeout_s=retry.timeout_s
        )

    async def _rank(
        self,
        query: str,
        texts: list[str],
        top_n: int,
        stored: StoredVectors | None,
        lexical: np.ndarray | None,
    ) -> list[tuple[int, float]]:
        return await call_with_retry(partial(self._rerank, query, texts, top_n), self._retry)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _rerank(self, query: str, texts: list[str], top_n: int) -> list[tuple[int, float]]:
        try:
            response = await self._client.rerank(
                model=self._model, query=query, documents=texts, top_n=top_n
            )
        except Exception as exc:  # the client raises ApiError subclasses and raw httpx errors
            raise cohere_error(exc, "rerank") from exc
        ranked = sorted(response.results, key=lambda r: -r.relevance_score)
        if any(not 0 <= r.index < len(texts) for r in ranked):
            raise PdfchatError("cohere rerank returned an index outside the passages")
        return [(r.index, float(r.relevance_score)) for r in ranked[:top_n]]


def create_reranker(settings: Settings, embedder: Embedder | None = None) -> Reranker:
    """The re-ranker ``settings.rerank_provider`` names. The local one uses ``embedder`` for its
    semantic part, or the offline wordllama embedder when none is given."""
    if settings.rerank_provider == "local":
        if settings.rerank_model is not None:
            raise InvalidInput("rerank_model applies to rerank_provider=cohere only")
        return LocalReranker(
            embedder or LocalEmbedder(batch_size=settings.embedding_batch_size),
            encoder=load_encoder(settings),
        )
    if settings.rerank_provider == "cohere":
        key = api_key_for("cohere", settings.cohere_api_key, settings.cohere_base_url)
        return CohereReranker(
            api_key=key,
            base_url=settings.cohere_base_url,
            model=settings.rerank_model or COHERE_DEFAULT_RERANK_MODEL,
            retry=RetryPolicy.from_settings(settings),
        )
    raise InvalidInput(f"unknown rerank_provider {settings.rerank_provider!r}")


__all__ = [
    "COHERE_DEFAULT_RERANK_MODEL",
    "CORPUS_WEIGHTS",
    "ENCODER_WEIGHTS",
    "WEIGHTS",
    "CohereReranker",
    "LocalReranker",
    "Reranker",
    "StoredVectors",
    "create_reranker",
]
