"""The math libraries' threads: one for BLAS once a process has started up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS uses one thread on one CPU anyway")
def test_blas_runs_on_one_thread_after_start_up():
    code = (
        "import json, numpy, threadpoolctl; from core.cpu import one_blas_thread;"
        " before = [p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas']; one_blas_thread();"
        " after = [p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas']; print(json.dumps([before, after]))"
    )
    env = {"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}  # what 2 CPUs would give
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, env=env
    )
    before, after = json.loads(done.stdout)
    assert before and all(n == 2 for n in before)
    assert after and all(n == 1 for n in after)
