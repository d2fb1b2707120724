"""Calls: who receives them (audience by role), who they were sent to (the recipients
table, not the outbox), commits that survive a double tap, and screens within Telegram's
limits (UTF-16 captions, long volunteer lists)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.audience import Audience, AudienceRepository, RecipientRepository
from storage.calls import CallRepository
from storage.sqlite import SqliteDatabase
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members
from tests.test_calls import FAST, draft_call, start_coordinator


async def _calls(bot) -> list:
    repo = CallRepository(bot.services.db)
    return await repo.for_coordinator(COORDINATOR_ID)


async def test_a_double_tap_on_send_now_sends_one_call(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users(range(2000, 2010))
    await seed_members(bot, range(2000, 2010))
    await draft_call(coord)
    answers = await asyncio.gather(
        coord.press("Envoyer maintenant"), coord.press("Envoyer maintenant")
    )
    assert sum("plus valable" in (a.text or "") for a in answers) == 1
    await bot.drain()
    calls = await _calls(bot)
    assert len(calls) == 1 and calls[0].recipients == 10
    assert server.stats.missing(range(2000, 2010)) == set()
    assert server.stats.duplicates().keys() <= {COORDINATOR_ID}


async def test_a_double_send_of_the_schedule_time_schedules_one_call(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    await seed_members(bot, range(2000, 2003))
    await draft_call(coord)
    await coord.press("Programmer")
    await coord.receive(contains="Quand faut-il l'envoyer")
    await asyncio.gather(coord.send("demain 9h"), coord.send("demain 9h"))
    await coord.receive(contains="programmé pour mardi 3 mars, 9 h")
    await coord.receive(contains="Je n'attendais pas")  # the second one finds no draft
    calls = await _calls(bot)
    assert [c.status for c in calls] == ["scheduled"]


async def test_double_taps_on_close_cancel_and_remind_act_once(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    await draft_call(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await alice.receive(contains="Appel à l'aide")
    await alice.press("Je viens")
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Volontaires")
    reminded = await asyncio.gather(
        coord.press("Relancer", detail), coord.press("Relancer", detail)
    )
    assert sorted("1 volontaire" in (r.text or "") for r in reminded) == [False, True]
    await bot.drain()
    assert len([m for m in alice.messages if "Rappel" in m.content]) == 1
    closed = await asyncio.gather(coord.press("Clore", detail), coord.press("Clore", detail))
    assert sorted("plus personne" in (c.text or "") for c in closed) == [False, True]
    await bot.drain()
    assert len([m for m in alice.messages if "est clos" in m.content]) == 1
    await coord.press("Annuler l'appel", detail)  # the same message, edited
    confirm = await coord.receive(contains="On ne peut pas revenir en arrière")
    done = await asyncio.gather(
        coord.press("Oui, annuler l'appel", confirm), coord.press("Oui, annuler l'appel", confirm)
    )
    assert sorted("annulé" in (d.text or "") for d in done) == [False, True]
    await bot.drain()
    assert len([m for m in alice.messages if "❌" in m.content]) == 1


async def test_recipients_have_their_own_table_and_survive_a_pruned_outbox(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users(range(2000, 2006))
    await seed_members(bot, range(2000, 2006))
    server.user(2005).block()
    await draft_call(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    call = (await _calls(bot))[0]
    recipients = RecipientRepository(bot.services.db)
    assert await recipients.counts("call", call.id) == {"sent": 5, "blocked": 1}
    copy = server.get_user(2000).last
    assert await recipients.message_id("call", call.id, 2000) == copy.message_id
    stats_before = await bot.services.stats.community()
    # The outbox is pruned (a later issue deletes delivered rows): nothing depends on it.
    await bot.services.db.execute("DELETE FROM deliveries")
    assert "Merci" in (await server.get_user(2000).press("Je viens")).text
    relay = await server.get_user(2001).press("Relayer")
    assert relay.text is None or "plus valable" not in relay.text
    counts = await bot.services.calls.counts(call)
    assert (counts.sent, counts.blocked, counts.yes) == (5, 1, 1)
    stats_after = await bot.services.stats.community()
    assert stats_after.calls["delivered"] == stats_before.calls["delivered"] == 5
    assert stats_after.calls["blocked"] == 1


async def test_an_audience_by_role_reaches_only_those_roles(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users(range(2000, 2010))
    await seed_members(bot, range(2000, 2003), ambassador=True)
    await seed_members(bot, range(2003, 2010))
    async with bot.services.db.transaction():
        for uid in (2003, 2004):
            await bot.state.members.update(uid, is_citizen_gardener=True)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    for answer in ("Tri des déchets", "Blaye", "05/03 14h30", "2"):
        await coord.send(answer)
        await coord.receive()
    await coord.press("2 h avant")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    roles = await coord.receive(contains="À qui")
    assert "▫️ Jardiniers et jardinières citoyens" in roles.all_buttons
    await coord.press("▫️ Jardiniers et jardinières citoyens")
    ticked = await coord.receive(contains="À qui")
    assert "✅ Jardiniers et jardinières citoyens" in ticked.all_buttons
    await coord.press("▫️ Les porte-voix")
    await coord.press("Valider")
    preview = await coord.receive(contains="recevront")
    assert "<b>5</b>" in preview.html
    await coord.press("Envoyer maintenant")
    await bot.drain()
    assert set(server.stats.delivered_chat_ids) - {COORDINATOR_ID} == set(range(2000, 2005))
    repo = AudienceRepository(bot.services.db)
    assert await repo.count(Audience(roles=["citizen_gardener"])) == 2
    assert await repo.count(Audience(roles=["technician"])) == 0
    assert (await _calls(bot))[0].roles == ["ambassador", "citizen_gardener"]


async def test_a_photo_caption_is_measured_in_utf16_and_sent_back_to_shorten(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    await onboard(server, 3001, "Alice")
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    # 450 emoji are 450 code points but 900 UTF-16 units: with the place and the dates,
    # the call is over a caption's 1,024 units.
    await coord.send_photo(caption="🧺" * 450)
    await coord.receive(contains="Où ?")
    await coord.send("Salle des fêtes de Blaye, " * 6)
    await coord.receive(contains="Quand ?")
    await coord.send("05/03 14h30")
    await coord.receive(contains="Combien")
    await coord.send("2")
    await coord.receive(contains="Jusqu'à quand")
    await coord.press("2 h avant")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    back = await coord.receive(contains="1024 caractères")
    assert "Nouvel appel" in back.text and "🧺" * 450 in back.text
    await coord.send_photo(caption="Collecte de jouets")  # the text step again
    await coord.receive(contains="Où ?")
    for answer in ("Blaye", "05/03 14h30", "2"):
        await coord.send(answer)
        await coord.receive()
    await coord.press("2 h avant")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    preview = await coord.receive(contains="Collecte de jouets")
    assert preview.photo is not None
    await coord.receive(contains="recevront")


async def test_typed_text_at_the_preview_is_answered_with_the_preview_again(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    await seed_members(bot, range(2000, 2003))
    await draft_call(coord)
    await coord.send("ok c'est bon")
    again = await coord.receive(contains="utilisez les boutons")
    assert "<b>3</b>" in again.html and "Envoyer maintenant" in again.all_buttons
    await coord.send_sticker()
    await coord.receive(contains="utilisez les boutons")


async def test_the_detail_screen_fits_many_long_names_and_offers_the_full_list(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    ids = range(2000, 2090)
    server.add_users(ids)
    await seed_members(bot, ids)
    long_name = "Marie-Bérénice de La Tour d'Auvergne " * 2
    async with bot.services.db.transaction():
        for uid in ids:
            await bot.state.members.update(
                uid, display_name=f"{long_name}{uid}", username=f"user_with_a_long_name_{uid}"
            )
    await draft_call(coord, needed="50")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    for uid in ids:
        await server.get_user(uid).press("Je viens")
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Volontaires")
    assert len(detail.text.encode("utf-16-le")) // 2 <= 4096
    assert "Clore" in detail.all_buttons and "Annuler l'appel" in detail.all_buttons
    assert "autre" in detail.text.split("Volontaires")[1]
    await coord.press("📄 Liste complète", detail)
    document = await coord.receive(contains="liste complète")
    assert document.document is not None
    content = document.document[1].decode()
    assert all(f"{long_name}{uid}" in content for uid in ids)


@pytest.mark.sqlite_only  # the SQLite migration, step by step, on a SQLite file
async def test_the_migration_backfills_recipients_of_earlier_calls(tmp_path):
    path = tmp_path / "old.db"
    db = SqliteDatabase(path)
    await db.connect(migrate=False)
    await db.migrate(target=9)
    stamp = "2026-03-01T10:00:00.000000Z"
    async with db.transaction():
        await db.execute(
            "INSERT INTO calls (id, coordinator_id, text, place, event_at, needed, deadline_at, "
            "ambassadors_only, status, created_at) VALUES (1, 900, 't', 'p', ?, 2, ?, 1, "
            "'open', ?)",
            (stamp, stamp, stamp),
        )
        for chat_id, status, message_id in (
            (1, "sent", 11),
            (2, "blocked", None),
            (3, "sending", None),
        ):
            await db.execute(
                "INSERT INTO deliveries (chat_id, kind, ref_id, payload, status, not_before, "
                "message_id, created_at) VALUES (?, 'call', 1, '{}', ?, ?, ?, ?)",
                (chat_id, status, stamp, message_id, stamp),
            )
    await db.migrate()
    recipients = RecipientRepository(db)
    assert await recipients.counts("call", 1) == {"sent": 1, "blocked": 1, "queued": 1}
    assert await recipients.message_id("call", 1, 1) == 11
    call = await CallRepository(db).get(1)
    assert call is not None and call.roles == ["ambassador"]
    assert call.event_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    await db.close()
