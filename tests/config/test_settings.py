"""Settings travel to child processes as PDFCHAT_* variables and must read back the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.stack import isolated_settings
from config import get_settings
from config.settings import DEFAULT_RATE_LIMITS


def test_every_setting_survives_the_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = get_settings(
        tenant_budgets_usd={"acme": 12.5, "globex": 0.0},
        chat_models="openai:gpt-4o-mini,local:extractive",
        log_json=False,
    )
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)
    assert get_settings() == original


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("PDFCHAT_TENANT_BUDGETS_USD", '{"acme": 500', "tenant_budgets_usd"),  # not JSON
        ("PDFCHAT_TENANT_BUDGETS_USD", '{"acme": -5}', "greater than or equal to 0"),
        ("PDFCHAT_TENANT_BUDGETS_USD", '{"acme": "lots"}', "valid number"),
        ("PDFCHAT_WORKER_ROLE", "everything", "'all', 'chat' or 'ingest'"),
        ("PDFCHAT_INGEST_NICE", "25", "less than or equal to 19"),
        ("PDFCHAT_BACKGROUND_NICE", "20", "less than or equal to 19"),
        ("PDFCHAT_BACKGROUND_NICE", "-1", "greater than or equal to 0"),  # never more urgent
        ("PDFCHAT_BACKGROUND_PROCESS", "sometimes", "background_process"),
        ("PDFCHAT_KAFKA_CONTROLLER_PORT", "9094", "clashing ports"),  # with PDFCHAT_KAFKA_BROKERS=3
        (  # 9094-9096: node 2's broker and controller, node 3's broker
            "PDFCHAT_KAFKA_ANALYTICS_PORT",
            "9094",
            r"PDFCHAT_KAFKA_ANALYTICS_PORT=9094 gives 3 brokers analytics ports"
            r" \[9094, 9095, 9096\] clashing .* at \[9094, 9095, 9096\]",
        ),
        ("PDFCHAT_KAFKA_ANALYTICS_PORT", "9095", r"at \[9095, 9096, 9097\]"),  # controllers too
        ("PDFCHAT_KAFKA_ANALYTICS_PORT", "9090", r"at \[9092\]"),  # node 1's broker
        ("PDFCHAT_WS_DEAD_AFTER_S", "4", "PDFCHAT_WS_DEAD_AFTER_S=4.0 must exceed 5"),
        ("PDFCHAT_WS_PING_INTERVAL_S", "40", "must exceed PDFCHAT_WS_PING_INTERVAL_S=40.0"),
        ("PDFCHAT_KAFKA_BROKERS", "7", "less than or equal to 5"),
        ("PDFCHAT_OCR_LANGUAGES", "eng, chi_sim", "ocr_languages"),  # Tesseract joins with "+"
    ],
)
def test_a_bad_value_is_refused_with_its_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv("PDFCHAT_KAFKA_BROKERS", "3")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=complaint):
        get_settings()


def test_every_worker_cannot_be_a_chat_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_WORKERS", "2")
    monkeypatch.setenv("PDFCHAT_CHAT_WORKERS", "2")
    with pytest.raises(ValueError, match="leaves none of the PDFCHAT_WORKERS=2 to ingest"):
        get_settings()


def test_a_tenant_keeps_some_answer_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_CHAT_CONCURRENCY", "4")
    monkeypatch.setenv("PDFCHAT_CHAT_RESERVED_SLOTS", "4")
    with pytest.raises(ValueError, match="leaves a tenant none of PDFCHAT_CHAT_CONCURRENCY=4"):
        get_settings()


def test_segment_size_is_read_under_its_old_name_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_CHUNK_CHARS", "800")
    assert get_settings().segment_chars == 800
    monkeypatch.setenv("PDFCHAT_SEGMENT_CHARS", "900")  # the new name wins
    assert get_settings().segment_chars == 900
    monkeypatch.setenv("PDFCHAT_SEGMENT_CHARS", "10")
    with pytest.raises(ValueError, match="greater than or equal to 200"):
        get_settings()


@pytest.mark.parametrize(
    ("workers", "chat_workers", "partitions", "complaint"),
    [
        (
            "3",
            "0",
            "2",
            r"PDFCHAT_TOPIC_PARTITIONS=2 is fewer than the 3 workers of one role "
            r"\(PDFCHAT_WORKERS\)",
        ),
        ("5", "3", "2", r"fewer than the 3 workers of one role \(PDFCHAT_CHAT_WORKERS\)"),
    ],
)
def test_workers_beyond_the_partitions_are_refused(
    monkeypatch: pytest.MonkeyPatch,
    workers: str,
    chat_workers: str,
    partitions: str,
    complaint: str,
) -> None:
    monkeypatch.setenv("PDFCHAT_WORKERS", workers)
    monkeypatch.setenv("PDFCHAT_CHAT_WORKERS", chat_workers)
    monkeypatch.setenv("PDFCHAT_TOPIC_PARTITIONS", partitions)
    with pytest.raises(ValueError, match=complaint):
        get_settings()


def test_as_many_workers_of_a_role_as_partitions_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_WORKERS", "4")
    monkeypatch.setenv("PDFCHAT_CHAT_WORKERS", "2")
    monkeypatch.setenv("PDFCHAT_TOPIC_PARTITIONS", "2")
    assert get_settings().topic_partitions == 2


@pytest.mark.parametrize(
    "url",
    [
        "",  # an empty variable (a Secret key left blank) would fall back to the local default
        "mysql://db.example.org/pdfchat",
        "postgresql://db.example.org",  # no database
        "postgresql:///pdfchat",  # no host
    ],
)
def test_a_database_url_that_is_not_postgres_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("PDFCHAT_DATABASE_URL", url)
    with pytest.raises(ValueError, match="PDFCHAT_DATABASE_URL must be postgresql://"):
        get_settings()


def test_a_container_without_a_database_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_EXTERNAL_SERVICES", "true")
    monkeypatch.setenv("PDFCHAT_KAFKA_HOST", "kafka")
    with pytest.raises(ValueError, match="PDFCHAT_DATABASE_URL is not set"):
        get_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PDFCHAT_KAFKA_HOST", "127.0.0.1"),
        ("PDFCHAT_KAFKA_HOST", "localhost"),
        ("PDFCHAT_KAFKA_HOST", "::1"),
        ("PDFCHAT_KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,127.0.0.1:9092"),
    ],
)
def test_a_container_with_kafka_on_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("PDFCHAT_EXTERNAL_SERVICES", "true")
    monkeypatch.setenv("PDFCHAT_DATABASE_URL", "postgresql://pdfchat@postgres:5432/pdfchat")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=r"is this container itself.*PDFCHAT_KAFKA_BOOTSTRAP"):
        get_settings()


def test_an_external_cluster_is_named_by_its_bootstrap_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PDFCHAT_KAFKA_BOOTSTRAP_SERVERS", " kafka-0.k:9092, kafka-1.k:9093 ")
    monkeypatch.setenv("PDFCHAT_KAFKA_BROKERS", "3")
    settings = get_settings()
    assert settings.kafka_bootstrap == "kafka-0.k:9092,kafka-1.k:9093"
    assert settings.kafka_addresses == [("kafka-0.k", 9092), ("kafka-1.k", 9093)]
    assert (settings.topic_replication_factor, settings.min_insync_replicas) == (3, 2)


def test_each_node_has_an_analytics_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PDFCHAT_KAFKA_BROKERS", "3")
    settings = get_settings()
    assert settings.kafka_analytics_ports == [9192, 9193, 9194]
    assert settings.kafka_analytics_bootstrap == "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
    monkeypatch.setenv("PDFCHAT_KAFKA_BROKERS", "1")
    monkeypatch.setenv("PDFCHAT_KAFKA_HOST", "kafka.local")
    monkeypatch.setenv("PDFCHAT_KAFKA_ANALYTICS_PORT", "9098")  # beside 9092-9093: no clash
    assert get_settings().kafka_analytics_bootstrap == "kafka.local:9098"


def test_an_external_cluster_has_no_analytics_listener_of_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PDFCHAT_KAFKA_BOOTSTRAP_SERVERS", "kafka-0.k:9092")
    assert get_settings().kafka_analytics_bootstrap is None


def test_a_second_stack_gets_free_analytics_ports_of_its_own(tmp_path: Path) -> None:
    first, second = (isolated_settings(tmp_path, kafka_brokers=3) for _ in range(2))
    ports = [
        port
        for settings in (first, second)
        for port in settings.kafka_analytics_ports
        + [p for node in settings.kafka_nodes for p in node]
    ]
    assert len(set(ports)) == len(ports) == 2 * 9


@pytest.mark.parametrize("value", ["kafka", "kafka:port", "kafka:9092,", "a b:9092", ""])
def test_bootstrap_servers_that_are_no_addresses_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PDFCHAT_KAFKA_BOOTSTRAP_SERVERS", value)
    with pytest.raises(ValueError, match="PDFCHAT_KAFKA_BOOTSTRAP_SERVERS must be host:port"):
        get_settings()


def test_a_container_with_both_services_named_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDFCHAT_EXTERNAL_SERVICES", "true")
    monkeypatch.setenv("PDFCHAT_KAFKA_HOST", "kafka")
    monkeypatch.setenv("PDFCHAT_POSTGRES_HOST", "postgres")  # as docker-compose.kafka.yml does
    assert get_settings().dsn == "postgresql://postgres@postgres:55432/pdfchat"
    monkeypatch.setenv("PDFCHAT_DATABASE_URL", "postgresql://pdfchat:s3cret@db/pdfchat")
    assert get_settings().dsn == "postgresql://pdfchat:s3cret@db/pdfchat"


@pytest.mark.parametrize(
    "value",
    [
        '{"chats": {"tenant": {"per_s": 0, "burst": 5}}}',  # no rate
        '{"chats": {"tenant": {"per_s": 1, "burst": 0.5}}}',  # never a whole token
        '{"pings": {"tenant": {"per_s": 1, "burst": 5}}}',  # no such action
        '{"chats": {"team": {"per_s": 1, "burst": 5}}}',  # no such scope
        "chats=5",  # not JSON
    ],
)
def test_rate_limits_that_make_no_sense_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PDFCHAT_RATE_LIMITS", value)
    with pytest.raises(ValueError, match="rate_limits"):
        get_settings()


def test_rate_limits_given_override_their_action_and_keep_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PDFCHAT_RATE_LIMITS", '{"chats": {"tenant": {"per_s": 2, "burst": 4}}}')
    limits = get_settings().effective_rate_limits
    assert limits["chats"].tenant is not None and limits["chats"].tenant.per_s == 2
    assert limits["chats"].user is None
    assert limits["uploads"] == DEFAULT_RATE_LIMITS["uploads"]


def test_page_readers_default_to_the_usable_cpus_and_refuse_a_negative_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PDFCHAT_PARSE_PROCESSES", raising=False)
    assert get_settings().parse_processes == len(os.sched_getaffinity(0))
    monkeypatch.setenv("PDFCHAT_PARSE_PROCESSES", "0")  # read in the worker itself
    assert get_settings().parse_processes == 0
    monkeypatch.setenv("PDFCHAT_PARSE_PROCESSES", "-1")
    with pytest.raises(ValueError, match="parse_processes"):
        get_settings()
