-- Canary rollouts of a chat variant (workflows/rollouts.py) and what they measured.
-- A rollout drives the flag chat/canary of its tenant ("*": every tenant) step by step; the
-- maintenance leader advances it or rolls it back from the samples of the current step.
CREATE TABLE rollouts (
    id              uuid        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    name            text        NOT NULL,
    variant         jsonb       NOT NULL,
    baseline        jsonb       NOT NULL,  -- the variant in force when it started ({}: none)
    steps           smallint[]  NOT NULL,  -- rollout percentages, increasing, ending at 100
    step            smallint    NOT NULL,  -- the index of the current one in steps
    thresholds      jsonb       NOT NULL,
    state           text        NOT NULL
        CHECK (state IN ('running', 'completed', 'rolled_back', 'aborted')),
    reason          text,                  -- why it ended
    started_by      text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    step_started_at timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    UNIQUE (tenant_id, name)
);
-- One rollout at a time per scope: two would fight over the same flag.
CREATE UNIQUE INDEX rollouts_one_running ON rollouts (tenant_id) WHERE state = 'running';

-- One answer given while a rollout ran: its arm, the step's percentage, and how it went.
-- Written with the answer's end, once per session.
CREATE TABLE experiment_samples (
    session_id  uuid             PRIMARY KEY,
    rollout_id  uuid             NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    tenant_id   text             NOT NULL,
    arm         text             NOT NULL CHECK (arm IN ('baseline', 'variant')),
    percent     smallint         NOT NULL,
    ok          boolean          NOT NULL,
    ttft_ms     double precision,  -- null: no token reached the user
    cost_usd    double precision NOT NULL DEFAULT 0,
    at          timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX experiment_samples_step ON experiment_samples (rollout_id, percent, arm);

-- Thumbs up or down on an answer, by the user who asked; a second vote replaces the first.
CREATE TABLE answer_feedback (
    session_id  uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    rating      smallint    NOT NULL CHECK (rating IN (-1, 1)),
    comment     text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX answer_feedback_tenant ON answer_feedback (tenant_id, at);

-- Per rollout, step and arm: what the samples and the feedback on them say, kept up to date
-- while the step runs and left as it ended.
CREATE TABLE experiment_results (
    rollout_id   uuid             NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    percent      smallint         NOT NULL,
    arm          text             NOT NULL CHECK (arm IN ('baseline', 'variant')),
    requests     integer          NOT NULL,
    errors       integer          NOT NULL,
    p50_ms       double precision,
    p95_ms       double precision,
    cost_usd     double precision NOT NULL,
    thumbs_up    integer          NOT NULL,
    thumbs_down  integer          NOT NULL,
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (rollout_id, percent, arm)
);
