-- One conversation row per member and flow: starting /binome, a relay reply or /appel in the
-- middle of a /proposer draft must not throw the draft away. `turn` orders a member's flows:
-- the highest is the one whose question the bot asked last, where typed messages go.
CREATE TABLE conversations_per_flow (
    member_id   INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    flow        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    turn        INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (member_id, flow)
);

INSERT INTO conversations_per_flow (member_id, flow, step, data, turn, updated_at)
SELECT member_id, flow, step, data, 1, updated_at FROM conversations;

DROP TABLE conversations;

ALTER TABLE conversations_per_flow RENAME TO conversations;
