"""`pdfchat rollout`: canary rollouts of a chat variant (workflows/rollouts.py), which the
maintenance leader moves on step by step or rolls back by itself."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import click
from rich.markup import escape
from rich.table import Table

from cli.operator import console, operator, with_pool
from config import Settings
from core import tracing
from storage import rollouts as stored
from storage.rollouts import Result, Rollout
from workflows import rollouts
from workflows.flags import EVERY_TENANT

SCOPE_HELP = f"The tenant whose users take part, or {EVERY_TENANT!r}: every tenant's."


@click.group("rollout")
def rollout_command() -> None:
    """Canary rollouts: 5 → 25 → 50 → 100 %, rolled back by themselves when they hurt."""


@rollout_command.command("start")
@click.argument("name")
@click.option(
    "--variant",
    required=True,
    help='JSON: {"models": [...], "retrieval_mode": "hybrid", "evidence_k": 6,'
    ' "system_prompt": "..."}, any of them.',
)
@click.option("--tenant", default=EVERY_TENANT, show_default=True, help=SCOPE_HELP)
@click.option("--steps", default="5,25,50,100", show_default=True, help="Percentages.")
@click.option("--step-seconds", type=float, default=60.0, show_default=True)
@click.option("--min-requests", type=int, default=20, show_default=True)
@click.option("--max-error-increase", type=float, default=0.05, show_default=True)
@click.option("--max-p95-ratio", type=float, default=1.5, show_default=True)
@click.option("--p95-slack-ms", type=float, default=250.0, show_default=True)
@click.pass_obj
def start(
    settings: Settings,
    name: str,
    variant: str,
    tenant: str,
    steps: str,
    step_seconds: float,
    min_requests: int,
    max_error_increase: float,
    max_p95_ratio: float,
    p95_slack_ms: float,
) -> None:
    """Start rolling out the variant NAME at the first step."""
    try:
        decoded = json.loads(variant)
        percents = tuple(int(p) for p in steps.split(","))
    except ValueError:
        raise click.BadParameter("--variant must be JSON and --steps numbers, 5,25,...") from None
    thresholds = {
        "step_s": step_seconds,
        "min_requests": min_requests,
        "max_error_increase": max_error_increase,
        "max_p95_ratio": max_p95_ratio,
        "p95_slack_ms": p95_slack_ms,
    }

    async def begin(pool: asyncpg.Pool) -> Rollout:
        plan = rollouts.plan_of(tenant, name, decoded, steps=percents, thresholds=thresholds)
        tracing.setup_tracing(settings, "cli")
        with tracing.tracer.start_as_current_span("pdfchat rollout start"):
            return await rollouts.start(pool, settings, plan, actor=operator())

    begun = with_pool(settings, begin)
    console.print(
        f"[green]started[/] {escape(begun.name)} at {begun.percent}% of"
        f" {escape(begun.tenant_id)}'s users; `pdfchat rollout status {escape(begun.name)}`"
    )


@rollout_command.command("status")
@click.argument("name", required=False)
@click.option("--tenant", default=None, help=f"{SCOPE_HELP} All scopes when left out.")
@click.pass_obj
def status(settings: Settings, name: str | None, tenant: str | None) -> None:
    """The latest rollouts; with NAME, its steps' results too (exit 1 if there is none)."""

    async def read(pool: asyncpg.Pool) -> list[tuple[Rollout, list[Result]]]:
        found = await stored.listed(pool, tenant_id=tenant)
        found = [r for r in found if name is None or r.name == name]
        return [(r, await stored.results(pool, r.id) if name else []) for r in found]

    found = with_pool(settings, read)
    if name and not found:
        console.print(f"no rollout {escape(name)}")
        raise SystemExit(1)
    _print_rollouts([r for r, _ in found])
    for rollout, results in found if name else []:
        _print_results(rollout, results)


@rollout_command.command("abort")
@click.argument("name")
@click.option("--tenant", default=EVERY_TENANT, show_default=True, help=SCOPE_HELP)
@click.pass_obj
def abort(settings: Settings, name: str, tenant: str) -> None:
    """Back to 0 % now: every user gets the baseline."""

    async def stop(pool: asyncpg.Pool) -> Rollout:
        tracing.setup_tracing(settings, "cli")
        with tracing.tracer.start_as_current_span("pdfchat rollout abort"):
            return await rollouts.abort(pool, tenant, name, actor=operator())

    ended = with_pool(settings, stop)
    console.print(f"[yellow]aborted[/] {escape(ended.name)}: every user gets the baseline")


def _print_rollouts(found: list[Rollout]) -> None:
    table = Table("name", "tenant", "state", "now", "steps", "variant", "started", "reason")
    for r in found:
        now = {"running": r.percent, "completed": 100}.get(r.state, 0)
        table.add_row(
            escape(r.name),
            escape(r.tenant_id),
            r.state,
            f"{now}%",
            ",".join(map(str, r.steps)),
            escape(json.dumps(r.variant)),
            f"{r.started_at.isoformat(timespec='seconds')} by {escape(r.started_by)}",
            escape(r.reason or ""),
        )
    console.print(table)


def _print_results(rollout: Rollout, results: list[Result]) -> None:
    table = Table(
        "step", "arm", "answers", "errors", "p50 ms", "p95 ms", "cost USD", "👍", "👎",
        title=f"{rollout.name}: results by step",
    )  # fmt: skip
    for r in results:
        s = r.stats
        table.add_row(
            f"{r.percent}%",
            r.arm,
            str(s.requests),
            str(s.errors),
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            f"{s.cost_usd:.4f}",
            str(s.thumbs_up),
            str(s.thumbs_down),
        )
    console.print(table)


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:.0f}"
