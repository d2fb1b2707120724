"""The sandbox (`make run` without a token): the page, its JSON API and its live event stream."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from sandbox.demo import AMBASSADOR_ID, CITIZEN_ID, COORDINATOR_ID, TECHNICIAN_ID
from sandbox.launcher import Sandbox
from storage.members import MemberRepository

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    settings = Settings(database={"path": str(tmp_path / "essaim.sqlite3")})
    # Frozen between jumps, so the clock test can count exact seconds.
    running = Sandbox(settings, port=0, api_port=0, realtime=False)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


class Events:
    """Reads the page's server-sent event stream as the browser's EventSource would."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            event, data = "", ""
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise AssertionError("event stream closed")
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and event:
                    payload: dict[str, Any] = json.loads(data)
                    if event == kind and all(payload.get(k) == v for k, v in match.items()):
                        return payload
                    event, data = "", ""

        return await asyncio.wait_for(read(), timeout)


async def test_page_api_and_live_events_onboard_a_citizen(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    page = await http.get(sandbox.url)
    assert page.status == 200
    assert 'id="phones"' in await page.text()
    script = await http.get(sandbox.url + "static/app.js")
    assert script.status == 200 and "EventSource" in await script.text()

    state = await (await http.get(sandbox.url + "api/state")).json()
    roles = {p["id"]: p["role"] for p in state["phones"]}
    assert roles == {
        CITIZEN_ID: "citizen",
        AMBASSADOR_ID: "ambassador",
        TECHNICIAN_ID: "technician",
        COORDINATOR_ID: "coordinator",
    }

    async with http.get(sandbox.url + "api/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = Events(stream)
        sent = await http.post(
            sandbox.url + f"api/phones/{CITIZEN_ID}/send", json={"text": "/start"}
        )
        assert sent.status == 200
        echoed = await events.next("message", phone=CITIZEN_ID)
        assert echoed["message"]["text"] == "/start" and not echoed["message"]["from_bot"]
        notice = await events.next("message", phone=CITIZEN_ID)
        message = notice["message"]
        assert message["from_bot"]
        assert "Essaim" in message["html"]
        assert ["J'accepte"] in message["buttons"]

        pressed = await http.post(
            sandbox.url + f"api/phones/{CITIZEN_ID}/press",
            json={
                "message_id": message["message_id"],
                "data": message["button_data"]["J'accepte"],
            },
        )
        assert pressed.status == 200
        nxt = await events.next("message", phone=CITIZEN_ID)
        assert nxt["message"]["from_bot"]
        assert nxt["message"]["message_id"] > message["message_id"]

    screen = await (await http.get(sandbox.url + f"api/phones/{CITIZEN_ID}")).json()
    assert [m["from_bot"] for m in screen["messages"]][:2] == [False, True]
    assert sandbox.services.members is not None
    assert await sandbox.services.members.get(CITIZEN_ID) is not None  # consent stored


async def test_seeded_community_has_staff_roles_and_menus(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    members = sandbox.services.members
    assert await members.is_coordinator(COORDINATOR_ID)
    assert COORDINATOR_ID in sandbox.bot_settings.coordinators
    profile = await members.technician(TECHNICIAN_ID)
    assert profile is not None and profile.capacity == 3
    ambassador = await members.get(AMBASSADOR_ID)
    assert ambassador is not None and ambassador.is_ambassador and ambassador.onboarded_at
    assert await members.get(CITIZEN_ID) is None  # the visitor onboards her

    coordinator = await (await http.get(sandbox.url + f"api/phones/{COORDINATOR_ID}")).json()
    citizen = await (await http.get(sandbox.url + f"api/phones/{CITIZEN_ID}")).json()
    assert "appel" in [c["command"] for c in coordinator["commands"]]
    assert "appel" not in [c["command"] for c in citizen["commands"]]
    assert "profil" in [c["command"] for c in citizen["commands"]]


async def test_clock_control_moves_the_bot_clock(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    before = sandbox.clock.now()
    moved = await http.post(sandbox.url + "api/clock", json={"step": "day"})
    assert moved.status == 200
    assert (sandbox.clock.now() - before).total_seconds() == 86_400
    assert sandbox.services.clock.now() == sandbox.clock.now()  # the bot reads this clock
    await http.post(sandbox.url + "api/clock", json={"step": "fortnight"})
    assert (sandbox.clock.now() - before).days == 15
    wrong = await http.post(sandbox.url + "api/clock", json={"step": "year"})
    assert wrong.status == 400
    assert (sandbox.clock.now() - before).days == 15


async def test_bulk_members_and_outbox_panel(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    assert sandbox.server.config.global_per_second == 30
    added = await (await http.post(sandbox.url + "api/members/bulk", json={})).json()
    assert added["added"] == 2000
    members = await MemberRepository(sandbox.services.db).all()
    assert sum(m.onboarded_at is not None for m in members) >= 2000
    first = sandbox.server.get_user(5_000_000)
    assert first is not None  # the fake server knows their chats, so a call can reach them
    stats = await (await http.get(sandbox.url + "api/stats")).json()
    assert stats["members_added"] == 2000
    assert {"queued", "per_second", "too_many_requests", "delivered"} <= set(stats)


async def test_add_phone_language_photo_and_bad_inputs(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    added = await (await http.post(sandbox.url + "api/phones", json={"language": "en"})).json()
    assert added["role"] == "citizen" and added["language"] == "en"
    await http.post(sandbox.url + f"api/phones/{added['id']}/send", json={"text": "/start"})
    user = sandbox.server.get_user(added["id"])
    assert user is not None
    notice = await user.receive()
    assert "I accept" in notice.all_buttons  # the bot follows the phone's language

    switched = await http.post(sandbox.url + "api/language", json={"language": "en"})
    assert switched.status == 200
    citizen = sandbox.server.get_user(CITIZEN_ID)
    assert citizen is not None and citizen.language_code == "en"

    form = aiohttp.FormData()
    form.add_field("photo", b"\xff\xd8\xff\xe0fakejpeg\xff\xd9", filename="p.jpg")
    photo = await http.post(sandbox.url + f"api/phones/{CITIZEN_ID}/photo", data=form)
    body = await photo.json()
    assert body["message"]["photo"]
    image = await http.get(sandbox.url + f"api/files/{body['message']['photo']}")
    assert await image.read() == b"\xff\xd8\xff\xe0fakejpeg\xff\xd9"

    assert (await http.post(sandbox.url + "api/phones/1/send", json={"text": "x"})).status == 404
    empty = await http.post(sandbox.url + f"api/phones/{CITIZEN_ID}/send", json={"text": " "})
    assert empty.status == 400
    long = await http.post(
        sandbox.url + f"api/phones/{CITIZEN_ID}/send", json={"text": "a" * 5000}
    )
    assert long.status == 400
    forged = await http.post(sandbox.url + f"api/phones/{CITIZEN_ID}/press", json={})
    assert forged.status == 400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_make_run_without_token_or_config_starts_the_sandbox(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """`python -m bot --config <missing file>` is what `make run` does on a fresh machine."""
    port = _free_port()
    env = {
        **os.environ,
        "ESSAIM_SANDBOX__PORT": str(port),
        "ESSAIM_SANDBOX__API_PORT": "0",
        "ESSAIM_DATABASE__PATH": str(tmp_path / "essaim.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("ESSAIM_TELEGRAM__TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(tmp_path / "no-such-config.toml"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    url = f"http://127.0.0.1:{port}/"
    try:
        output = b""
        while url.encode() not in output:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, f"sandbox exited early:\n{output.decode()}"
            output += line
        page = await http.get(url)
        assert page.status == 200
        sent = await http.post(url + f"api/phones/{CITIZEN_ID}/send", json={"text": "/start"})
        assert sent.status == 200

        async def consent_shown() -> bool:
            screen = await (await http.get(url + f"api/phones/{CITIZEN_ID}")).json()
            return any(["J'accepte"] in m["buttons"] for m in screen["messages"])

        for _ in range(200):
            if await consent_shown():
                break
            await asyncio.sleep(0.05)
        assert await consent_shown()
        assert (tmp_path / "sandbox.sqlite3").exists()
        assert not (tmp_path / "essaim.sqlite3").exists()  # the real database is untouched
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0


async def test_the_seeded_circle_joins_two_phones(sandbox: Sandbox) -> None:
    yanis = sandbox.server.user(AMBASSADOR_ID)
    sophie = sandbox.server.user(TECHNICIAN_ID)
    await yanis.send("/cercles")
    await yanis.receive(contains="Jardin partagé du quartier")
    await yanis.press("💬 Jardin partagé du quartier")
    await yanis.press("✍️ Écrire au cercle")
    await yanis.receive(contains="Écrivez votre message")
    await yanis.send("Bienvenue dans le cercle !")
    got = await sophie.receive(contains="Bienvenue dans le cercle")
    assert "Yanis" in got.text and "Jardin partagé du quartier" in got.text
