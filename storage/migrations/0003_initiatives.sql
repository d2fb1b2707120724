-- Citizen initiatives (PRODUCT.md flow 3): proposals, their moderation, stages, supports,
-- and the authors who asked for a technician gardener when their initiative consolidated.

CREATE TABLE initiatives (
    id                  INTEGER PRIMARY KEY,
    author_id           INTEGER REFERENCES members (telegram_id) ON DELETE SET NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    theme               TEXT NOT NULL,
    territory           TEXT NOT NULL,
    needs               TEXT NOT NULL DEFAULT '[]',
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'changes', 'declined', 'published')),
    stage               TEXT CHECK (stage IN ('emergence', 'consolidation', 'concretisation',
                                              'realisee', 'abandonnee')),
    proposed_stage      TEXT,
    moderator_id        INTEGER,
    moderation_message  TEXT,
    moderated_at        TEXT,
    submitted_at        TEXT NOT NULL,
    announced_at        TEXT,
    published_at        TEXT,
    stage_changed_at    TEXT,
    digest_at           TEXT,
    created_at          TEXT NOT NULL
);
CREATE INDEX initiatives_status ON initiatives (status, submitted_at, id);
CREATE INDEX initiatives_author ON initiatives (author_id);
CREATE INDEX initiatives_unannounced ON initiatives (submitted_at) WHERE announced_at IS NULL;

-- One row per member and kind ('support' = Je soutiens, 'participate' = Je veux participer);
-- `notified` turns to 1 once the author heard about it in a digest.
CREATE TABLE initiative_supports (
    initiative_id   INTEGER NOT NULL REFERENCES initiatives (id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('support', 'participate')),
    created_at      TEXT NOT NULL,
    notified        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (initiative_id, member_id, kind)
) WITHOUT ROWID;
CREATE INDEX initiative_supports_pending ON initiative_supports (initiative_id) WHERE notified = 0;

-- An author who accepted a technician gardener when their initiative entered consolidation:
-- a citizen gardener waiting for a pair, with the initiative the pair will accompany.
CREATE TABLE gardener_requests (
    member_id       INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    initiative_id   INTEGER NOT NULL REFERENCES initiatives (id) ON DELETE CASCADE,
    requested_at    TEXT NOT NULL,
    PRIMARY KEY (member_id, initiative_id)
);
CREATE INDEX gardener_requests_initiative ON gardener_requests (initiative_id);
