"""The worker's static group-membership id follows the set of agents it runs."""

from __future__ import annotations

import agents.__main__ as worker


def test_id_is_stable_for_the_same_agents_and_names_the_instance():
    assert worker.static_member_id("worker-2") == worker.static_member_id("worker-2")
    assert worker.static_member_id("worker-2").startswith("worker-2-")


def test_a_new_agent_gives_a_new_id(monkeypatch):
    before = worker.static_member_id("worker-1")
    monkeypatch.setitem(worker.app.agents, "agents.future.new_agent", object())
    assert worker.static_member_id("worker-1") != before
