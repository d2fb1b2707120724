-- Who a broadcast was queued for (PostgreSQL twin of ../0010_broadcast_recipients.sql).
CREATE TABLE broadcast_recipients (
    kind         TEXT NOT NULL,
    broadcast_id BIGINT NOT NULL,
    member_id    BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'sent', 'failed', 'blocked', 'dropped')),
    message_id   BIGINT,
    queued_at    TIMESTAMPTZ NOT NULL,
    sent_at      TIMESTAMPTZ,
    PRIMARY KEY (kind, broadcast_id, member_id)
);
CREATE INDEX broadcast_recipients_member ON broadcast_recipients (member_id);
CREATE INDEX broadcast_recipients_status ON broadcast_recipients (kind, broadcast_id, status);

INSERT INTO broadcast_recipients (kind, broadcast_id, member_id, status, message_id, queued_at,
                                  sent_at)
SELECT 'call', ref_id, chat_id, CASE status WHEN 'sending' THEN 'queued' ELSE status END,
       message_id, created_at, sent_at
FROM deliveries WHERE kind = 'call' AND ref_id IS NOT NULL
ON CONFLICT (kind, broadcast_id, member_id) DO NOTHING;

ALTER TABLE calls ADD COLUMN roles JSONB NOT NULL DEFAULT '[]';
UPDATE calls SET roles = '["ambassador"]' WHERE ambassadors_only;

ALTER TABLE calls ADD COLUMN reminded_at TIMESTAMPTZ;
