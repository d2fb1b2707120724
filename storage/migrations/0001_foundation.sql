-- Foundation: members and their roles, technician profiles, invites, conversation state,
-- the outbox every notification goes through, and the coordinators' audit log.
-- Times are ISO-8601 text in UTC (storage.db.to_db_time), so they compare as strings.

CREATE TABLE members (
    telegram_id     INTEGER PRIMARY KEY,
    display_name    TEXT NOT NULL,
    username        TEXT,
    language        TEXT NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    territory       TEXT,
    is_ambassador   INTEGER NOT NULL DEFAULT 0,
    is_citizen_gardener INTEGER NOT NULL DEFAULT 0,
    is_technician   INTEGER NOT NULL DEFAULT 0,
    is_coordinator  INTEGER NOT NULL DEFAULT 0,
    consent_at      TEXT NOT NULL,
    onboarded_at    TEXT,
    referral_code   TEXT NOT NULL UNIQUE,
    referred_by     INTEGER REFERENCES members (telegram_id) ON DELETE SET NULL,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'blocked')),
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL
);
CREATE INDEX members_territory ON members (territory) WHERE status = 'active';
CREATE INDEX members_referred_by ON members (referred_by);
CREATE INDEX members_last_seen ON members (last_seen_at);

CREATE TABLE member_themes (
    member_id   INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    theme       TEXT NOT NULL,
    PRIMARY KEY (member_id, theme)
) WITHOUT ROWID;
CREATE INDEX member_themes_theme ON member_themes (theme, member_id);

-- Only the id needed to remember a refusal of the consent notice: nothing else is kept.
CREATE TABLE consent_refusals (
    telegram_id INTEGER PRIMARY KEY,
    refused_at  TEXT NOT NULL
);

CREATE TABLE technician_profiles (
    member_id   INTEGER PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    service     TEXT NOT NULL,
    capacity    INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 50)
);

CREATE TABLE technician_territories (
    member_id   INTEGER NOT NULL REFERENCES technician_profiles (member_id) ON DELETE CASCADE,
    territory   TEXT NOT NULL,
    PRIMARY KEY (member_id, territory)
) WITHOUT ROWID;

CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('technician', 'coordinator')),
    created_by  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     INTEGER,
    used_at     TEXT
);

-- What a member is in the middle of (onboarding, a draft proposal...), so a restart of the
-- bot resumes where they were. One open conversation per member.
CREATE TABLE conversations (
    member_id   INTEGER PRIMARY KEY REFERENCES members (telegram_id) ON DELETE CASCADE,
    flow        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);

-- The transactional outbox: every notification is a row written in the same transaction as
-- the change it announces; the dispatcher sends due rows and records what happened.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    ref_id      INTEGER,
    priority    INTEGER NOT NULL DEFAULT 5,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'blocked', 'dropped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    message_id  INTEGER,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX deliveries_due ON deliveries (priority, not_before, id)
    WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_ref ON deliveries (kind, ref_id, status);
CREATE INDEX deliveries_chat ON deliveries (chat_id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    at          TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
