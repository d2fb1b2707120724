-- Who a broadcast (a call for help, a consultation) was queued for, and what became of their
-- copy: `status` follows its delivery (queued until the dispatcher records the result: sent,
-- failed, blocked; dropped when the broadcast ended before it left), `message_id` is the copy
-- in the member's chat. Answers and counts read this table, never `deliveries`, so delivered
-- outbox rows can be pruned. No foreign key to members: an erased member's rows keep a
-- random negative id, so that counts stay right.
CREATE TABLE broadcast_recipients (
    kind         TEXT NOT NULL,
    broadcast_id INTEGER NOT NULL,
    member_id    INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'sent', 'failed', 'blocked', 'dropped')),
    message_id   INTEGER,
    queued_at    TEXT NOT NULL,
    sent_at      TEXT,
    PRIMARY KEY (kind, broadcast_id, member_id)
);
CREATE INDEX broadcast_recipients_member ON broadcast_recipients (member_id);
CREATE INDEX broadcast_recipients_status ON broadcast_recipients (kind, broadcast_id, status);

-- Calls sent before this table existed: their recipients are their outbox rows.
INSERT INTO broadcast_recipients (kind, broadcast_id, member_id, status, message_id, queued_at,
                                  sent_at)
SELECT 'call', ref_id, chat_id, CASE status WHEN 'sending' THEN 'queued' ELSE status END,
       message_id, created_at, sent_at
FROM deliveries WHERE kind = 'call' AND ref_id IS NOT NULL
ON CONFLICT (kind, broadcast_id, member_id) DO NOTHING;

-- A call's audience by role (JSON list: ambassador, citizen_gardener, technician; empty means
-- everyone). `ambassadors_only` stays for calls written before, and in exports.
ALTER TABLE calls ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
UPDATE calls SET roles = '["ambassador"]' WHERE ambassadors_only = 1;

-- The last time a coordinator pressed "Relancer": a second press right after is a double tap.
ALTER TABLE calls ADD COLUMN reminded_at TEXT;
