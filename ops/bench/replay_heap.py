"""What a web process's answers kept for reconnects cost it: objects the garbage collector
walks, the pause of a full collection, and memory.

    .venv/bin/python ops/bench/replay_heap.py --answers 3000 36000

Feeds ``web.streams.AnswerStreams`` the records of N answers of 80 tokens (16 to a record, as
the orchestrator coalesces them, then the end), as its Kafka consumer would: 36,000 is 15
minutes (PDFCHAT_ANSWER_RETENTION_S) at 40 answers a second. Each count runs in a fresh
interpreter. A full collection stops every socket of the process (core/heap.py). Not a test:
it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKENS = 80
PER_RECORD = 16


def measure(answers: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO))
    from topics import AnswerEvent
    from web.streams import AnswerStreams

    streams = AnswerStreams("127.0.0.1:1", retention_s=900)
    now = datetime.now(UTC)
    words = [f"word{i} " for i in range(PER_RECORD)]
    for answer in range(answers):
        session = f"session-{answer}"
        for seq in range(1, TOKENS + 1, PER_RECORD):
            token = AnswerEvent(
                tenant_id="t",
                session_id=session,
                seq=seq,
                type="token",
                at=now,
                content=words[0],
                more=words[1:],
            )
            streams.add(token.dumps())
        end = AnswerEvent(tenant_id="t", session_id=session, seq=TOKENS + 1, type="end", at=now)
        streams.add(end.dumps())
    pauses = []
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        pauses.append(time.perf_counter() - started)
    return {
        "tracked": len(gc.get_objects()),
        "pause_ms": min(pauses) * 1000,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, nargs="+", default=[3000, 36000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's count
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    print("| answers held | objects tracked | full collection ms | max RSS MB |")
    print("|---|---|---|---|")
    for answers in args.answers:
        child = [sys.executable, __file__, "--one", str(answers)]
        seen = json.loads(subprocess.run(child, capture_output=True, check=True).stdout)
        print(
            f"| {answers:,} | {seen['tracked']:,} | {seen['pause_ms']:.0f} | "
            f"{seen['max_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
