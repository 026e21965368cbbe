"""GET /v1/analytics: where an analyst of the token's tenant subscribes (docs/topics.md#tenants).

Credentials are not here: `pdfchat analytics grant` hands them to the analyst once."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from core.kafka_access import SCRAM_MECHANISM
from storage import analytics
from topics.exports import EXPORTED, tenant_topic
from web import resources
from web.auth import principal, requires

blueprint = Blueprint("analytics", __name__, url_prefix="/v1")


@blueprint.get("/analytics")
@requires("topics:read")
async def access() -> dict[str, Any]:
    tenant_id = principal().tenant_id
    granted = await analytics.grants(resources.pool(), tenant_id)
    return {
        "tenant_id": tenant_id,
        "bootstrap_servers": resources.settings().kafka_analytics_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": SCRAM_MECHANISM,
        # Same records, schemas and headers as the shared topics they copy.
        "topics": [
            {"name": tenant_topic(tenant_id, topic), "copy_of": topic} for topic in EXPORTED
        ],
        "analysts": [
            {"user": g.username, "group": g.group, "since": g.created_at.isoformat()}
            for g in granted
        ],
    }
