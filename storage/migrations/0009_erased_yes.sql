-- /oublier promises that a member's answers to calls stay counted: "Je viens" answers that
-- can no longer be withdrawn (the call is closed or past its deadline) become this count.
ALTER TABLE calls ADD COLUMN erased_yes INTEGER NOT NULL DEFAULT 0;
