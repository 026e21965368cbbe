"""The garbage collector of a long-running process: start-up objects frozen, pauses timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: freezing is for the rest of a process's life.
PROGRAM = """
import gc, json
from prometheus_client import REGISTRY
from core.heap import settle_after_start, time_collections

def pauses():
    return REGISTRY.get_sample_value("pdfchat_gc_pause_seconds_count", {"generation": "2"}) or 0

time_collections()
startup = [[i] for i in range(50_000)]  # long-lived, like modules and models
walked_before = len(gc.get_objects())
timed_before = pauses()
settle_after_start()
gc.collect()
print(json.dumps({
    "walked_before": walked_before,
    "walked_after": len(gc.get_objects()),
    "frozen": gc.get_freeze_count(),
    "timed": pauses() - timed_before,
}))
"""


def test_objects_alive_after_start_up_are_left_out_of_later_collections_and_pauses_are_timed():
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, cwd=REPO
    )
    seen = json.loads(done.stdout)
    assert seen["frozen"] >= 50_000
    assert seen["walked_after"] < seen["walked_before"] - 50_000
    # The collection of settle_after_start and the one after it (the collector may add its own).
    assert seen["timed"] >= 2
