-- Several workers on one database (PostgreSQL twin of ../0015_workers.sql): the lease with
-- its fencing token, the shared sending budget, the token each delivery was claimed under.
-- Times come from the server's own clock (clock_timestamp()), never a worker's.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    renewed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE send_budget (
    name      TEXT PRIMARY KEY,
    next_slot DOUBLE PRECISION NOT NULL
);
ALTER TABLE deliveries ADD COLUMN claim_token BIGINT;
