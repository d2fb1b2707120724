"""Read-only figures for /stats and rows for /export. Only aggregates leave /stats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from storage.db import Database
from storage.members import OTHER_TERRITORY
from storage.pairs import HEALTH_SQL
from storage.reports import REPORT_EXPORT


class StatsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(self, sql: str, params: Sequence[Any] = ()) -> dict[str, int]:
        """Rows of (label, count) as a dict, in query order."""
        rows = await self.db.fetch_all(sql, params)
        return {str(r[0]): int(r[1]) for r in rows}

    async def roles(self) -> dict[str, int]:
        row = await self.db.fetch_one(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE is_ambassador), "
            "COUNT(*) FILTER (WHERE is_citizen_gardener), COUNT(*) FILTER (WHERE is_technician), "
            "COUNT(*) FILTER (WHERE is_coordinator), COUNT(*) FILTER (WHERE status = 'paused'), "
            "COUNT(*) FILTER (WHERE status = 'blocked') "
            "FROM members WHERE onboarded_at IS NOT NULL"
        )
        keys = (
            "members",
            "ambassadors",
            "citizen_gardeners",
            "technicians",
            "coordinators",
            "paused",
            "inactive",
        )
        return {k: int(row[i] or 0) if row else 0 for i, k in enumerate(keys)}

    async def by_territory(self) -> dict[str, int]:
        return await self.counts(
            "SELECT COALESCE(territory, ?), COUNT(*) FROM members "
            "WHERE onboarded_at IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            (OTHER_TERRITORY,),
        )

    async def by_theme(self) -> dict[str, int]:
        return await self.counts(
            "SELECT t.theme, COUNT(*) FROM member_themes t "
            "JOIN members m ON m.telegram_id = t.member_id WHERE m.onboarded_at IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        )

    async def arrivals(self, since: str) -> list[str]:
        """Arrival instants (ISO text) of members onboarded since `since`, to bucket by week."""
        rows = await self.db.fetch_all(
            "SELECT created_at FROM members WHERE onboarded_at IS NOT NULL AND created_at >= ?",
            (since,),
        )
        return [r[0] for r in rows]

    async def consultations_figures(self) -> dict[str, int]:
        """Consultations sent, their recipients, and the people who answered."""
        row = await self.db.fetch_one(
            "SELECT COUNT(*), COALESCE(SUM(recipients), 0), (SELECT COUNT(*) FROM (SELECT "
            "DISTINCT consultation_id, member_id FROM consultation_answers) AS a) "
            "FROM consultations WHERE sent_at IS NOT NULL"
        )
        if row is None or not row[0]:
            return {}
        return {"sent": int(row[0]), "recipients": int(row[1]), "answered": int(row[2])}

    async def calls_figures(self) -> dict[str, int]:
        row = await self.db.fetch_one(
            "SELECT COUNT(*), COALESCE(SUM(recipients), 0), COALESCE(SUM(erased_answers), 0), "
            "COALESCE(SUM(erased_yes), 0) FROM calls WHERE sent_at IS NOT NULL"
        )
        delivered = await self.counts(
            "SELECT status, COUNT(*) FROM broadcast_recipients WHERE kind = 'call' GROUP BY status"
        )
        answers = await self.counts("SELECT answer, COUNT(*) FROM call_answers GROUP BY answer")
        calls, recipients, erased, erased_yes = (
            (int(row[i]) for i in range(4)) if row else (0, 0, 0, 0)
        )
        return {
            "sent": calls,
            "recipients": recipients,
            "delivered": delivered.get("sent", 0),
            "blocked": delivered.get("blocked", 0),
            "failed": delivered.get("failed", 0),
            "yes": answers.get("yes", 0) + erased_yes,
            "waiting": answers.get("waiting", 0),
            "no": answers.get("no", 0),
            "answered": sum(answers.values()) + erased,
        }

    async def weekly_answers(self, since: str) -> list[tuple[str, int, int]]:
        """(call sent_at, copies delivered, answers) of calls sent since `since`."""
        rows = await self.db.fetch_all(
            "SELECT c.sent_at, "
            "(SELECT COUNT(*) FROM broadcast_recipients r WHERE r.kind = 'call' "
            "AND r.broadcast_id = c.id AND r.status = 'sent'), "
            "c.erased_answers + (SELECT COUNT(*) FROM call_answers a WHERE a.call_id = c.id) "
            "FROM calls c WHERE c.sent_at >= ?",
            (since,),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def initiatives_funnel(self) -> dict[str, int]:
        """Proposals waiting or sent back, then published ones by stage."""
        return await self.counts(
            "SELECT step, COUNT(*) FROM (SELECT CASE WHEN status = 'published' THEN stage "
            "ELSE status END AS step FROM initiatives) AS steps GROUP BY step ORDER BY CASE step "
            "WHEN 'pending' THEN 0 WHEN 'changes' THEN 1 WHEN 'declined' THEN 2 "
            "WHEN 'emergence' THEN 3 WHEN 'consolidation' THEN 4 WHEN 'concretisation' THEN 5 "
            "WHEN 'realisee' THEN 6 ELSE 7 END"
        )

    async def pairs_health(self) -> dict[str, int]:
        return await self.counts(
            f"SELECT h, COUNT(*) FROM (SELECT {HEALTH_SQL} AS h FROM pairs "
            "WHERE status = 'active') AS active GROUP BY h "
            "ORDER BY CASE h WHEN 'on_track' THEN 0 WHEN 'needs_help' THEN 1 "
            "WHEN 'blocked' THEN 2 WHEN 'silent' THEN 3 ELSE 4 END"
        )

    async def stream(
        self, sql: str, params: Sequence[Any] = (), chunk: int = 1000
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Rows of an export query, a chunk at a time, so large exports keep memory flat."""
        offset = 0
        while True:
            rows = await self.db.fetch_all(f"{sql} LIMIT ? OFFSET ?", (*params, chunk, offset))
            if not rows:
                return
            yield [tuple(r) for r in rows]
            offset += len(rows)


