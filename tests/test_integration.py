"""Flows that cross features: an initiative in consolidation gets its author a gardener."""

from __future__ import annotations

from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_initiatives_life import seed_initiatives
from tests.test_pairs import person


async def test_consolidation_gardener_is_paired_with_the_initiative_named(server, bot):
    await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice", themes=("Solidarité",))
    [initiative_id] = await seed_initiatives(
        bot, 1001, [("Jardin partagé des Tilleuls", "Blaye", "Solidarité")]
    )
    services = bot.services
    assert await services.initiatives.set_stage(COORDINATOR_ID, initiative_id, "consolidation")
    await services.initiatives.answer_gardener(1001, initiative_id, True)
    tom = await person(bot, server, 2001, "Tom", capacity=2)

    done = await services.pairs.confirm_match(1001, 2001, by=COORDINATOR_ID)
    await bot.drain()
    assert done.pair_id is not None
    assert (await bot.state.pair(done.pair_id)).initiative_id == initiative_id
    for user in (alice, tom):
        notice = await user.receive(contains="Votre binôme est formé")
        assert "Jardin partagé des Tilleuls" in notice.text
