"""Tenants' turns at one worker's CPU (core/fairness.py): answers of busier tenants give way,
at their checkpoints, while a quieter tenant's question is retrieved."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from core.fairness import AnswerPriority, checkpoint


def _answers(priority: AnswerPriority, stack: ExitStack, tenant: str, n: int) -> None:
    for _ in range(n):
        stack.enter_context(priority.answering(tenant))


async def _answer_checkpoint(priority: AnswerPriority, tenant: str) -> None:
    """A checkpoint reached inside one of ``tenant``'s answers."""
    with priority.answering(tenant):
        await checkpoint()


async def test_busier_tenants_give_way_while_a_quieter_one_retrieves() -> None:
    priority = AnswerPriority()
    with ExitStack() as stack:
        _answers(priority, stack, "flood", 30)
        _answers(priority, stack, "lone", 1)
        _answers(priority, stack, "peer", 31)  # as many as the flood with its checkpoint's
        with priority.retrieving("lone"):
            paused = asyncio.create_task(_answer_checkpoint(priority, "flood"))
            await asyncio.sleep(0.01)
            assert not paused.done()
            await asyncio.wait_for(_answer_checkpoint(priority, "lone"), 0.1)  # not for itself
        await asyncio.wait_for(paused, 0.1)  # goes on once the retrieval ended
        with priority.retrieving("peer"):  # as busy as the flood: neither gives way
            await asyncio.wait_for(_answer_checkpoint(priority, "flood"), 0.1)


async def test_a_checkpoint_outside_an_answer_never_waits() -> None:
    priority = AnswerPriority()
    with priority.answering("lone"), priority.retrieving("lone"):
        await asyncio.wait_for(asyncio.create_task(checkpoint()), 0.1)


async def test_a_pause_is_bounded() -> None:
    priority = AnswerPriority(max_pause_s=0.05)
    with priority.answering("flood"), priority.answering("lone"), priority.retrieving("lone"):
        await asyncio.wait_for(_answer_checkpoint(priority, "flood"), 1.0)


async def test_tenants_at_their_share_of_answer_slots() -> None:
    priority = AnswerPriority()
    with ExitStack() as stack:
        _answers(priority, stack, "flood", 28)
        _answers(priority, stack, "lone", 1)
        assert priority.tenants_running(at_least=28) == {"flood"}
    assert priority.tenants_running(at_least=1) == set()
