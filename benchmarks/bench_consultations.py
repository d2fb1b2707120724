"""Consultations at scale (issue 19), in two phases, against the fake Bot API server in its
own process (30 msg/s overall, 1 msg/s per chat, 80 ms per request, as Telegram):

1. delivery: a consultation to N members (10,000), achieved rate / limit (goal >= 0.97),
   and against a baseline measured in the same run: a call for help to the same kind of
   audience through the same outbox and dispatcher (the ratio should be about 1: nothing
   about delivery is written twice);
2. a storm: M of them (3,000) answer its 3 questions, CONCURRENCY people at every moment,
   generated inside the server's process (`/_control/answer_storm`): answers stored per
   second, answers lost (goal 0), results exactly equal to what was pressed, p99 of the
   callback answer to each press (goal < 1 s), and the time until every next question has
   been delivered against its bound: each next question is a message (the first one new,
   the others edits) within the same 30/s, so 4 messages per person / 30 per second.

Median of the rounds (`BENCH_ROUNDS`, default 3 with --quick, 1 at full size: a full round
takes about 15 minutes at 30 msg/s).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_calls import start_call
from benchmarks.common import (
    RunningBot,
    ServerProcess,
    bench_settings,
    median,
    percentile,
    rate_of,
    seeded_database,
)

FIRST_ID = 200_000
LIMIT = 30
CONCURRENCY = 50
"""People in the middle of answering at any moment (each waits for their next question)."""
STEPS = [["Répondre"], ["Lundi", "Mardi"], ["Compost", "Numérique", "Cuisine"], ["Salle", "Web"]]
MESSAGES_PER_PERSON = len(STEPS)
"""Répondre -> question 1 (a message); each answer -> the next question or the thanks (edits)."""


async def publish_consultation(services: Any) -> int:
    """A 3-question consultation to everyone, through the method /consulter ends with."""
    from storage.consultations import NewConsultation, Question

    questions = [
        Question(text=f"Question {n}", options=step) for n, step in enumerate(STEPS[1:], start=1)
    ]
    new = NewConsultation(
        coordinator_id=1,
        title="Nos besoins de formation",
        intro="Aidez-nous à choisir les ateliers de l'année.",
        questions=questions,
        closes_at=services.clock.now() + timedelta(days=2),
    )
    stored = await services.consultations.publish(new)
    return int(stored.id)


async def _delivered(server: ServerProcess, n: int) -> dict[str, Any]:
    deadline = time.monotonic() + n / LIMIT * 3 + 60
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        # In a thread: a blocking call would stall the bot's own event loop.
        stats = await asyncio.to_thread(server.get, "stats")
        if stats["unique_recipients"] >= n + 1:  # the members and the coordinator's summary
            break
        await asyncio.sleep(0.5)
    return stats


def _expected(members: range) -> list[list[int]]:
    """Per question, how many pressed each option (user u presses step[u % len(step)])."""
    counts = [[0] * len(step) for step in STEPS[1:]]
    for uid in members:
        for question, step in enumerate(STEPS[1:]):
            counts[question][uid % len(step)] += 1
    return counts


async def consultation_round(n: int, m: int, workdir: Path) -> dict[str, Any]:
    recipients = range(FIRST_ID, FIRST_ID + n)
    db_path = workdir / "consultation.sqlite3"
    db_path.unlink(missing_ok=True)
    await seeded_database(db_path, recipients)
    with ServerProcess(global_per_second=LIMIT, per_chat_per_second=1, latency=0.08) as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        settings = bench_settings(server, db_path, max_in_flight=64)
        async with RunningBot(settings) as bot:
            server.reset()
            consultation_id = await publish_consultation(bot.services)
            stats = await _delivered(server, n)
            delivery = {"rate": rate_of(stats), "stats": stats}
            server.reset()
            storm = await server.apost(
                "answer_storm",
                {"users": [FIRST_ID, FIRST_ID + m], "steps": STEPS, "concurrency": CONCURRENCY},
                timeout=m * MESSAGES_PER_PERSON / LIMIT * 4 + 300,
            )
            storm_stats = await asyncio.to_thread(server.get, "stats")
            services = bot.services
            consultation = await services.consultations.repo.get(consultation_id)
            rows = await services.consultations.repo.all_answers(consultation_id)
            results = await services.consultations.engine.results(consultation)
    storm_members = range(FIRST_ID, FIRST_ID + m)
    return {
        "delivery": delivery,
        "storm": storm,
        "storm_stats": storm_stats,
        "stored": len(rows),
        "exact": [q.counts for q in results.questions] == _expected(storm_members),
        "respondents": results.respondents,
    }


async def call_round(n: int, workdir: Path) -> float:
    """The baseline: a call for help to n members, the same outbox and dispatcher."""
    recipients = range(FIRST_ID, FIRST_ID + n)
    db_path = workdir / "call.sqlite3"
    db_path.unlink(missing_ok=True)
    await seeded_database(db_path, recipients)
    with ServerProcess(global_per_second=LIMIT, per_chat_per_second=1, latency=0.08) as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        async with RunningBot(bench_settings(server, db_path, max_in_flight=64)) as bot:
            server.reset()
            await start_call(bot.services)
            return rate_of(await _delivered(server, n))


def run(quick: bool = False) -> list[str]:
    n, m = (1_000, 300) if quick else (10_000, 3_000)
    rounds = int(os.environ.get("BENCH_ROUNDS", 3 if quick else 1))
    baseline_n = min(n, 3_000)
    ours: list[dict[str, Any]] = []
    calls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):  # interleaved, so that a noisy minute hits both
            ours.append(asyncio.run(consultation_round(n, m, Path(tmp))))
            calls.append(asyncio.run(call_round(baseline_n, Path(tmp))))
    rate = median(r["delivery"]["rate"] for r in ours)
    call_rate = median(calls)
    expected_answers = m * (len(STEPS) - 1)
    answers_per_second = median(
        r["stored"] / r["storm"]["seconds"] for r in ours if r["storm"]["seconds"]
    )
    p99 = median(percentile(r["storm"]["answer_latencies"], 0.99) for r in ours)
    p50 = median(percentile(r["storm"]["answer_latencies"], 0.5) for r in ours)
    screen_p99 = median(percentile(r["storm"]["screen_latencies"], 0.99) for r in ours)
    seconds = median(r["storm"]["seconds"] for r in ours)
    bound = m * MESSAGES_PER_PERSON / LIMIT
    lost = max(expected_answers - r["stored"] for r in ours)
    failed = max(len(r["storm"]["failed_users"]) for r in ours)
    exact = all(r["exact"] for r in ours)
    too_many = max(r["delivery"]["stats"]["too_many_requests"] for r in ours)
    return [
        f"consultations.delivery n={n} limit={LIMIT}/s  rate/limit={rate / LIMIT:.3f} "
        f"(target>=0.97)  vs call for help (n={baseline_n}, same run)="
        f"{rate / call_rate if call_rate else float('nan'):.2f}  429s={too_many}  "
        f"(median of {rounds})",
        f"consultations.storm m={m} x {len(STEPS) - 1} questions, {CONCURRENCY} people at once: "
        f"answers stored={answers_per_second:.1f}/s  lost={lost} (target 0)  "
        f"people failed={failed}  results exact={exact}  (median of {rounds})",
        f"consultations.press_answer p50={p50:.3f}s p99={p99:.3f}s (target p99<1s); "
        f"next screen p99={screen_p99:.2f}s",
        f"consultations.next_questions all delivered in {seconds:.0f}s against a bound of "
        f"{bound:.0f}s ({m} people x {MESSAGES_PER_PERSON} messages / {LIMIT} per s): "
        f"bound/achieved={bound / seconds if seconds else float('nan'):.2f} (1.00 = at the limit)",
    ]
