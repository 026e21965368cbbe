"""Canary rollouts, the samples of the answers given while they run, feedback on answers, and
the experiment results (workflows/rollouts.py decides; this module only stores)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

import asyncpg

Arm = Literal["baseline", "variant"]
ARMS: tuple[Arm, ...] = ("baseline", "variant")
RUNNING = "running"

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Rollout:
    id: uuid.UUID
    tenant_id: str  # a tenant, or "*": every tenant
    name: str
    variant: dict[str, Any]
    baseline: dict[str, Any]
    steps: list[int]
    step: int  # index into steps
    thresholds: dict[str, Any]
    state: str  # running, completed, rolled_back, aborted
    reason: str | None
    started_by: str
    started_at: datetime
    step_started_at: datetime
    ended_at: datetime | None

    @property
    def percent(self) -> int:
        return self.steps[self.step]


@dataclass(frozen=True)
class Sample:
    """One answer given while a rollout ran."""

    session_id: uuid.UUID
    rollout_id: uuid.UUID
    tenant_id: str
    arm: Arm
    percent: int
    ok: bool
    ttft_ms: float | None
    cost_usd: float


@dataclass(frozen=True)
class ArmStats:
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    cost_usd: float
    thumbs_up: int
    thumbs_down: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


NO_SAMPLES = ArmStats(0, 0, None, None, 0.0, 0, 0)


@dataclass(frozen=True)
class Result:
    rollout_id: uuid.UUID
    percent: int
    arm: Arm
    stats: ArmStats
    updated_at: datetime


_COLUMNS = ", ".join(Rollout.__dataclass_fields__)


async def create(
    conn: Db,
    *,
    tenant_id: str,
    name: str,
    variant: dict[str, Any],
    baseline: dict[str, Any],
    steps: list[int],
    thresholds: dict[str, Any],
    started_by: str,
) -> Rollout:
    """Raises asyncpg.UniqueViolationError when the name is taken in that scope, or another
    rollout runs there."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO rollouts (id, tenant_id, name, variant, baseline, steps, step, thresholds,
                              state, started_by)
        VALUES ($1, $2, $3, $4, $5, $6, 0, $7, '{RUNNING}', $8)
        RETURNING {_COLUMNS}
        """,
        uuid.uuid4(),
        tenant_id,
        name,
        variant,
        baseline,
        steps,
        thresholds,
        started_by,
    )
    return Rollout(**dict(row))


async def get(conn: Db, tenant_id: str, name: str) -> Rollout | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE tenant_id = $1 AND name = $2", tenant_id, name
    )
    return Rollout(**dict(row)) if row else None


async def listed(conn: Db, *, tenant_id: str | None = None, limit: int = 50) -> list[Rollout]:
    """The latest rollouts first, of one scope or all."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM rollouts WHERE $1::text IS NULL OR tenant_id = $1
        ORDER BY started_at DESC, id LIMIT $2
        """,
        tenant_id,
        limit,
    )
    return [Rollout(**dict(r)) for r in rows]


async def running(conn: Db) -> list[Rollout]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM rollouts WHERE state = '{RUNNING}' ORDER BY started_at"
    )
    return [Rollout(**dict(r)) for r in rows]


async def move(
    conn: asyncpg.Connection, rollout: Rollout, *, step: int, state: str, reason: str | None
) -> Rollout | None:
    """Go to ``step`` or end in ``state``; None when the rollout no longer runs at the step it
    was read at (an abort, or another leader, was first)."""
    row = await conn.fetchrow(
        f"""
        UPDATE rollouts SET step = $3, state = $4, reason = $5,
            step_started_at = CASE WHEN step = $3 THEN step_started_at ELSE now() END,
            ended_at = CASE WHEN $4 = '{RUNNING}' THEN NULL ELSE now() END
        WHERE id = $1 AND state = '{RUNNING}' AND step = $2
        RETURNING {_COLUMNS}
        """,
        rollout.id,
        rollout.step,
        step,
        state,
        reason,
    )
    return Rollout(**dict(row)) if row else None


async def add_sample(conn: Db, sample: Sample) -> None:
    """Once per session: an answer taken over and finished again is not counted twice."""
    await conn.execute(
        """
        INSERT INTO experiment_samples (session_id, rollout_id, tenant_id, arm, percent, ok,
                                        ttft_ms, cost_usd)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (session_id) DO NOTHING
        """,
        sample.session_id,
        sample.rollout_id,
        sample.tenant_id,
        sample.arm,
        sample.percent,
        sample.ok,
        sample.ttft_ms,
        sample.cost_usd,
    )


async def arm_stats(
    conn: Db, rollout_id: uuid.UUID, *, percent: int | None = None
) -> dict[Arm, ArmStats]:
    """Each arm's figures over the samples of one step (``percent``), or of the whole
    rollout; an arm with no samples is left out."""
    rows = await conn.fetch(
        """
        SELECT s.arm, count(*) AS requests, count(*) FILTER (WHERE NOT s.ok) AS errors,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ttft_ms) AS p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY s.ttft_ms) AS p95_ms,
               coalesce(sum(s.cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE f.rating = 1) AS thumbs_up,
               count(*) FILTER (WHERE f.rating = -1) AS thumbs_down
        FROM experiment_samples s
        LEFT JOIN answer_feedback f ON f.session_id = s.session_id
        WHERE s.rollout_id = $1 AND ($2::smallint IS NULL OR s.percent = $2)
        GROUP BY s.arm
        """,
        rollout_id,
        percent,
    )
    return {r["arm"]: ArmStats(**{k: r[k] for k in ArmStats.__dataclass_fields__}) for r in rows}


async def save_results(
    conn: Db, rollout_id: uuid.UUID, percent: int, stats: dict[Arm, ArmStats]
) -> None:
    for arm, figures in stats.items():
        await conn.execute(
            """
            INSERT INTO experiment_results (rollout_id, percent, arm, requests, errors, p50_ms,
                                            p95_ms, cost_usd, thumbs_up, thumbs_down)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (rollout_id, percent, arm) DO UPDATE SET
                requests = excluded.requests, errors = excluded.errors,
                p50_ms = excluded.p50_ms, p95_ms = excluded.p95_ms,
                cost_usd = excluded.cost_usd, thumbs_up = excluded.thumbs_up,
                thumbs_down = excluded.thumbs_down, updated_at = now()
            """,
            rollout_id,
            percent,
            arm,
            figures.requests,
            figures.errors,
            figures.p50_ms,
            figures.p95_ms,
            figures.cost_usd,
            figures.thumbs_up,
            figures.thumbs_down,
        )


async def results(conn: Db, rollout_id: uuid.UUID) -> list[Result]:
    rows = await conn.fetch(
        "SELECT * FROM experiment_results WHERE rollout_id = $1 ORDER BY percent, arm",
        rollout_id,
    )
    return [
        Result(
            r["rollout_id"],
            r["percent"],
            r["arm"],
            ArmStats(**{k: r[k] for k in ArmStats.__dataclass_fields__}),
            r["updated_at"],
        )
        for r in rows
    ]


async def save_feedback(
    conn: Db,
    *,
    tenant_id: str,
    session_id: uuid.UUID,
    user_id: str,
    rating: int,
    comment: str | None,
) -> datetime:
    """The asker's vote on an answer; a later one replaces it. Returns when it was given."""
    at: datetime = await conn.fetchval(
        """
        INSERT INTO answer_feedback (session_id, tenant_id, user_id, rating, comment)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (session_id) DO UPDATE SET rating = excluded.rating,
            comment = excluded.comment, at = now()
        WHERE answer_feedback.tenant_id = excluded.tenant_id
        RETURNING at
        """,
        session_id,
        tenant_id,
        user_id,
        rating,
        comment,
    )
    return at


async def step_of(conn: Db, session_id: uuid.UUID) -> tuple[uuid.UUID, int] | None:
    """The rollout and step whose sample the answer is, if any."""
    row = await conn.fetchrow(
        "SELECT rollout_id, percent FROM experiment_samples WHERE session_id = $1", session_id
    )
    return (row["rollout_id"], row["percent"]) if row else None
