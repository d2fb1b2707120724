-- Initiative circles (issue 21): the author, the people who said "Je veux participer" and
-- joined, and the technician gardener, talking through the bot without sharing contacts.
-- `owner_id` is who may remove members: the author, or whoever the circle passed to when
-- the author left; NULL means the coordination holds it (nobody was left to take it).
CREATE TABLE circles (
    id                  INTEGER PRIMARY KEY,
    initiative_id       INTEGER NOT NULL UNIQUE REFERENCES initiatives (id) ON DELETE CASCADE,
    owner_id            INTEGER,
    created_at          TEXT NOT NULL,
    last_activity_at    TEXT NOT NULL
);

-- A member of a circle; buttons name a membership by its `id`, never by a Telegram id.
-- `unread` counts the messages held back while muted (shown when
-- unmuting, then reset); `last_read_at` is when they unmuted or last wrote.
CREATE TABLE circle_members (
    id              INTEGER PRIMARY KEY,
    circle_id       INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('author', 'member', 'technician')),
    joined_at       TEXT NOT NULL,
    muted           INTEGER NOT NULL DEFAULT 0,
    unread          INTEGER NOT NULL DEFAULT 0,
    last_read_at    TEXT,
    UNIQUE (circle_id, member_id)
);
CREATE INDEX circle_members_member ON circle_members (member_id);

-- Someone removed from a circle (by its owner or the coordination): they cannot join again
-- by themselves; they may ask once (`asked_at`), and the owner accepts (the row goes) or
-- declines (`declined_at`).
CREATE TABLE circle_removals (
    id              INTEGER PRIMARY KEY,
    circle_id       INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    removed_by      INTEGER,
    removed_at      TEXT NOT NULL,
    asked_at        TEXT,
    declined_at     TEXT,
    UNIQUE (circle_id, member_id)
);
CREATE INDEX circle_removals_member ON circle_removals (member_id);

-- What was said in a circle: a text, or a reference to the member's own message that the bot
-- copies (copyMessage: never forwarded) with its caption, or a location. Kept for delivery
-- and a short history (`circles.history_days`), then erased by the retention sweeper.
CREATE TABLE circle_messages (
    id              INTEGER PRIMARY KEY,
    circle_id       INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    sender_id       INTEGER NOT NULL REFERENCES members (telegram_id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'voice', 'location')),
    text            TEXT,
    source_chat_id  INTEGER,
    source_message_id INTEGER,
    latitude        REAL,
    longitude       REAL,
    created_at      TEXT NOT NULL
);
CREATE INDEX circle_messages_circle ON circle_messages (circle_id, created_at);
CREATE INDEX circle_messages_sender ON circle_messages (sender_id, created_at);
CREATE INDEX circle_messages_created ON circle_messages (created_at);

-- "Alerter la coordination" about a message: the coordinators see it and may remove its
-- author. The message may be erased meanwhile (history, erasure): the alert stays, empty.
CREATE TABLE circle_alerts (
    id              INTEGER PRIMARY KEY,
    circle_id       INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    message_id      INTEGER REFERENCES circle_messages (id) ON DELETE SET NULL,
    reporter_id     INTEGER,
    author_id       INTEGER,
    status          TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'removed', 'dismissed')),
    handled_by      INTEGER,
    handled_at      TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (message_id, reporter_id)
);

-- Circle traffic as a whole has its own share of the bot's sending budget: each delivery
-- takes the next slot of one shared pace (GCRA's theoretical arrival time), stored here so
-- that every worker draws from the same share.
CREATE TABLE circle_pace (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    slot_at         TEXT NOT NULL
);
INSERT INTO circle_pace (id, slot_at) VALUES (1, '1970-01-01T00:00:00.000000Z');

-- The circles of initiatives published before circles existed, with their authors in them.
INSERT INTO circles (initiative_id, owner_id, created_at, last_activity_at)
SELECT id, author_id, COALESCE(published_at, created_at), COALESCE(published_at, created_at)
FROM initiatives WHERE status = 'published';
INSERT INTO circle_members (circle_id, member_id, role, joined_at)
SELECT c.id, i.author_id, 'author', c.created_at
FROM circles c JOIN initiatives i ON i.id = c.initiative_id WHERE i.author_id IS NOT NULL;
