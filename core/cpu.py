"""How many threads the math libraries of a worker or web process may use."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

# Read by OpenBLAS (numpy's, and scipy's own) when it is loaded; MKL where numpy uses it.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """numpy's OpenBLAS splits every matrix product over a thread per CPU, however small the
    product, and its threads spin while they wait. Ours are small (a question's words against
    a few thousand passage words) and many run at once in threads of their own, on CPUs that
    the database and the broker share: split, they cost more CPU than they save. With one
    thread, ops/bench/chat.py answered 28 % more questions a second (docs/benchmarks.md).

    Call it first thing at start-up: libraries loaded later read the environment, those
    already loaded are limited now. An operator who set either variable keeps that choice."""
    if any(name in os.environ for name in BLAS_THREADS):
        return
    for name in BLAS_THREADS:
        os.environ[name] = "1"
    threadpool_limits(limits=1, user_api="blas")
