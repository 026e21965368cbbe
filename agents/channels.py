"""The topics the agents read and write, bound to the app.

Every topic is declared ``internal=True`` so the worker creates it with the configured
partitions at start: a source topic that does not exist when a worker subscribes is never
consumed, and analytics teams need the output topics to exist before the first event.
"""

from __future__ import annotations

from datetime import timedelta

import topics
from agents.app import app

parse_requested = app.topic(
    topics.PARSE_REQUESTED, value_type=topics.ParseRequested, key_type=str, internal=True
)
parse_dead_letters = app.topic(
    topics.PARSE_DEAD_LETTERS,
    value_type=topics.ParseDeadLetter,
    key_type=str,
    internal=True,
    retention=timedelta(days=30),
)
parsed = app.topic(topics.PARSED, value_type=topics.DocumentParsed, key_type=str, internal=True)
status = app.topic(
    topics.STATUS, value_type=topics.DocumentStatusChanged, key_type=str, internal=True
)

ALL = (parse_requested, parse_dead_letters, parsed, status)
