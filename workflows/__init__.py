"""Multi-step operations on documents shared by the web tier and the agents.

Each step that changes data writes its rows and the events describing them in one transaction
(the outbox), so Kafka never hears of data that did not commit.
"""
