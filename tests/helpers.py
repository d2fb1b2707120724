"""Shared steps for tests: onboarding people through the real flow, or seeding many at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sandbox.fakeapi import FakeTelegram
from storage.members import MemberRepository


async def onboard(
    server: FakeTelegram,
    user_id: int,
    name: str,
    *,
    territory: str = "Blaye",
    themes: Sequence[str] = ("Solidarité",),
    ambassador: bool = False,
    gardener: bool = False,
    language: str = "fr",
    start_arg: str | None = None,
    staff: bool = False,
) -> Any:
    """Drive /start to the end as a person would; returns the fake user."""
    user = server.user(user_id, name, username=name.lower(), language_code=language)
    accept = "J'accepte" if language == "fr" else "I accept"
    confirm = "Valider" if language == "fr" else "Confirm"
    yes, no = ("Oui", "Non") if language == "fr" else ("Yes", "No")
    await user.send("/start" + (f" {start_arg}" if start_arg else ""))
    await user.receive()
    await user.press(accept)
    await user.receive(contains=name)
    await user.send(name)
    await user.receive()
    await user.press(territory)
    for theme in themes:
        await user.press("▫️ " + theme)
    await user.press(confirm)
    if not staff:  # coordinators are not asked the citizens' opt-ins
        await user.press(yes if ambassador else no)
        await user.press(yes if gardener else no)
    await user.receive(contains="🎉")
    return user


async def seed_members(
    bot: Any,
    ids: Iterable[int],
    *,
    territory: str = "Blaye",
    themes: Sequence[str] = ("Solidarité",),
    ambassador: bool = False,
    status: str = "active",
) -> None:
    """Insert onboarded members directly, for tests about what happens to many people."""
    services = bot.services
    repo = MemberRepository(services.db)
    now = services.clock.now()
    async with services.db.transaction():
        for member_id in ids:
            await repo.create(
                telegram_id=member_id,
                display_name=f"Membre {member_id}",
                username=f"m{member_id}",
                language="fr",
                referral_code=f"seed{member_id}",
                referred_by=None,
                now=now,
            )
            await repo.update(
                member_id, territory=territory, is_ambassador=ambassador, onboarded_at=now
            )
            await repo.set_themes(member_id, themes)
            if status != "active":
                await repo.set_status(member_id, status)  # type: ignore[arg-type]
