"""How many threads the math libraries and the tokenizer of a worker or web process may use."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

# Read by OpenBLAS (numpy's, and scipy's own) when it is loaded; MKL where numpy uses it.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Read by the OpenMP runtime that scikit-learn's k-means runs on (topic maps).
OPENMP_THREADS = "OMP_NUM_THREADS"
# Read by Hugging Face's tokenizers at each batch call.
TOKENIZER_THREADS = "TOKENIZERS_PARALLELISM"


def limit_library_threads() -> None:
    """Call it first thing at start-up of a web or worker process (and of a benchmark that
    searches in its own process, as they do)."""
    _one_blas_thread()
    _one_openmp_thread()
    _no_tokenizer_threads()


def _one_blas_thread() -> None:
    """numpy's OpenBLAS splits every matrix product over a thread per CPU, however small the
    product, and its threads spin while they wait. Ours are small (a question's words against
    a few thousand passage words) and many run at once in threads of their own, on CPUs that
    the database and the broker share: split, they cost more CPU than they save. With one
    thread, ops/bench/chat.py answered 28 % more questions a second (docs/benchmarks.md).

    Libraries loaded later read the environment, those already loaded are limited now. An
    operator who set either variable keeps that choice."""
    if any(name in os.environ for name in BLAS_THREADS):
        return
    for name in BLAS_THREADS:
        os.environ[name] = "1"
    threadpool_limits(limits=1, user_api="blas")


def _one_openmp_thread() -> None:
    """scikit-learn's k-means spreads each fit over an OpenMP thread per CPU; a topic map fits
    hundreds of small ones (every k, four starts each, for the topics and their sub-topics),
    where the threads cost more than they share out: 27 real documents' maps took 6.3–7.0 s
    with them and 4.1 s without, the same maps (docs/benchmarks.md, "Many small real
    documents").
    An operator who set the variable keeps that choice."""
    if OPENMP_THREADS in os.environ:
        return
    os.environ[OPENMP_THREADS] = "1"
    threadpool_limits(limits=1, user_api="openmp")


def _no_tokenizer_threads() -> None:
    """wordllama's tokenizer (Hugging Face ``tokenizers``) spreads each batch over a thread
    per CPU. The re-ranker's batches are a few hundred unseen words a search: in threads its
    features took 7 % more CPU and 6 % more time (docs/benchmarks.md, "Words by their runs"); a new
    document's words lose a little (the R manual's 9,739 segments: 1.10 → 1.21 s, the same
    CPU). An operator who set the variable keeps that choice."""
    os.environ.setdefault(TOKENIZER_THREADS, "false")
