"""Embedding providers and re-rankers behind small interfaces, chosen by configuration.

embedder = create_embedder(settings)            # settings.embedding_provider
reranker = create_reranker(settings, embedder)  # settings.rerank_provider
vectors = await embedder.embed_documents(segments)
order = await reranker.rerank(query, passages, top_n=5)
await reranker.aclose(); await embedder.aclose()  # at shutdown
"""

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
    ProviderError,
    RetryPolicy,
    create_embedder,
    create_embedder_for_model,
)
from retrieval.rerank import (
    COHERE_DEFAULT_RERANK_MODEL,
    WEIGHTS,
    CohereReranker,
    LocalReranker,
    Reranker,
    create_reranker,
)

__all__ = [
    "COHERE_DEFAULT_MODEL",
    "COHERE_DEFAULT_RERANK_MODEL",
    "LOCAL_MODEL",
    "MINILM_MODEL",
    "OPENAI_DEFAULT_MODEL",
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
    "create_embedder",
    "create_embedder_for_model",
    "create_reranker",
]
