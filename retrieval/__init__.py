"""Embedding providers and re-rankers behind small interfaces, chosen by configuration.

embedder = create_embedder(settings)            # settings.embedding_provider
reranker = create_reranker(settings, embedder)  # settings.rerank_provider
vectors = await embedder.embed_documents(segments)
order = await reranker.rerank(query, passages, top_n=5)
await reranker.aclose(); await embedder.aclose()  # at shutdown

``ProviderError`` and ``RetryPolicy`` come from providers/ (shared with llm/); ``STOPWORDS``
and ``text_vectors`` are the local re-ranker's text analysis, which the local answer model
reuses.
"""

from providers import ProviderError, RetryPolicy
from retrieval.embeddings import (
    COHERE_DEFAULT_MODEL,
    LOCAL_MODEL,
    MINILM_MODEL,
    OPENAI_DEFAULT_MODEL,
    CohereEmbedder,
    Embedder,
    LocalEmbedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
    create_embedder,
    create_embedder_for_model,
)
from retrieval.rerank import (
    COHERE_DEFAULT_RERANK_MODEL,
    STOPWORDS,
    WEIGHTS,
    CohereReranker,
    LocalReranker,
    Reranker,
    StoredVectors,
    create_reranker,
    text_vectors,
)

__all__ = [
    "COHERE_DEFAULT_MODEL",
    "COHERE_DEFAULT_RERANK_MODEL",
    "LOCAL_MODEL",
    "MINILM_MODEL",
    "OPENAI_DEFAULT_MODEL",
    "STOPWORDS",
    "WEIGHTS",
    "CohereEmbedder",
    "CohereReranker",
    "Embedder",
    "LocalEmbedder",
    "LocalReranker",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "ProviderError",
    "Reranker",
    "RetryPolicy",
    "StoredVectors",
    "create_embedder",
    "create_embedder_for_model",
    "create_reranker",
    "text_vectors",
]
