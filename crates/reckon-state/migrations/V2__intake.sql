-- reckon state store, schema 2 (reckon 0.1.0, 2026-11-29): the HTTP intake's
-- message ids (`webhook-id`), so a replayed request is recognised and refused.
CREATE TABLE intake_messages (
    message_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    decisions BIGINT NOT NULL
);
