"""Tenants' turns at one worker's CPU (core/fairness.py): retrievals go to the tenant with
the fewest answers running, and busier tenants' streams pause while it retrieves."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from core.fairness import AnswerPriority


def _running(priority: AnswerPriority, stack: ExitStack, tenant: str, answers: int) -> None:
    for _ in range(answers):
        stack.enter_context(priority.answering(tenant))


async def _retrieve(priority: AnswerPriority, tenant: str, order: list[str], go: asyncio.Event):
    async with priority.retrieval(tenant):
        order.append(tenant)
        await go.wait()


async def test_the_next_retrieval_goes_to_the_tenant_with_fewest_answers_running() -> None:
    priority = AnswerPriority(permits=1)
    order: list[str] = []
    go = asyncio.Event()
    with ExitStack() as stack:
        _running(priority, stack, "flood", 30)
        _running(priority, stack, "lone", 1)
        holder = asyncio.create_task(_retrieve(priority, "flood", order, go))
        await asyncio.sleep(0)
        waiting = [
            asyncio.create_task(_retrieve(priority, t, order, go)) for t in ("flood", "lone")
        ]
        await asyncio.sleep(0)
        assert order == ["flood"]  # one permit: the others wait
        go.set()
        await asyncio.gather(holder, *waiting)
    assert order == ["flood", "lone", "flood"]


async def test_busier_streams_pause_while_a_quieter_tenant_retrieves() -> None:
    priority = AnswerPriority(permits=4)
    with ExitStack() as stack:
        _running(priority, stack, "flood", 30)
        _running(priority, stack, "lone", 1)
        _running(priority, stack, "peer", 30)
        async with priority.retrieval("lone"):
            paused = asyncio.create_task(priority.yield_to_quieter("flood"))
            await asyncio.sleep(0.01)
            assert not paused.done()
            await asyncio.wait_for(priority.yield_to_quieter("lone"), 0.1)  # not for itself
        await asyncio.wait_for(paused, 0.1)  # goes on once the retrieval ended
        async with priority.retrieval("peer"):  # as busy as the flood: no pause
            await asyncio.wait_for(priority.yield_to_quieter("flood"), 0.1)


async def test_a_pause_is_bounded() -> None:
    priority = AnswerPriority(permits=1, max_pause_s=0.05)
    with priority.answering("flood"), priority.answering("flood"), priority.answering("lone"):
        async with priority.retrieval("lone"):
            await asyncio.wait_for(priority.yield_to_quieter("flood"), 1.0)


async def test_a_cancelled_waiter_leaves_no_permit_behind() -> None:
    priority = AnswerPriority(permits=1)
    order: list[str] = []
    go = asyncio.Event()
    holder = asyncio.create_task(_retrieve(priority, "a", order, go))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(_retrieve(priority, "b", order, go))
    await asyncio.sleep(0)
    cancelled.cancel()
    go.set()
    await holder
    await asyncio.wait_for(_retrieve(priority, "c", order, go), 0.1)
    assert order == ["a", "c"]
