"""An example subscriber: pages ingested and questions asked, per tenant per hour.

    python ops/subscribers/activity.py [--bootstrap-servers 127.0.0.1:9092] [--group ID]
                                       [--tenant T ...] [--until-end] [--json]

Plain aiokafka, no Faust and no pdfchat import: what an analytics team would write against the
published topics (docs/topics.md). It reads

- ``pdfchat.documents.parsed.v1``: a document's ``pages``, counted in the hour of ``parsed_at``.
  A document counts once: the stale-task sweep may publish a document's record again.
- ``pdfchat.chat.requested.v1``: a question, counted in the hour of ``requested_at``. A question
  counts once per ``session_id``: a question whose answer was taken over is requested again.

With ``--until-end`` it reads each partition from the beginning up to its end offset at start,
prints the table (or JSON with ``--json``) once and stops. Without it, it follows the topics
and prints the hours that changed every ``--report-every-s`` seconds; with ``--group`` it
commits offsets and resumes where that group left off (counting only what it reads from then
on: keep the counts elsewhere for exact totals across restarts).

Only the fields it uses are read and unknown ones are ignored, so a record that gains an
optional field (a compatible change) does not disturb it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord

PARSED = "pdfchat.documents.parsed.v1"
CHAT_REQUESTED = "pdfchat.chat.requested.v1"


@dataclass
class Hour:
    pages: int = 0
    questions: int = 0


@dataclass
class Activity:
    """Counts per (hour, tenant), and the ids already counted so repeats are not."""

    tenants: frozenset[str] = frozenset()
    hours: dict[tuple[str, str], Hour] = field(default_factory=lambda: defaultdict(Hour))
    counted: set[tuple[str, str]] = field(default_factory=set)

    def add(self, record: ConsumerRecord) -> tuple[str, str] | None:
        """Count one record; the (hour, tenant) it changed, if any."""
        value = json.loads(record.value)
        tenant = value["tenant_id"]
        if self.tenants and tenant not in self.tenants:
            return None
        if record.topic == PARSED:
            seen, when = (PARSED, value["document_id"]), value["parsed_at"]
        else:
            seen, when = (CHAT_REQUESTED, value["session_id"]), value["requested_at"]
        if seen in self.counted:
            return None
        self.counted.add(seen)
        bucket = (_hour_of(when), tenant)
        if record.topic == PARSED:
            self.hours[bucket].pages += value["pages"]
        else:
            self.hours[bucket].questions += 1
        return bucket

    def rows(self, only: set[tuple[str, str]] | None = None) -> list[dict[str, object]]:
        return [
            {"hour": hour, "tenant": tenant, "pages": c.pages, "questions": c.questions}
            for (hour, tenant), c in sorted(self.hours.items())
            if only is None or (hour, tenant) in only
        ]


def _hour_of(timestamp: str) -> str:
    """``2026-12-04T09:00Z`` for any time in that hour (timestamps are ISO 8601, UTC)."""
    return datetime.fromisoformat(timestamp).strftime("%Y-%m-%dT%H:00Z")


async def read_until_end(consumer: AIOKafkaConsumer, activity: Activity) -> None:
    partitions = list(consumer.assignment())  # without a group: every partition of both
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for record in records:
                activity.add(record)


async def follow(
    consumer: AIOKafkaConsumer, activity: Activity, every_s: float, as_json: bool
) -> None:
    changed: set[tuple[str, str]] = set()
    while True:
        for records in (await consumer.getmany(timeout_ms=int(every_s * 1000))).values():
            changed |= {bucket for r in records if (bucket := activity.add(r))}
        if changed:
            report(activity.rows(changed), as_json)
            changed.clear()


def report(rows: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows), flush=True)
        return
    print(f"{'hour (UTC)':<18} {'tenant':<24} {'pages':>8} {'questions':>10}")
    for row in rows:
        print(f"{row['hour']:<18} {row['tenant']!s:<24} {row['pages']:>8} {row['questions']:>10}")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    consumer = AIOKafkaConsumer(
        PARSED,
        CHAT_REQUESTED,
        bootstrap_servers=args.bootstrap_servers,
        group_id=None if args.until_end else args.group,
        enable_auto_commit=args.group is not None and not args.until_end,
        auto_offset_reset="earliest",
        client_id="pdfchat-activity-example",
    )
    await consumer.start()
    activity = Activity(tenants=frozenset(args.tenant or ()))
    try:
        if args.until_end:
            await read_until_end(consumer, activity)
            report(activity.rows(), args.json)
        else:
            await follow(consumer, activity, args.report_every_s, args.json)
    finally:
        await consumer.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--group", help="consumer group: commit offsets and resume from them")
    parser.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    parser.add_argument("--until-end", action="store_true", help="read what is there, then stop")
    parser.add_argument("--report-every-s", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="JSON rows instead of a table")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse_args()))
