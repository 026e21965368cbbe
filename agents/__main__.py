"""``python -m agents worker --web-port N``: a Faust worker running the agents of its role
(``PDFCHAT_WORKER_ROLE``: all, chat or ingest)."""

from __future__ import annotations

import asyncio
import hashlib
import importlib

from agents.app import app, settings
from core.cpu import limit_library_threads
from core.eventloop import use_uvloop
from core.heap import time_collections
from core.kafka import declare_topics
from core.tracing import setup_tracing

# Every worker answers health, beats its heart, shows its flags, and stands ready to relay the
# outbox and to do maintenance (one worker at a time leads each: agents.leadership).
EVERY_WORKER = ("health", "flags", "outbox_relay", "maintenance")
ROLES = {
    "ingest": ("parse", "embed", "topic_map", "encode", "progress", "audit"),
    "chat": ("orchestrator", "accounting"),
}


def register_agents(role: str) -> None:
    """Import the agent modules of ``role``: importing one registers its agents with the app."""
    chosen = [m for group in ROLES.values() for m in group] if role == "all" else ROLES[role]
    for module in (*EVERY_WORKER, *chosen):
        importlib.import_module(f"agents.{module}")


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
    limit_library_threads()
    use_uvloop()
    time_collections()
    setup_tracing(settings, "worker")
    register_agents(settings.worker_role)
    asyncio.run(declare_topics(settings))
    if settings.worker_instance_id:
        app.conf.consumer_group_instance_id = static_member_id(settings.worker_instance_id)
    app.main()


if __name__ == "__main__":
    main()
