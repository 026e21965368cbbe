"""Canary rollouts: a chat variant reaches users step by step (5 → 25 → 50 → 100 %) while it
answers as well as the baseline, and goes back to 0 % by itself when it does not.

    start(pool, settings, plan, actor)       pdfchat rollout start
    abort(pool, tenant, name, actor)         pdfchat rollout abort
    advance_all(pool)                        the maintenance leader, every sweep (2 s)
    choice_for(view, tenant, user)           the orchestrator: which arm answers this user

A variant changes how a question is answered: the model route (only its models, in its
order), the retrieval mode, the number of passages, the system prompt. The rollout drives the
flag ``chat/canary`` of its scope (a tenant, or ``"*"``: every tenant without a flag of its
own): its ``rollout_percent`` is the step, its value names the rollout, the variant and the
baseline. Every process reads the flag (core/flags.py), so a step, and a rollback, reaches
every worker within seconds of its commit. A user is in the variant's arm when
``rollout_bucket("chat", "canary.<name>", user_id) < percent``: stable for the user through the
steps (the arm only grows), and another rollout draws other users first.

Every answer given while a rollout runs leaves a sample (arm, step, ok, time to first token,
cost), committed with the answer. An answer is not ok when it failed or when a model call
failed on the way (a retry, a fallback): the user waited, or got a worse answer. The leader
judges the variant's samples of the current step against the baseline's samples of the whole
rollout (``judge``): too many errors or too slow a p95 rolls it back to 0 % at once; a step
that lasted ``step_s`` with ``min_requests`` variant answers within bounds advances.
``experiment_results`` keeps each step's figures and the feedback on its answers.

A completed rollout leaves its flag at 100 %: the variant is what every user gets, and the
baseline of the scope's next rollout.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from core.flags import CANARY, FlagView, in_rollout
from llm.catalog import Catalog
from storage import flags as flag_rows
from storage import rollouts
from storage.chat import Session
from storage.flags import Setting
from storage.rollouts import NO_SAMPLES, RUNNING, Arm, ArmStats, Rollout, Sample
from workflows import flags
from workflows.search import Mode

__all__ = [
    "Choice",
    "Plan",
    "Thresholds",
    "Variant",
    "Verdict",
    "abort",
    "advance_all",
    "choice_for",
    "judge",
    "plan_of",
    "record_feedback",
    "start",
]

log = logging.getLogger("pdfchat.rollouts")

DEFAULT_STEPS = (5, 25, 50, 100)
CONTROLLER = "canary"  # the actor of the leader's steps on the audit trail
MAX_STEPS = 20


class Variant(BaseModel):
    """How the variant answers; what it leaves out is as the baseline does it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    models: list[str] | None = Field(default=None, min_length=1, max_length=10)
    retrieval_mode: Mode | None = None
    evidence_k: int | None = Field(default=None, ge=1, le=50)
    system_prompt: str | None = Field(default=None, min_length=1, max_length=8000)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The least time at each step, and the variant answers a step needs to be judged.
    step_s: float = Field(default=60.0, ge=0, le=7 * 86400)
    min_requests: int = Field(default=20, ge=1, le=1_000_000)
    # Rolled back when the variant's error rate exceeds the baseline's by more than this, or
    # its p95 time to first token exceeds both ratio × and slack + the baseline's.
    max_error_increase: float = Field(default=0.05, ge=0, le=1)
    max_p95_ratio: float = Field(default=1.5, ge=1)
    p95_slack_ms: float = Field(default=250.0, ge=0)


