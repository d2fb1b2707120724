-- "Je viens" answers of erased members still counted (PostgreSQL twin of ../0009_erased_yes.sql).
ALTER TABLE calls ADD COLUMN erased_yes INTEGER NOT NULL DEFAULT 0;
