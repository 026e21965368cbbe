"""``python -m agents worker --web-port N``: a Faust worker running every agent."""

from __future__ import annotations

import asyncio

from agents import (  # noqa: F401  (registers them)
    embed,
    health,
    outbox_relay,
    parse,
    progress,
    topic_map,
)
from agents.app import app, settings
from agents.channels import declare_topics


def main() -> None:
    asyncio.run(declare_topics(settings))
    app.main()


if __name__ == "__main__":
    main()
