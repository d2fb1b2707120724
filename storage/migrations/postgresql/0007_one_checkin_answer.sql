-- One answer per member and check-in (PostgreSQL twin of ../0007_one_checkin_answer.sql).
DELETE FROM pair_checkin_answers
WHERE id NOT IN (
    SELECT MAX(id) FROM pair_checkin_answers GROUP BY checkin_id, member_id
);

DROP INDEX pair_checkin_answers_checkin;

CREATE UNIQUE INDEX pair_checkin_answers_one ON pair_checkin_answers (checkin_id, member_id);
