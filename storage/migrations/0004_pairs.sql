-- Gardener pairs (double jardinier): proposals from the matcher, the pairs themselves,
-- their scheduled check-ins and every answer. Times are UTC text (storage.db.to_db_time).

-- What the matcher proposed on a coordinator's /binomes (or the auto-confirm sweeper):
-- buttons point at these rows, and confirming one re-checks everything.
CREATE TABLE pair_proposals (
    id              INTEGER PRIMARY KEY,
    batch           INTEGER NOT NULL,
    citizen_id      INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    technician_id   INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    same_territory  INTEGER NOT NULL DEFAULT 0,
    shared_themes   TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'proposed'
                    CHECK (status IN ('proposed', 'confirmed', 'skipped', 'failed')),
    created_by      INTEGER,
    created_at      TEXT NOT NULL,
    decided_at      TEXT
);
CREATE INDEX pair_proposals_batch ON pair_proposals (batch, status);

-- initiative_id: the citizen initiative the pair works on, when there is one (no foreign key:
-- wired by the initiatives feature).
CREATE TABLE pairs (
    id              INTEGER PRIMARY KEY,
    citizen_id      INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    technician_id   INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    initiative_id   INTEGER,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    health          TEXT NOT NULL DEFAULT 'on_track'
                    CHECK (health IN ('on_track', 'needs_help', 'blocked', 'silent')),
    interval_days   INTEGER NOT NULL CHECK (interval_days BETWEEN 1 AND 365),
    next_due_at     TEXT,
    silent_rounds   INTEGER NOT NULL DEFAULT 0,
    created_by      INTEGER,
    created_at      TEXT NOT NULL,
    ended_at        TEXT,
    end_reason      TEXT CHECK (end_reason IN ('ended', 'repair', 'left'))
);
-- A citizen has at most one active pair; a technician's load is a count over this index.
CREATE UNIQUE INDEX pairs_active_citizen ON pairs (citizen_id) WHERE status = 'active';
CREATE INDEX pairs_active_technician ON pairs (technician_id) WHERE status = 'active';
-- The check-in sweeper's query: active pairs whose next check-in is due.
CREATE INDEX pairs_due ON pairs (next_due_at) WHERE status = 'active';

CREATE TABLE pair_checkins (
    id          INTEGER PRIMARY KEY,
    pair_id     INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL DEFAULT 'scheduled' CHECK (kind IN ('scheduled', 'nudge')),
    sent_at     TEXT NOT NULL
);
CREATE INDEX pair_checkins_pair ON pair_checkins (pair_id, id);

-- Every tap is kept (a member may change their answer); the note goes on their latest tap.
CREATE TABLE pair_checkin_answers (
    id          INTEGER PRIMARY KEY,
    checkin_id  INTEGER NOT NULL REFERENCES pair_checkins (id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL,
    answer      TEXT NOT NULL CHECK (answer IN ('progress', 'met', 'help', 'blocked')),
    note        TEXT,
    answered_at TEXT NOT NULL
);
CREATE INDEX pair_checkin_answers_checkin ON pair_checkin_answers (checkin_id, member_id);