class Plan(BaseModel):
    """What `pdfchat rollout start` asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")
    variant: Variant
    steps: tuple[int, ...] = DEFAULT_STEPS
    thresholds: Thresholds = Thresholds()

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(steps) <= MAX_STEPS:
            raise ValueError(f"from 1 to {MAX_STEPS} steps")
        if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
            raise ValueError("steps must increase, each from 1 to 100")
        if steps[-1] != 100:
            raise ValueError("the last step must be 100")
        return steps


@dataclass(frozen=True)
class Verdict:
    action: Literal["wait", "advance", "complete", "roll_back"]
    reason: str = ""


@dataclass(frozen=True)
class Choice:
    """How one answer is given while a rollout runs (or after one completed)."""

    arm: Arm
    variant: Variant
    rollout_id: uuid.UUID | None  # None: the rollout ended; no sample is taken
    percent: int

    def sample(
        self, session_id: uuid.UUID, tenant_id: str, *, ok: bool, ttft_ms: float | None, cost: float
    ) -> Sample | None:
        if self.rollout_id is None:
            return None
        return Sample(
            session_id, self.rollout_id, tenant_id, self.arm, self.percent, ok, ttft_ms, cost
        )


# -- the operator's commands ----------------------------------------------------------------


def plan_of(tenant_id: str, name: str, variant: Any, **options: Any) -> Plan:
    """A plan from untrusted input (the command line), or InvalidInput saying what is wrong."""
    try:
        return Plan(tenant_id=tenant_id, name=name, variant=variant, **options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(problems, code="bad_rollout") from None


async def start(
    pool: asyncpg.Pool,
    settings: Settings,
    plan: Plan,
    *,
    actor: str,
    catalog: Catalog | None = None,
) -> Rollout:
    """Begin at the first step; the variant's models must be in the catalog (the settings'
    PDFCHAT_CHAT_MODELS, unless another is given)."""
    catalog = catalog or Catalog.from_settings(settings)
    flags.check(Setting(plan.tenant_id, *CANARY, True, plan.steps[0], None))  # the scope
    unknown = [m for m in plan.variant.models or () if m not in catalog]
    if unknown:
        raise InvalidInput(
            f"models not in the catalog (PDFCHAT_CHAT_MODELS): {', '.join(unknown)}",
            code="bad_rollout",
        )
    if not plan.variant.as_json():
        raise InvalidInput("the variant changes nothing", code="bad_rollout")
    async with pool.acquire() as conn, conn.transaction():
        try:
            rollout = await rollouts.create(
                conn,
                tenant_id=plan.tenant_id,
                name=plan.name,
                variant=plan.variant.as_json(),
                baseline=await _in_force(conn, plan.tenant_id),
                steps=list(plan.steps),
                thresholds=plan.thresholds.model_dump(),
                started_by=actor,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a rollout named {plan.name!r} exists in {plan.tenant_id!r}, or another runs"
                " there; see `pdfchat rollout status`",
                code="rollout_exists",
            ) from None
        await _publish(conn, rollout, actor=actor)
    return rollout


async def abort(pool: asyncpg.Pool, tenant_id: str, name: str, *, actor: str) -> Rollout:
    """Back to 0 % now, as a rollback is, but by hand."""
    async with pool.acquire() as conn, conn.transaction():
        rollout = await rollouts.get(conn, tenant_id, name)
        if rollout is None:
            raise NotFound(f"no rollout {name!r} in {tenant_id!r}", code="unknown_rollout")
        if rollout.state != RUNNING:
            raise Conflict(f"rollout {name!r} already ended: {rollout.state}", code="rollout_ended")
        ended = await rollouts.move(
            conn, rollout, step=rollout.step, state="aborted", reason=f"aborted by {actor}"
        )
        if ended is None:
            raise Conflict(f"rollout {name!r} moved meanwhile; try again", code="rollout_moved")
        await _publish(conn, ended, actor=actor)
    return ended


# -- the leader's sweep -----------------------------------------------------------------------


async def advance_all(pool: asyncpg.Pool) -> list[tuple[Rollout, Verdict]]:
    """Judge every running rollout once; returns those that moved, and why."""
    moved = []
    for rollout in await rollouts.running(pool):
        verdict = await _advance(pool, rollout)
        if verdict.action != "wait":
            moved.append((rollout, verdict))
    return moved


async def _advance(pool: asyncpg.Pool, rollout: Rollout) -> Verdict:
    step = await rollouts.arm_stats(pool, rollout.id, percent=rollout.percent)
    whole = await rollouts.arm_stats(pool, rollout.id)
    elapsed_s = (datetime.now(UTC) - rollout.step_started_at).total_seconds()
    verdict = judge(
        rollout,
        variant=step.get("variant", NO_SAMPLES),
        baseline=whole.get("baseline", NO_SAMPLES),
        elapsed_s=elapsed_s,
    )
    async with pool.acquire() as conn, conn.transaction():
        await rollouts.save_results(conn, rollout.id, rollout.percent, step)
        if verdict.action == "wait":
            return verdict
        next_step, state = {
            "advance": (rollout.step + 1, RUNNING),
            "complete": (rollout.step, "completed"),
            "roll_back": (rollout.step, "rolled_back"),
        }[verdict.action]
        moved = await rollouts.move(
            conn, rollout, step=next_step, state=state, reason=verdict.reason
        )
        if moved is None:  # aborted meanwhile
            return Verdict("wait")
        await _publish(conn, moved, actor=CONTROLLER)
    level = logging.WARNING if verdict.action == "roll_back" else logging.INFO
    log.log(
        level,
        "rollout %s: %s",
        rollout.name,
        verdict.action.replace("_", " "),
        extra={"tenant_id": rollout.tenant_id, "reason": verdict.reason},
    )
    return verdict


def judge(rollout: Rollout, *, variant: ArmStats, baseline: ArmStats, elapsed_s: float) -> Verdict:
    """What the figures say. The baseline counts only with ``min_requests`` answers; with
    fewer, the variant is held to no errors above the allowance and no latency bound."""
    t = Thresholds(**rollout.thresholds)
    trusted = baseline.requests >= t.min_requests
    allowed = (baseline.error_rate if trusted else 0.0) + t.max_error_increase
    if variant.errors / max(variant.requests, t.min_requests) > allowed:
        # Also before min_requests: errors that no run of successes could bring under the bound.
        return Verdict(
            "roll_back",
            f"error rate {variant.errors}/{variant.requests} of the variant at"
            f" {rollout.percent}% is over the allowed {allowed:.1%}",
        )
    if variant.requests < t.min_requests:
        return Verdict("wait")
    if trusted and variant.p95_ms is not None and baseline.p95_ms is not None:
        bound = max(baseline.p95_ms * t.max_p95_ratio, baseline.p95_ms + t.p95_slack_ms)
        if variant.p95_ms > bound:
            return Verdict(
                "roll_back",
                f"p95 time to first token {variant.p95_ms:.0f} ms of the variant at"
                f" {rollout.percent}% is over {bound:.0f} ms (baseline {baseline.p95_ms:.0f} ms)",
            )
    if elapsed_s < t.step_s:
        return Verdict("wait")
    if rollout.step + 1 < len(rollout.steps):
        return Verdict("advance", f"{variant.requests} answers within bounds at {rollout.percent}%")
    return Verdict("complete", f"{variant.requests} answers within bounds at 100%")


# -- feedback -------------------------------------------------------------------------------

MAX_COMMENT_CHARS = 2000


async def record_feedback(
    pool: asyncpg.Pool, session: Session, *, rating: Literal["up", "down"], comment: str | None
) -> datetime:
    """The asker's thumbs up or down on a finished answer (a second vote replaces the first);
    the experiment result of the answer's step, if it is a rollout's sample, counts it."""
    if session.status != "finished":
        raise Conflict("only a finished answer can be rated", code="answer_not_finished")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"comment is longer than {MAX_COMMENT_CHARS} characters")
    async with pool.acquire() as conn, conn.transaction():
        at = await rollouts.save_feedback(
            conn,
            tenant_id=session.tenant_id,
            session_id=session.id,
            user_id=session.user_id,
            rating=1 if rating == "up" else -1,
            comment=comment,
        )
        if (step := await rollouts.step_of(conn, session.id)) is not None:
            rollout_id, percent = step
            stats = await rollouts.arm_stats(conn, rollout_id, percent=percent)
            await rollouts.save_results(conn, rollout_id, percent, stats)
    return at


# -- the flag ---------------------------------------------------------------------------------


def choice_for(view: FlagView, tenant_id: str, user_id: str) -> Choice | None:
    """The arm and variant that answer this user now; None when no rollout ever ran here."""
    flag = view.state(*CANARY, tenant=tenant_id)
    if flag is None or not flag.enabled or not isinstance(flag.value, dict):
        return None
    value = flag.value
    try:
        in_variant = in_rollout(
            CANARY[0], f"{CANARY[1]}.{value['name']}", user_id, flag.rollout_percent
        )
        arm: Arm = "variant" if in_variant else "baseline"
        variant = Variant.model_validate(value[arm])
        rollout_id = uuid.UUID(value["rollout"]) if value["state"] == RUNNING else None
    except (KeyError, TypeError, ValueError):  # ValidationError is a ValueError
        log.warning("ignored a canary flag that is not a rollout's", extra={"tenant_id": tenant_id})
        return None
    return Choice(arm, variant, rollout_id, flag.rollout_percent)


async def _publish(conn: asyncpg.Connection, rollout: Rollout, *, actor: str) -> None:
    """The rollout's state as its flag: the step's percentage; 0 once rolled back or aborted
    (the baseline for everyone), 100 once completed."""
    percent = {"running": rollout.percent, "completed": 100}.get(rollout.state, 0)
    value = {
        "rollout": str(rollout.id),
        "name": rollout.name,
        "state": rollout.state,
        "variant": rollout.variant,
        "baseline": rollout.baseline,
    }
    await flags.change(conn, Setting(rollout.tenant_id, *CANARY, True, percent, value), actor=actor)


async def _in_force(conn: asyncpg.Connection, tenant_id: str) -> dict[str, Any]:
    """What the scope's users get now, which the new rollout is compared with: the variant of
    a completed rollout, the baseline of one rolled back, else nothing (the settings)."""
    found = await flag_rows.flags(conn, tenants=[tenant_id], service=CANARY[0], name=CANARY[1])
    if not found or not isinstance(found[0].value, dict):
        return {}
    arm = "variant" if found[0].rollout_percent == 100 else "baseline"
    kept = found[0].value.get(arm)
    return kept if isinstance(kept, dict) else {}
