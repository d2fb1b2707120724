-- Deliveries survive long outages (PostgreSQL twin of ../0011_outbox_expiry.sql): `due_at` is
-- the instant a message was first due, `expires_at` when it loses its point; a new 'expired'
-- status. PostgreSQL changes the CHECK constraint in place.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'blocked', 'dropped', 'expired'));
ALTER TABLE deliveries ADD COLUMN due_at TIMESTAMPTZ;
UPDATE deliveries SET due_at = not_before;
ALTER TABLE deliveries ALTER COLUMN due_at SET NOT NULL;
ALTER TABLE deliveries ADD COLUMN expires_at TIMESTAMPTZ;
