"""Canary rollouts (workflows.rollouts) on PostgreSQL alone: the verdicts, the steps and the
rollback as the leader takes them from samples, the flag each step publishes, the arm each
user gets, feedback in the results, and every refusal of bad input."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from core.flags import FlagView, rollout_bucket
from llm.catalog import LOCAL_MODEL, Catalog, ModelInfo
from storage import flags, rollouts
from storage.chat import Session
from storage.rollouts import ArmStats, Rollout, Sample
from topics.flags import FlagChanged
from workflows.flags import Setting, set_flag
from workflows.rollouts import (
    Variant,
    abort,
    advance_all,
    choice_for,
    judge,
    plan_of,
    record_feedback,
    start,
)

PAID = "openai:gpt-4o-mini"
CATALOG = Catalog([ModelInfo(LOCAL_MODEL, 10**7, 0, 0), ModelInfo(PAID, 128000, 0.15, 0.6)])
SETTINGS = Settings()
FAST = {"step_s": 0, "min_requests": 10}  # judged as soon as ten variant answers are in


async def _start(pg, tenant: str, name: str = "paid", **options) -> Rollout:
    options.setdefault("thresholds", FAST)
    plan = plan_of(tenant, name, {"models": [PAID]}, **options)
    return await start(pg, SETTINGS, plan, actor="cli:ops", catalog=CATALOG)


async def _answers(
    pg, rollout: Rollout, arm: str, n: int, *, errors: int = 0, ttft_ms: float = 100.0
) -> None:
    current = await rollouts.get(pg, rollout.tenant_id, rollout.name)
    assert current is not None
    for i in range(n):
        sample = Sample(
            uuid.uuid4(), rollout.id, rollout.tenant_id, arm, current.percent, i >= errors,
            ttft_ms, 0.001,
        )  # fmt: skip
        await rollouts.add_sample(pg, sample)


async def _flag(pg, tenant: str):
    found = await flags.flags(pg, tenants=[tenant], service="chat", name="canary")
    return found[0] if found else None


def _ids(moved) -> set[uuid.UUID]:
    return {rollout.id for rollout, _ in moved}


async def _state(pg, rollout: Rollout) -> Rollout:
    current = await rollouts.get(pg, rollout.tenant_id, rollout.name)
    assert current is not None
    return current


# -- verdicts -------------------------------------------------------------------------------


def _rollout(step: int = 0, **thresholds) -> Rollout:
    now = datetime.now(UTC)
    return Rollout(
        uuid.uuid4(), "t", "r", {}, {}, [5, 25, 50, 100], step,
        {"step_s": 60, "min_requests": 20} | thresholds, "running", None, "x", now, now, None,
    )  # fmt: skip


def _stats(requests: int, errors: int = 0, p95: float | None = 100.0) -> ArmStats:
    return ArmStats(requests, errors, p95, p95, 0.0, 0, 0)


def test_too_few_answers_wait_unless_their_errors_already_decide():
    rollout = _rollout()
    assert judge(rollout, variant=_stats(5, 1), baseline=_stats(0), elapsed_s=999).action == "wait"
    early = judge(rollout, variant=_stats(5, 2), baseline=_stats(0), elapsed_s=0)
    assert early.action == "roll_back"  # 2 of at least 20 is already over 5 %
    assert "2/5" in early.reason


def test_errors_are_judged_against_the_baseline_with_its_allowance():
    rollout = _rollout()
    noisy_baseline = _stats(100, 10)
    assert judge(rollout, variant=_stats(20, 3), baseline=noisy_baseline, elapsed_s=61).action == (
        "advance"
    )  # 15 % against 10 % + 5 %
    assert judge(rollout, variant=_stats(20, 4), baseline=noisy_baseline, elapsed_s=61).action == (
        "roll_back"
    )
    # A baseline with too few answers to trust allows only the increase.
    assert judge(rollout, variant=_stats(20, 2), baseline=_stats(5, 5), elapsed_s=61).action == (
        "roll_back"
    )


def test_a_slow_variant_is_rolled_back_and_a_fast_one_advances_after_its_time():
    rollout = _rollout()
    slow = judge(rollout, variant=_stats(20, p95=400), baseline=_stats(50, p95=100), elapsed_s=0)
    assert slow.action == "roll_back" and "p95" in slow.reason
    # Within the slack: 300 ms is more than 1.5 × 100 but less than 100 + 250.
    ok = _stats(20, p95=300)
    assert judge(rollout, variant=ok, baseline=_stats(50), elapsed_s=59).action == "wait"
    assert judge(rollout, variant=ok, baseline=_stats(50), elapsed_s=60).action == "advance"
    last = _rollout(step=3)
    assert judge(last, variant=ok, baseline=_stats(50), elapsed_s=60).action == "complete"
    # No baseline latency to compare with: only errors count.
    assert judge(rollout, variant=_stats(20, p95=9e9), baseline=_stats(0), elapsed_s=60).action == (
        "advance"
    )


# -- the leader's steps ---------------------------------------------------------------------


async def test_a_healthy_variant_steps_to_100_and_stays(pg, tenant):
    rollout = await _start(pg, tenant)
    flag = await _flag(pg, tenant)
    assert (flag.enabled, flag.rollout_percent) == (True, 5)
    assert flag.value["variant"] == {"models": [PAID]} and flag.value["baseline"] == {}
    assert flag.value["state"] == "running" and flag.value["rollout"] == str(rollout.id)
    for percent in (25, 50, 100):
        await _answers(pg, rollout, "variant", 10)
        await _answers(pg, rollout, "baseline", 10)
        await advance_all(pg)
        assert (await _state(pg, rollout)).percent == percent
        assert (await _flag(pg, tenant)).rollout_percent == percent
    await _answers(pg, rollout, "variant", 10)
    await advance_all(pg)
    done = await _state(pg, rollout)
    assert done.state == "completed" and done.ended_at is not None
    flag = await _flag(pg, tenant)
    assert (flag.rollout_percent, flag.value["state"]) == (100, "completed")
    assert rollout.id not in _ids(await advance_all(pg))  # it runs no more
    results = await rollouts.results(pg, rollout.id)
    assert [(r.percent, r.arm, r.stats.requests) for r in results] == [
        (5, "baseline", 10), (5, "variant", 10), (25, "baseline", 10), (25, "variant", 10),
        (50, "baseline", 10), (50, "variant", 10), (100, "variant", 10),
    ]  # fmt: skip
    # The next rollout here is compared with what everybody gets now.
    after = await _start(pg, tenant, "after", thresholds=FAST | {"step_s": 3600})
    assert after.baseline == {"models": [PAID]}


async def test_a_faulty_variant_goes_back_to_zero_with_its_reason_on_the_trail(pg, tenant):
    rollout = await _start(pg, tenant)
    await _answers(pg, rollout, "baseline", 30)
    await _answers(pg, rollout, "variant", 6, errors=2)
    moved = await advance_all(pg)
    assert [v.action for r, v in moved if r.id == rollout.id] == ["roll_back"]
    ended = await _state(pg, rollout)
    assert ended.state == "rolled_back" and "error rate 2/6" in (ended.reason or "")
    flag = await _flag(pg, tenant)
    assert (flag.enabled, flag.rollout_percent, flag.value["state"]) == (True, 0, "rolled_back")
    trail = await pg.fetch(
        "SELECT value FROM outbox WHERE topic = 'pdfchat.audit.v1' AND key = $1 ORDER BY id",
        tenant,
    )
    changes = [json.loads(r["value"]["detail"]) for r in trail]
    actors = [r["value"]["actor"] for r in trail]
    assert [c["rollout_percent"] for c in changes] == [5, 0] and actors == ["cli:ops", "canary"]
    (result,) = [r for r in await rollouts.results(pg, rollout.id) if r.arm == "variant"]
    assert (result.stats.requests, result.stats.errors) == (6, 2)
    # Another rollout may run here now.
    await _start(pg, tenant, "second")


async def test_abort_goes_back_to_zero_once(pg, tenant):
    rollout = await _start(pg, tenant)
    ended = await abort(pg, tenant, "paid", actor="cli:ops")
    assert ended.state == "aborted" and ended.reason == "aborted by cli:ops"
    assert (await _flag(pg, tenant)).rollout_percent == 0
    with pytest.raises(Conflict):
        await abort(pg, tenant, "paid", actor="cli:ops")
    with pytest.raises(NotFound):
        await abort(pg, tenant, "nothing", actor="cli:ops")
    await _answers(pg, rollout, "variant", 10)
    assert rollout.id not in _ids(await advance_all(pg))
    assert (await _state(pg, rollout)).state == "aborted"


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "options", "words"),
    [
        ({"models": ["openai:unknown"]}, {}, "not in the catalog"),
        ({}, {}, "changes nothing"),
        ({"models": []}, {}, "variant.models"),
        ({"retrieval_mode": "magic"}, {}, "variant.retrieval_mode"),
        ({"evidence_k": 0}, {}, "variant.evidence_k"),
        ({"colour": "red"}, {}, "variant.colour"),
        ("not an object", {}, "variant"),
        ({"evidence_k": 6}, {"steps": (25, 5, 100)}, "steps"),
        ({"evidence_k": 6}, {"steps": (5, 50)}, "last step must be 100"),
        ({"evidence_k": 6}, {"steps": (0, 100)}, "steps"),
        ({"evidence_k": 6}, {"thresholds": {"min_requests": 0}}, "thresholds.min_requests"),
        ({"evidence_k": 6}, {"thresholds": {"max_p95_ratio": 0.5}}, "thresholds.max_p95_ratio"),
        ({"evidence_k": 6}, {"thresholds": {"typo": 1}}, "thresholds.typo"),
    ],
)
async def test_bad_plans_are_refused_and_change_nothing(pg, tenant, variant, options, words):
    with pytest.raises(InvalidInput, match=words):
        plan = plan_of(tenant, "bad", variant, **options)
        await start(pg, SETTINGS, plan, actor="cli:ops", catalog=CATALOG)
    assert await rollouts.listed(pg, tenant_id=tenant) == []
    assert await _flag(pg, tenant) is None


async def test_bad_names_and_scopes_are_refused(pg, tenant):
    with pytest.raises(InvalidInput, match="name"):
        plan_of(tenant, "Has Spaces", {"evidence_k": 6})
    with pytest.raises(InvalidInput, match="tenant"):
        plan = plan_of("acme:eu", "ok", {"evidence_k": 6})
        await start(pg, SETTINGS, plan, actor="x", catalog=CATALOG)


async def test_one_rollout_at_a_time_per_scope_and_names_are_not_reused(pg, tenant):
    await _start(pg, tenant)
    with pytest.raises(Conflict, match="another runs there"):
        await _start(pg, tenant, "other")
    await abort(pg, tenant, "paid", actor="x")
    with pytest.raises(Conflict):
        await _start(pg, tenant)  # the name stays with its results


async def test_the_canary_flag_is_the_rollouts_alone(pg, tenant):
    with pytest.raises(Conflict, match="pdfchat rollout"):
        await set_flag(pg, Setting(tenant, "chat", "canary", True, 50, None), actor="x")


# -- the arm of each user -------------------------------------------------------------------


def _view_of(flag) -> FlagView:
    view = FlagView("127.0.0.1:1")
    record = FlagChanged(
        tenant_id=flag.tenant_id, service=flag.service, name=flag.name, enabled=flag.enabled,
        rollout_percent=flag.rollout_percent, value=json.dumps(flag.value),
        updated_at=flag.updated_at, updated_by=flag.updated_by,
    )  # fmt: skip
    view.add(record.dumps())
    return view


async def test_users_in_the_first_percent_get_the_variant_and_keep_it(pg, tenant):
    rollout = await _start(pg, tenant, thresholds=FAST | {"min_requests": 1})
    users = [f"u{i}" for i in range(400)]
    for percent in (5, 25):
        view = _view_of(await _flag(pg, tenant))
        choices = {u: choice_for(view, tenant, u) for u in users}
        in_variant = {u for u, c in choices.items() if c and c.arm == "variant"}
        expected = {u for u in users if rollout_bucket("chat", "canary.paid", u) < percent}
        assert in_variant == expected and 0.6 * percent < len(expected) / 4 < 1.4 * percent
        chosen = next(c for c in choices.values() if c and c.arm == "variant")
        assert chosen.variant == Variant(models=[PAID]) and chosen.rollout_id == rollout.id
        assert chosen.percent == percent
        other = next(c for c in choices.values() if c and c.arm == "baseline")
        assert other.variant == Variant()
        await _answers(pg, rollout, "variant", 1)
        await advance_all(pg)
    assert choice_for(_view_of(await _flag(pg, tenant)), "another-tenant", "u1") is None
    await abort(pg, tenant, "paid", actor="x")
    ended = choice_for(_view_of(await _flag(pg, tenant)), tenant, users[0])
    assert ended is not None and ended.arm == "baseline" and ended.rollout_id is None
    assert ended.sample(uuid.uuid4(), tenant, ok=True, ttft_ms=1.0, cost=0.0) is None


async def test_a_flag_that_is_not_a_rollouts_is_ignored(pg, tenant):
    flag = replace(await _flag(pg, tenant) or _fake_flag(tenant), value={"models": "x"})
    assert choice_for(_view_of(flag), tenant, "u1") is None


def _fake_flag(tenant: str):
    return flags.Flag(tenant, "chat", "canary", True, 100, None, datetime.now(UTC), "x")


# -- feedback -------------------------------------------------------------------------------


def _session(tenant: str, status: str = "finished") -> Session:
    now = datetime.now(UTC)
    return Session(
        uuid.uuid4(), tenant, "alice", uuid.uuid4(), uuid.uuid4(), "q?", None, status, None,
        None, None, None, 1, now, now, now,
    )  # fmt: skip


async def test_feedback_counts_in_its_steps_results_and_a_second_vote_replaces_it(pg, tenant):
    rollout = await _start(pg, tenant, thresholds=FAST | {"step_s": 3600})
    session = _session(tenant)
    sample = Sample(session.id, rollout.id, tenant, "variant", 5, True, 80.0, 0.002)
    await rollouts.add_sample(pg, sample)
    await record_feedback(pg, session, rating="down", comment="wrong page")
    await record_feedback(pg, session, rating="up", comment=None)
    (result,) = await rollouts.results(pg, rollout.id)
    assert (result.stats.thumbs_up, result.stats.thumbs_down, result.stats.requests) == (1, 0, 1)
    # Feedback on an answer outside any rollout is kept all the same.
    plain = _session(tenant)
    await record_feedback(pg, plain, rating="down", comment="no")
    row = await pg.fetchrow("SELECT * FROM answer_feedback WHERE session_id = $1", plain.id)
    assert (row["tenant_id"], row["user_id"], row["rating"]) == (tenant, "alice", -1)


async def test_feedback_on_an_unfinished_answer_or_too_long_is_refused(pg, tenant):
    with pytest.raises(Conflict):
        await record_feedback(pg, _session(tenant, "answering"), rating="up", comment=None)
    with pytest.raises(InvalidInput):
        await record_feedback(pg, _session(tenant), rating="up", comment="x" * 2001)
