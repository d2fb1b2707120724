-- One answer per member and check-in: a double tap on "Bloqué" stored two answers and sent
-- two escalations. A later tap on another answer changes the answer instead. Duplicates
-- already stored keep their latest answer.
DELETE FROM pair_checkin_answers
WHERE id NOT IN (
    SELECT MAX(id) FROM pair_checkin_answers GROUP BY checkin_id, member_id
);

DROP INDEX pair_checkin_answers_checkin;

CREATE UNIQUE INDEX pair_checkin_answers_one ON pair_checkin_answers (checkin_id, member_id);
