"""The rollout hash (stable, uniform, independent between flags) and the flag view's rules
(override, default, order, bound), without a broker: the view fed records as Kafka gives them."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from core.flags import FlagView, in_rollout, rollout_bucket
from topics.flags import FlagChanged

IDS = [f"user-{i}" for i in range(100_000)]
T0 = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)


def test_a_users_bucket_is_pinned_forever():
    """sha256 of "service:name:user_id", first 8 bytes, mod 100: the same in every process
    and release (Python's own hash() is salted per process)."""
    assert rollout_bucket("chat", "rerank", "alice") == 78
    assert rollout_bucket("chat", "rerank", "bob") == 61
    assert rollout_bucket("web", "new_ui", "alice") == 3
    digest = hashlib.sha256(b"chat:rerank:alice").digest()
    assert int.from_bytes(digest[:8], "big") % 100 == 78


def test_buckets_are_uniform_over_many_users():
    counts = Counter(rollout_bucket("chat", "rerank", u) for u in IDS)
    expected = len(IDS) / 100
    sd = math.sqrt(expected * 0.99)
    assert sorted(counts) == list(range(100))
    # 100 buckets: each within 4.5 standard deviations (a fair hash fails this once in ~3000).
    assert all(abs(n - expected) < 4.5 * sd for n in counts.values()), counts.most_common(3)
    for percent in (1, 5, 25, 50, 99):
        share = sum(in_rollout("chat", "rerank", u, percent) for u in IDS) / len(IDS)
        assert abs(share - percent / 100) < 0.005, percent


def test_percent_zero_takes_nobody_and_a_hundred_takes_everyone_and_more_keeps_the_first():
    assert not any(in_rollout("chat", "rerank", u, 0) for u in IDS[:5000])
    assert all(in_rollout("chat", "rerank", u, 100) for u in IDS[:5000])
    at_5 = {u for u in IDS if in_rollout("chat", "rerank", u, 5)}
    at_25 = {u for u in IDS if in_rollout("chat", "rerank", u, 25)}
    assert at_5 < at_25  # widening a rollout never drops a user who was in


def test_different_flags_pick_different_users():
    first = {u for u in IDS if in_rollout("chat", "rerank", u, 10)}
    second = {u for u in IDS if in_rollout("chat", "new_prompt", u, 10)}
    overlap = len(first & second) / len(IDS)
    assert abs(overlap - 0.01) < 0.003  # independent: 10 % of 10 %


def _record(tenant: str, *, enabled=True, percent=100, value=None, at=T0, name="rerank") -> bytes:
    return FlagChanged(
        tenant_id=tenant,
        service="chat",
        name=name,
        enabled=enabled,
        rollout_percent=percent,
        value=value,
        updated_at=at,
        updated_by="alice",
    ).dumps()


def test_a_tenants_own_flag_overrides_the_default_of_every_tenant():
    view = FlagView("unused:9092")
    assert not view.enabled("chat", "rerank", tenant="acme", user_id="u")
    assert view.enabled("chat", "rerank", tenant="acme", user_id="u", default=True)
    view.add(_record("*", value='{"budget": 5}'))
    view.add(_record("acme", enabled=False, value='{"budget": 9}'))
    assert view.enabled("chat", "rerank", tenant="other", user_id="u")
    assert view.value("chat", "rerank", tenant="other") == {"budget": 5}
    assert not view.enabled("chat", "rerank", tenant="acme", user_id="u")
    assert view.value("chat", "rerank", tenant="acme", default="off") == "off"


def test_the_rollout_decides_per_user_and_value_follows_it_when_asked():
    view = FlagView("unused:9092")
    view.add(_record("*", percent=50, value="7"))
    inside = next(u for u in IDS if rollout_bucket("chat", "rerank", u) < 50)
    outside = next(u for u in IDS if rollout_bucket("chat", "rerank", u) >= 50)
    assert view.enabled("chat", "rerank", tenant="acme", user_id=inside)
    assert not view.enabled("chat", "rerank", tenant="acme", user_id=outside)
    assert view.value("chat", "rerank", tenant="acme", user_id=inside) == 7
    assert view.value("chat", "rerank", tenant="acme", user_id=outside) is None
    assert view.value("chat", "rerank", tenant="acme") == 7


def test_an_older_record_does_not_undo_a_newer_one():
    view = FlagView("unused:9092")
    view.add(_record("*", value="2", at=T0 + timedelta(seconds=1)))
    view.add(_record("*", value="1", at=T0))  # a replay after a reconnect, a late repeat
    assert view.value("chat", "rerank", tenant="acme") == 2


def test_memory_is_bounded_and_broken_records_are_skipped():
    dropped_before = REGISTRY.get_sample_value("pdfchat_flag_records_dropped_total")
    view = FlagView("unused:9092", max_flags=3)
    for n in range(5):
        view.add(_record("*", name=f"f{n}"))
    view.add(_record("*", name="f0", value="1", at=T0 + timedelta(seconds=1)))
    view.add(b"not json")
    view.add(None)
    assert [f.name for f in view.snapshot()] == ["f0", "f1", "f2"]
    assert view.dropped == 2
    assert REGISTRY.get_sample_value("pdfchat_flag_records_dropped_total") - dropped_before == 3
    assert view.value("chat", "f0", tenant="acme") == 1  # kept keys still change
