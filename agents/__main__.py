"""``python -m agents worker --web-port N``: a Faust worker running every agent."""

from __future__ import annotations

import asyncio
import hashlib

from agents import (  # noqa: F401  (registers them)
    accounting,
    embed,
    health,
    orchestrator,
    outbox_relay,
    parse,
    progress,
    topic_map,
)
from agents.app import app, settings
from core.kafka import declare_topics


def static_member_id(instance: str) -> str:
    """The worker's static group-membership id, tied to what this code consumes.

    A static member that rejoins gets its previous assignment back without a rebalance, and
    the broker does not recompute it when the member's subscription has changed: a release
    that adds an agent would never be assigned the new agent's topic. A new id for a new set
    of agents makes the broker see a new member and assign everything afresh.
    """
    agents = ",".join(sorted(app.agents))
    return f"{instance}-{hashlib.sha256(agents.encode()).hexdigest()[:8]}"


def main() -> None:
    asyncio.run(declare_topics(settings.kafka_bootstrap, settings.topic_partitions))
    if settings.worker_instance_id:
        app.conf.consumer_group_instance_id = static_member_id(settings.worker_instance_id)
    app.main()


if __name__ == "__main__":
    main()