# Each export: file name, header, and the query (ordered by a stable key).
EXPORTS: dict[str, tuple[tuple[str, ...], str]] = {
    "membres": (
        (
            "telegram_id",
            "nom",
            "langue",
            "territoire",
            "themes",
            "porte_voix",
            "jardinier_citoyen",
            "technicien",
            "coordinateur",
            "statut",
            "arrivee",
            "parraine_par",
        ),
        "SELECT m.telegram_id, m.display_name, m.language, m.territory, "
        "(SELECT group_concat(theme, ', ') FROM member_themes t "
        "WHERE t.member_id = m.telegram_id), "
        "m.is_ambassador, m.is_citizen_gardener, m.is_technician, m.is_coordinator, m.status, "
        "m.created_at, m.referred_by FROM members m WHERE m.onboarded_at IS NOT NULL "
        "ORDER BY m.telegram_id",
    ),
    "appels": (
        (
            "id",
            "coordinateur",
            "texte",
            "lieu",
            "date",
            "besoin",
            "echeance",
            "territoires",
            "themes",
            "porte_voix_seulement",
            "statut",
            "envoye",
            "destinataires",
        ),
        "SELECT id, coordinator_id, text, place, event_at, needed, deadline_at, territories, "
        "themes, ambassadors_only, status, sent_at, recipients FROM calls ORDER BY id",
    ),
    "reponses_appels": (
        ("appel", "membre", "nom", "reponse", "repondu"),
        "SELECT a.call_id, a.member_id, m.display_name, a.answer, a.answered_at "
        "FROM call_answers a LEFT JOIN members m ON m.telegram_id = a.member_id "
        "ORDER BY a.call_id, a.answered_at",
    ),
    "initiatives": (
        (
            "id",
            "titre",
            "description",
            "theme",
            "territoire",
            "besoins",
            "statut",
            "etape",
            "auteur",
            "nom_auteur",
            "soutiens",
            "participants",
            "soumise",
            "publiee",
            "message_moderation",
        ),
        "SELECT i.id, i.title, i.description, i.theme, i.territory, i.needs, i.status, i.stage, "
        "i.author_id, (SELECT m.display_name FROM members m WHERE m.telegram_id = i.author_id), "
        "i.erased_supporters + (SELECT COUNT(*) FROM initiative_supports s "
        "WHERE s.initiative_id = i.id AND s.kind = 'support'), "
        "i.erased_participants + (SELECT COUNT(*) FROM initiative_supports s "
        "WHERE s.initiative_id = i.id AND s.kind = 'participate'), "
        "i.submitted_at, i.published_at, i.moderation_message FROM initiatives i ORDER BY i.id",
    ),
    "binomes": (
        (
            "id",
            "jardinier_citoyen",
            "jardinier_technicien",
            "nom_jardinier_citoyen",
            "nom_jardinier_technicien",
            "initiative",
            "titre_initiative",
            "statut",
            "sante",
            "intervalle_jours",
            "prochain_point",
            "cree",
            "termine",
        ),
        "SELECT pairs.id, pairs.citizen_id, pairs.technician_id, "
        "(SELECT m.display_name FROM members m WHERE m.telegram_id = pairs.citizen_id), "
        "(SELECT m.display_name FROM members m WHERE m.telegram_id = pairs.technician_id), "
        "pairs.initiative_id, "
        "(SELECT i.title FROM initiatives i WHERE i.id = pairs.initiative_id), "
        f"pairs.status, {HEALTH_SQL}, pairs.interval_days, pairs.next_due_at, pairs.created_at, "
        "pairs.ended_at FROM pairs ORDER BY pairs.id",
    ),
    "points_etape": (
        ("binome", "point", "envoye", "membre", "nom", "reponse", "note", "repondu"),
        "SELECT c.pair_id, c.id, c.sent_at, a.member_id, m.display_name, a.answer, a.note, "
        "a.answered_at FROM pair_checkins c LEFT JOIN pair_checkin_answers a "
        "ON a.checkin_id = c.id LEFT JOIN members m ON m.telegram_id = a.member_id "
        "ORDER BY c.pair_id, c.id, a.id",
    ),
    "signalements": REPORT_EXPORT,
    "consultations": (
        (
            "id",
            "coordinateur",
            "titre",
            "anonyme",
            "statut",
            "envoyee",
            "cloture",
            "destinataires",
            "questions",
        ),
        # A circle's decisions stay its members' business: coordinators do not read circles.
        "SELECT id, coordinator_id, title, anonymous, status, sent_at, closes_at, recipients, "
        "questions FROM consultations WHERE owner_kind = 'audience' ORDER BY id",
    ),
    # Anonymous consultations: who answered what is never exported (no member id).
    "reponses_consultations": (
        ("consultation", "membre", "question", "choix", "autre_reponse", "repondu"),
        "SELECT a.consultation_id, CASE WHEN c.anonymous THEN NULL ELSE a.member_id END, "
        "a.question + 1, a.choices, a.other, a.answered_at FROM consultation_answers a "
        "JOIN consultations c ON c.id = a.consultation_id WHERE c.owner_kind = 'audience' "
        "ORDER BY a.consultation_id, a.question, a.answered_at",
    ),
}

