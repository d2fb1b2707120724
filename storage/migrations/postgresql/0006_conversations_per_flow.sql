-- One conversation row per member and flow (PostgreSQL twin of ../0006_conversations_per_flow.sql).
ALTER TABLE conversations ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET turn = 1;
ALTER TABLE conversations DROP CONSTRAINT conversations_pkey;
ALTER TABLE conversations ADD PRIMARY KEY (member_id, flow);
