-- Several workers on one database (bot/lease.py, bot/ratelimit/shared.py). SQLite runs one
-- process (the instance lock), which holds the lease trivially: these tables stay empty there,
-- and exist so that both backends keep the same schema.
-- leases: who runs the outbox dispatcher and the periodic duties. `token` (the fencing token)
-- grows at every change of holder; claims carry it, so a holder that lost the lease can
-- never record over the rows its successor claimed.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    renewed_at TEXT NOT NULL
);
-- send_budget: Telegram's rate limit per bot token, shared by every worker: `next_slot` is
-- the instant (seconds since the epoch) of the next free sending slot.
CREATE TABLE send_budget (
    name      TEXT PRIMARY KEY,
    next_slot DOUBLE PRECISION NOT NULL
);
-- The fencing token of the lease under which a delivery was claimed.
ALTER TABLE deliveries ADD COLUMN claim_token BIGINT;
