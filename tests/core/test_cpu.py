"""The libraries' threads once a process has started up: one for BLAS, none of the tokenizer's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _threads(code: str, **env: str) -> list[int]:
    """The thread counts that ``code`` prints, run in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    counts: list[int] = json.loads(done.stdout)
    return counts


LIMITED = "from core.cpu import limit_library_threads; limit_library_threads()"
COUNTS = (
    "import json, threadpoolctl; print(json.dumps([p['num_threads'] for p in"
    " threadpoolctl.threadpool_info() if p['user_api'] == 'blas']))"
)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS uses one thread on one CPU anyway")
def test_blas_runs_on_one_thread_whether_loaded_before_or_after_start_up():
    assert max(_threads(f"import numpy; {COUNTS}")) > 1  # what it would do by itself
    loaded_before = _threads(f"import numpy; {LIMITED}; {COUNTS}")
    loaded_after = _threads(f"{LIMITED}; import numpy; {COUNTS}")
    assert loaded_before and set(loaded_before) == {1}
    assert loaded_after and set(loaded_after) == {1}


def test_an_operators_own_setting_is_kept():
    kept = _threads(
        f"import numpy; {LIMITED}; {COUNTS}",
        OPENBLAS_NUM_THREADS="2",
    )
    assert kept and set(kept) == {min(2, os.cpu_count() or 1)}


# A batch big enough for the tokenizer to spread over its threads, then the process's own count.
TOKENIZER_THREADS = (
    "from tokenizers import Tokenizer, models, pre_tokenizers\n"
    "tokenizer = Tokenizer(models.WordLevel({'a': 0, '?': 1}, unk_token='?'))\n"
    "tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()\n"
    "tokenizer.encode_batch_fast(['a a a'] * 20000)\n"
    "status = open('/proc/self/status').read()\n"
    "print([int(line.split()[1]) for line in status.splitlines() if line.startswith('Threads:')])"
)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the tokenizer uses one thread on one CPU")
def test_the_tokenizer_runs_in_the_callers_thread_after_start_up():
    assert _threads(TOKENIZER_THREADS)[0] > 1  # what it would do by itself
    assert _threads(f"{LIMITED}\n{TOKENIZER_THREADS}") == [1]
    operators = _threads(f"{LIMITED}\n{TOKENIZER_THREADS}", TOKENIZERS_PARALLELISM="true")
    assert operators[0] > 1


# scikit-learn's OpenMP runtime (k-means of the topic maps), once k-means has been loaded.
OPENMP_COUNTS = (
    "import json, threadpoolctl, sklearn.cluster; print(json.dumps([p['num_threads'] for p in"
    " threadpoolctl.threadpool_info() if p['user_api'] == 'openmp']))"
)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenMP uses one thread on one CPU anyway")
def test_k_means_runs_on_one_openmp_thread_unless_the_operator_says():
    assert max(_threads(OPENMP_COUNTS)) > 1  # what it would do by itself
    assert set(_threads(f"{LIMITED}; {OPENMP_COUNTS}")) == {1}
    assert set(_threads(f"{LIMITED}; {OPENMP_COUNTS}", OMP_NUM_THREADS="2")) == {2}
