"""/stats pictures: an album of charts readable on a phone (issue 16, item 23)."""

from __future__ import annotations

import os
import struct
from datetime import timedelta
from pathlib import Path

from bot.services.stats_album import MAX_BARS, MIN_WEEKS, StatsAlbum, shown_weeks
from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members
from tests.test_calls import FAST, draft_call
from tests.test_initiatives_life import seed_initiatives
from tests.test_pairs import person

LONG = "Communauté de communes du Grand Cubzaguais et de l'Estuaire de la Gironde"
# Where the pictures of a run are saved, to look at them at phone size.
SAVED = Path(os.environ.get("ESSAIM_CHARTS_DIR", "/tmp/essaim-charts"))


def save(pictures: list[bytes]) -> None:
    SAVED.mkdir(parents=True, exist_ok=True)
    for n, png in enumerate(pictures, start=1):
        (SAVED / f"stats-{n}.png").write_bytes(png)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_stats_come_with_an_album_of_charts(server, make_bot):
    bot = await make_bot(**FAST)
    bot.services.calls.summary_edit_seconds = 0.0
    coord = await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    server.add_users(range(100, 130))
    await seed_members(bot, range(100, 130), territory=LONG, themes=("Culture",))
    server.add_users(range(200, 212))
    for n in range(12):  # more places than bars: the smallest ones share one grey bar
        await seed_members(bot, [200 + n], territory=f"Commune numéro {n}")
    await person(bot, server, 5020, "Gaby", gardener=True)
    await person(bot, server, 5030, "Tim", capacity=2)
    await bot.services.pairs.confirm_match(5020, 5030, by=COORDINATOR_ID)
    await seed_initiatives(bot, 5020, [("Repair café", "Blaye", "Culture")])
    await draft_call(coord, needed="2")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await server.user(100).press("Je viens")
    await server.user(101).press("Pas cette fois")
    await bot.drain()

    await coord.send("/stats")
    await coord.receive(contains="État de la communauté")
    # Drawn off the event loop; a loaded test machine may take a few seconds.
    album = [await coord.receive(contains="Les personnes inscrites", timeout=60)]
    for caption in ("Où vivent", "Les appels à l'aide", "Les initiatives"):
        album.append(await coord.receive(contains=caption))
    assert all(m.photo for m in album)
    assert len({m.album for m in album}) == 1 and album[0].album is not None
    pictures = [server.files.by_id[message.photo].data for message in album]
    for png in pictures:
        width, height = png_size(png)
        assert width == 720 and 300 < height < 2000  # a phone's width, no zoom needed
    save(pictures)

    # What the pictures show: every figure of the text.
    figures = await bot.services.stats.community()
    pages = StatsAlbum(bot.services.texts, "fr").pages(figures)
    members, places, calls, funnel = pages
    assert members.panels[0].values[0] == figures.roles["members"]
    territories = places.panels[0]
    assert len(territories.labels) == MAX_BARS and territories.others
    assert territories.labels[0] == LONG and territories.labels[-1] == "autres (5)"
    assert sum(v or 0 for v in territories.values) == sum(figures.territories.values())
    assert calls.panels[0].note == "1 appel envoyé"
    assert "« je viens »" in seen(" ".join(calls.panels[0].labels))
    assert [p.title for p in funnel.panels] == ["Initiatives", "Binômes"]


async def test_the_weeks_start_with_the_community_and_stop_at_this_week(server, make_bot, clock):
    bot = await make_bot()
    await seed_members(bot, range(100, 103))
    stats = bot.services.stats
    fresh = shown_weeks((await stats.community()).weeks)
    assert len(fresh) == MIN_WEEKS and fresh[-1].week == stats.week_of(clock.now())
    clock.advance(timedelta(weeks=6))
    weeks = shown_weeks((await stats.community()).weeks)
    assert weeks[0].arrivals == 3 and len(weeks) == 7
    assert weeks[-1].week == stats.week_of(clock.now())
    page = StatsAlbum(bot.services.texts, "en").pages(await stats.community())[0]
    assert page.panels[1].labels == [w.week.strftime("%d/%m") for w in weeks]
    assert page.caption.startswith("👥 Members")


def test_big_numbers_and_long_names_stay_readable():
    from bot.charts import NAME_WIDTH, number, short_name

    assert number(1234567) == "1\u202f234\u202f567" and number(42) == "42"
    shown = short_name(LONG + " " + LONG)
    assert len(shown) <= NAME_WIDTH and shown.endswith("…")
    assert short_name("Blaye") == "Blaye"
