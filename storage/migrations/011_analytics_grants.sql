-- Analysts allowed one tenant's data (pdfchat analytics grant): the export agent copies the
-- analytics records of every tenant that has one to that tenant's own topics.
CREATE TABLE analytics_grants (
    username   text PRIMARY KEY,
    tenant_id  text NOT NULL,
    grp        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analytics_grants_tenant ON analytics_grants (tenant_id);
