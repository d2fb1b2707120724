-- The update intake (bot/intake.py): every update Telegram delivered is stored here before it
-- is confirmed (polling) or acknowledged (webhook), so a crash loses none, and a redelivered
-- update_id is recognised and handled once.
-- state: 'received' (stored, nothing of it committed yet), 'applied' (the handler's first
-- write committed, in the same transaction), 'handled' (the handler finished). The payload is
-- cleared once handled: only the id is kept, for de-duplication, then pruned after a while.
-- user_id (who sent it) lets /oublier clear the payloads of updates still in flight.
CREATE TABLE update_inbox (
    update_id   BIGINT PRIMARY KEY,
    user_id     BIGINT,
    payload     TEXT,
    state       TEXT NOT NULL DEFAULT 'received'
                CHECK (state IN ('received', 'applied', 'handled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    handled_at  TEXT
);
CREATE INDEX update_inbox_pending ON update_inbox (state, received_at);
CREATE INDEX update_inbox_handled ON update_inbox (handled_at);
