"""``python -m agents worker --web-port N``: a Faust worker running every agent."""

from __future__ import annotations

from agents import health, outbox_relay, parse, progress  # noqa: F401  (registers them)
from agents.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