# The tables each export reads, so that the audit log can say whose personal data it handed
# out (storage/privacy_model.py says which tables hold some).
EXPORT_TABLES: dict[str, tuple[str, ...]] = {
    "membres": ("members", "member_themes"),
    "appels": ("calls",),
    "reponses_appels": ("call_answers", "members"),
    "initiatives": ("initiatives", "initiative_supports", "members"),
    "binomes": ("pairs", "members", "initiatives"),
    "points_etape": ("pair_checkins", "pair_checkin_answers", "members"),
    "signalements": ("reports",),
    "consultations": ("consultations",),
    "reponses_consultations": ("consultation_answers",),
}

# How each column's values are shown to a person (columns not listed are shown as they are):
# `time` an instant in the organisation's zone, `flag` yes or no, `list` a stored list, and the
# other kinds a code the catalogues name (bot/services/stats.py maps each kind to its labels).
EXPORT_KINDS: dict[str, dict[str, str]] = {
    "membres": {
        "langue": "language",
        "porte_voix": "flag",
        "jardinier_citoyen": "flag",
        "technicien": "flag",
        "coordinateur": "flag",
        "statut": "member_status",
        "arrivee": "time",
    },
    "appels": {
        "date": "time",
        "echeance": "time",
        "territoires": "list",
        "themes": "list",
        "porte_voix_seulement": "flag",
        "statut": "call_status",
        "envoye": "time",
    },
    "reponses_appels": {"reponse": "call_answer", "repondu": "time"},
    "initiatives": {
        "besoins": "needs",
        "statut": "initiative_status",
        "etape": "stage",
        "soumise": "time",
        "publiee": "time",
    },
    "binomes": {
        "statut": "pair_status",
        "sante": "health",
        "prochain_point": "time",
        "cree": "time",
        "termine": "time",
    },
    "points_etape": {"envoye": "time", "reponse": "checkin_answer", "repondu": "time"},
    "signalements": {
        "type": "report_kind",
        "urgent": "flag",
        "etat": "report_status",
        "envoye": "time",
        "premiere_reponse": "time",
        "clos": "time",
        "contenu_efface": "time",
    },
    "consultations": {
        "anonyme": "flag",
        "statut": "consultation_status",
        "envoyee": "time",
        "cloture": "time",
        "questions": "questions",
    },
    "reponses_consultations": {"choix": "choices", "repondu": "time"},
}
