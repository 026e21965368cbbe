"""Answer streams in one web process, fed records as Kafka would (no broker here)."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime

import pytest

from topics import AnswerEvent
from web.errors import close_code
from web.streams import AnswerStreams, ReaderTooSlow


def record(seq: int, kind: str = "token", *, session: str = "s-1") -> bytes:
    event = AnswerEvent(
        tenant_id="t", session_id=session, seq=seq, type=kind, at=datetime.now(UTC), content="x"
    )
    return event.dumps()


async def test_a_reader_that_keeps_up_gets_every_event_once_in_order() -> None:
    streams = AnswerStreams("127.0.0.1:1", retention_s=60, queue_max=2)
    streams.add(record(1))
    with streams.subscribe("s-1", after_seq=0) as subscription:
        seqs = [(await subscription.next()).seq]  # from the backlog
        for seq in (2, 2, 3, 4):  # the second 2 is a redelivery: dropped
            streams.add(record(seq))
            if subscription.live.qsize():
                seqs.append((await subscription.next()).seq)
    assert seqs == [1, 2, 3, 4]


async def test_a_slow_reader_is_cut_off_past_its_queue_and_may_resume() -> None:
    streams = AnswerStreams("127.0.0.1:1", retention_s=60, queue_max=3)
    with streams.subscribe("s-1", after_seq=0) as slow:
        for seq in range(1, 6):  # the socket is stuck in a send: nothing is taken
            streams.add(record(seq))
        with pytest.raises(ReaderTooSlow) as cut:
            await slow.next()
    assert close_code(cut.value) == 4429
    assert streams.last_seq("s-1") == 5, "the stream itself lost nothing"
    with streams.subscribe("s-1", after_seq=2) as resumed:
        streams.add(record(6, "end"))
        seqs = [(await resumed.next()).seq for _ in range(4)]
    assert seqs == [3, 4, 5, 6]


async def test_other_readers_of_the_same_answer_are_not_cut_off() -> None:
    streams = AnswerStreams("127.0.0.1:1", retention_s=60, queue_max=2)
    with (
        streams.subscribe("s-1", after_seq=0) as slow,
        streams.subscribe("s-1", after_seq=0) as quick,
    ):
        for seq in range(1, 5):
            streams.add(record(seq))
            assert (await quick.next()).seq == seq
        with pytest.raises(ReaderTooSlow):
            await slow.next()


def tokens(seq: int, *texts: str, session: str = "s-1") -> bytes:
    """One record of several tokens (``more``), as the orchestrator coalesces them."""
    event = AnswerEvent(
        tenant_id="t", session_id=session, seq=seq, type="token", at=datetime.now(UTC),
        content=texts[0], more=list(texts[1:]) or None,
    )  # fmt: skip
    return event.dumps()


async def test_a_record_of_several_tokens_is_one_message_per_token_and_resumes_inside_it():
    streams = AnswerStreams("127.0.0.1:1", retention_s=60)
    streams.add(tokens(1, "The "))
    streams.add(tokens(2, "light ", "was ", "built "))
    streams.add(tokens(3, "again ", "was "))  # 3 and 4 came already: dropped
    streams.add(tokens(5, "ignored ", "in "))
    assert streams.last_seq("s-1") == 6
    with streams.subscribe("s-1", after_seq=3) as resumed:  # inside the second record
        streams.add(record(7, "end"))
        messages = [json.loads((await resumed.next()).text) for _ in range(4)]
    assert messages[:3] == [
        {"type": "token", "seq": 4, "content": "built "},
        {"type": "token", "seq": 5, "content": "ignored "},
        {"type": "token", "seq": 6, "content": "in "},
    ]
    assert messages[3]["type"] == "end" and messages[3]["seq"] == 7
    assert streams.done("s-1")


def test_answers_held_for_replay_add_little_for_the_garbage_collector_to_walk() -> None:
    """A web process keeps every answer of the last retention_s; every full collection walks
    each tracked object it holds, stopping the process (core/heap.py)."""
    streams = AnswerStreams("127.0.0.1:1", retention_s=60)
    gc.collect()
    before = len(gc.get_objects())
    for session in range(20):
        for seq in range(1, 101):
            streams.add(tokens(seq, f"word{seq} ", session=f"s-{session}"))
    gc.collect()
    added = len(gc.get_objects()) - before
    assert streams.last_seq("s-7") == 100
    assert added < 200, f"{added} tracked objects for 2,000 messages"
