"""The seeded demo community the sandbox page starts with.

Four phones: a citizen who has not joined yet (the visitor onboards her with /start), an
ambassador, a technician gardener and a coordinator, all three already onboarded; plus a
dozen quiet members so that a call has an audience, and one published initiative (when the
initiatives feature is present in this build) whose circle joins Yanis's and Sophie's phones.
"""

from __future__ import annotations

import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any

from storage.circles import CircleRepository
from storage.db import to_db_time
from storage.initiatives import InitiativeRepository
from storage.members import MemberRepository

if TYPE_CHECKING:
    from sandbox.launcher import Phone, Sandbox

log = logging.getLogger(__name__)

CITIZEN_ID = 1001
AMBASSADOR_ID = 1002
TECHNICIAN_ID = 1003
COORDINATOR_ID = 1004
EXTRA_CITIZEN_FIRST_ID = 1100
QUIET_MEMBER_IDS = range(2001, 2013)
BULK_FIRST_ID = 5_000_000

FIRST_NAMES = [
    "Léa", "Hugo", "Inès", "Jules", "Manon", "Nathan", "Chloé", "Louis", "Zoé", "Adam",
    "Jade", "Gabriel", "Lina", "Arthur", "Rose", "Noah",
]  # fmt: skip


async def seed(sandbox: Sandbox) -> list[Phone]:
    """Create the demo members in the bot's database and the matching fake users."""
    from sandbox.launcher import Phone

    settings = sandbox.bot_settings
    services = sandbox.services
    server = sandbox.server
    territories = settings.territories
    themes = settings.themes
    phones = [
        Phone(CITIZEN_ID, "Camille", "citizen"),
        Phone(AMBASSADOR_ID, "Yanis", "ambassador"),
        Phone(TECHNICIAN_ID, "Sophie", "technician"),
        Phone(COORDINATOR_ID, "Hélène", "coordinator"),
    ]
    for phone in phones:
        server.user(phone.user_id, phone.name, username=None, language_code="fr")

    repo = MemberRepository(services.db)
    now = services.clock.now()
    rng = random.Random(7)
    async with services.db.transaction():
        await _member(repo, AMBASSADOR_ID, "Yanis", now, territories[0], themes[:2])
        await repo.update(AMBASSADOR_ID, is_ambassador=True)
        await _member(repo, TECHNICIAN_ID, "Sophie", now, territories[0], themes[:2])
        await repo.update(TECHNICIAN_ID, is_technician=True)
        await repo.save_technician(TECHNICIAN_ID, "Service environnement", 3, territories[:2])
        await _member(repo, COORDINATOR_ID, "Hélène", now, territories[0], themes)
        await repo.update(COORDINATOR_ID, is_coordinator=True)
        for index, member_id in enumerate(QUIET_MEMBER_IDS):
            name = FIRST_NAMES[index % len(FIRST_NAMES)]
            chosen = rng.sample(themes, k=min(len(themes), 1 + index % 2))
            await _member(
                repo, member_id, name, now, territories[index % len(territories)], chosen
            )
            if index % 4 == 0:
                await repo.update(member_id, is_citizen_gardener=True)
    server.add_users(QUIET_MEMBER_IDS)
    await _staff_menus(sandbox)
    with contextlib.suppress(Exception):
        await _seed_initiative(sandbox)
    return phones


async def _member(
    repo: MemberRepository,
    member_id: int,
    name: str,
    now: Any,
    territory: str,
    themes: list[str],
    language: str = "fr",
) -> None:
    await repo.create(
        telegram_id=member_id,
        display_name=name,
        username=None,
        language=language,
        referral_code=f"demo{member_id}",
        referred_by=None,
        now=now,
    )
    await repo.update(member_id, territory=territory, onboarded_at=now)
    await repo.set_themes(member_id, themes)


async def _staff_menus(sandbox: Sandbox) -> None:
    """Seeded staff skipped onboarding, so give them the menu the bot would have set."""
    from telegram import BotCommandScopeChat

    from handlers import menu

    services = sandbox.services
    for member_id in (TECHNICIAN_ID, COORDINATOR_ID):
        member = await services.members.get(member_id)
        if member is None:
            continue
        await sandbox.app.bot.set_my_commands(
            menu.commands(services.texts, member.language, menu.names_for(member)),
            scope=BotCommandScopeChat(member_id),
        )


async def add_bulk_members(sandbox: Sandbox, count: int) -> int:
    """Many quiet members at once, so a call makes the dispatcher's pacing visible."""
    services = sandbox.services
    settings = sandbox.bot_settings
    repo = MemberRepository(services.db)
    start = BULK_FIRST_ID + sandbox.bulk_added
    ids = range(start, start + count)
    now = services.clock.now()
    territories = settings.territories
    themes = settings.themes
    async with services.db.transaction():
        for n, member_id in enumerate(ids):
            await _member(
                repo,
                member_id,
                f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {member_id}",
                now,
                territories[n % len(territories)],
                [themes[n % len(themes)]],
            )
    sandbox.server.add_users(ids)
    sandbox.bulk_added += count
    return count


async def _seed_initiative(sandbox: Sandbox) -> None:
    """One published initiative, only when this build has the initiatives feature.

    The initiatives feature is developed separately; until it is merged its table does not
    exist and nothing is seeded. The insert names only columns the table actually has.
    """
    db = sandbox.services.db
    row = await db.fetch_one(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'initiatives'"
    )
    if row is None:
        return
    columns = {r["name"] for r in await db.fetch_all("PRAGMA table_info(initiatives)")}
    now = to_db_time(sandbox.services.clock.now())
    settings = sandbox.bot_settings
    wanted: dict[str, object] = {
        "author_id": AMBASSADOR_ID,
        "title": "Jardin partagé du quartier",
        "description": "Un potager ouvert à tous, derrière la médiathèque.",
        "theme": settings.themes[min(1, len(settings.themes) - 1)],
        "territory": settings.territories[0],
        "status": "published",
        "stage": "emergence",
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "published_at": now,
    }
    chosen = {k: v for k, v in wanted.items() if k in columns}
    names = ", ".join(chosen)
    marks = ", ".join("?" for _ in chosen)
    async with db.transaction():
        initiative_id = await db.execute_returning_id(
            f"INSERT INTO initiatives ({names}) VALUES ({marks})", tuple(chosen.values())
        )
        await _seed_circle(sandbox, initiative_id)
    log.info("sandbox: seeded one initiative")


async def _seed_circle(sandbox: Sandbox, initiative_id: int) -> None:
    """Its circle, between two phones: Yanis (the author) and Sophie, who takes part. The
    visitor joins it from "Je veux participer" once onboarded."""
    services = sandbox.services
    now = services.clock.now()
    circle_id = await services.circles.open_for(initiative_id, AMBASSADOR_ID)
    await InitiativeRepository(services.db).add_support(
        initiative_id, TECHNICIAN_ID, "participate", now
    )
    await CircleRepository(services.db).add_member(circle_id, TECHNICIAN_ID, "member", now)
