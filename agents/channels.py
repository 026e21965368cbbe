"""The topics the agents read and write, bound to the app (created by core.kafka at start)."""

from __future__ import annotations

import topics
from agents.app import app

parse_requested = app.topic(topics.PARSE_REQUESTED, value_type=topics.ParseRequested, key_type=str)
parse_dead_letters = app.topic(
    topics.PARSE_DEAD_LETTERS, value_type=topics.ParseDeadLetter, key_type=str
)
parsed = app.topic(topics.PARSED, value_type=topics.DocumentParsed, key_type=str)
status = app.topic(topics.STATUS, value_type=topics.DocumentStatusChanged, key_type=str)
ready = app.topic(topics.READY, value_type=topics.DocumentReady, key_type=str)
chat_requested = app.topic(topics.CHAT_REQUESTED, value_type=topics.ChatRequested, key_type=str)
answers = app.topic(topics.ANSWERS, value_type=topics.AnswerEvent, key_type=str)
usage = app.topic(topics.USAGE, value_type=topics.UsageRecorded, key_type=str)
audit = app.topic(topics.AUDIT, value_type=topics.AuditEvent, key_type=str)
