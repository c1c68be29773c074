-- askdb's own tables: every answer given, and the answers people flagged as wrong.
-- Runs with search_path set to askdb's schema (feedback.schema), so names are unqualified.

CREATE TABLE interactions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_key   uuid NOT NULL UNIQUE,        -- idempotency: a retried or replayed write lands once
    temp_id      bigint NOT NULL UNIQUE,      -- the id handed out while the row waited in the spool
    created_at   timestamptz NOT NULL DEFAULT now(),
    platform     text NOT NULL,
    channel      text,
    user_hash    text NOT NULL,               -- never the platform's user id itself
    question     text NOT NULL,
    sql          text,
    row_count    integer,
    rows_preview jsonb,
    answer       text,
    latency_ms   double precision,
    outcome      text NOT NULL,               -- 'ok' or the error kind
    error        text,
    model        text,
    adapter      text
);
CREATE INDEX interactions_created_at ON interactions (created_at);

CREATE TABLE flags (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_key     uuid NOT NULL UNIQUE,
    interaction_id bigint NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    who            text NOT NULL,             -- hashed like interactions.user_hash
    location       text,                      -- where the flag was raised (channel, thread, terminal)
    comment        text,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'corrected', 'rejected')),
    corrected_sql  text,
    reviewed_by    text,
    reviewed_at    timestamptz,
    CHECK ((status = 'corrected') = (corrected_sql IS NOT NULL))
);
CREATE INDEX flags_status ON flags (status, id);
CREATE INDEX flags_interaction ON flags (interaction_id);
