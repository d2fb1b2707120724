-- The audience of a broadcast (storage/audience.py): active, onboarded members of some
-- territories, in member order. The index holds the member's id, so a preview count reads it
-- alone, without visiting the members' rows (1,000,000 members: issue 17).
CREATE INDEX members_audience ON members (territory, telegram_id)
    WHERE status = 'active' AND onboarded_at IS NOT NULL;
