"""The math libraries' threads: one for BLAS once a process has started up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _blas_threads(code: str, **env: str) -> list[int]:
    """The BLAS libraries' thread counts that ``code`` prints, run in a fresh interpreter."""
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


COUNTS = (
    "import json, threadpoolctl; print(json.dumps([p['num_threads'] for p in"
    " threadpoolctl.threadpool_info() if p['user_api'] == 'blas']))"
)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS uses one thread on one CPU anyway")
def test_blas_runs_on_one_thread_whether_loaded_before_or_after_start_up():
    assert max(_blas_threads(f"import numpy; {COUNTS}")) > 1  # what it would do by itself
    loaded_before = _blas_threads(
        f"import numpy; from core.cpu import one_blas_thread; one_blas_thread(); {COUNTS}"
    )
    loaded_after = _blas_threads(
        f"from core.cpu import one_blas_thread; one_blas_thread(); import numpy; {COUNTS}"
    )
    assert loaded_before and set(loaded_before) == {1}
    assert loaded_after and set(loaded_after) == {1}


def test_an_operators_own_setting_is_kept():
    kept = _blas_threads(
        f"import numpy; from core.cpu import one_blas_thread; one_blas_thread(); {COUNTS}",
        OPENBLAS_NUM_THREADS="2",
    )
    assert kept and set(kept) == {min(2, os.cpu_count() or 1)}
