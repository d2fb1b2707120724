"""The pair matcher: worked examples, then properties checked on generated regions."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.matching import (
    CitizenCandidate,
    MatchResult,
    Proposal,
    TechnicianCandidate,
    Unmatched,
    UnmatchedReason,
    match,
    qualifies,
)


def citizen(
    member_id: int, territory: str | None, themes: str, waiting_since: int = 0
) -> CitizenCandidate:
    return CitizenCandidate(member_id, territory, frozenset(themes.split()), waiting_since)


def technician(
    member_id: int, territories: str, themes: str, capacity: int = 3, load: int = 0
) -> TechnicianCandidate:
    return TechnicianCandidate(
        member_id, frozenset(territories.split()), frozenset(themes.split()), capacity, load
    )


def pairs(result: MatchResult) -> dict[int, int]:
    return {p.citizen_id: p.technician_id for p in result.proposals}


# -- examples --------------------------------------------------------------------------


def test_more_shared_themes_beat_a_lighter_load() -> None:
    result = match(
        [citizen(1, "herault", "potager compost")],
        [
            technician(10, "herault", "potager", load=0),
            technician(11, "herault", "potager compost", load=2),
        ],
    )
    assert result.proposals == [Proposal(1, 11, True, ("compost", "potager"))]


def test_lighter_relative_load_then_smaller_id_break_ties() -> None:
    technicians = [
        technician(30, "gard", "potager", capacity=4, load=2),  # half full
        technician(20, "gard", "potager", capacity=10, load=3),  # 30 %
        technician(10, "gard", "potager", capacity=10, load=3),  # 30 %, smaller id
    ]
    result = match([citizen(i, "gard", "potager", i) for i in range(1, 5)], technicians)
    # 10 (3/10) -> 20 (3/10) -> 10 (4/10) -> 20 (4/10); 30 stays at 2/4 until 10 and 20 pass it.
    assert [p.technician_id for p in result.proposals] == [10, 20, 10, 20]


def test_relative_load_counts_this_runs_proposals() -> None:
    result = match(
        [citizen(i, "aude", "haies", i) for i in range(1, 4)],
        [technician(1, "aude", "haies", capacity=2), technician(2, "aude", "haies", capacity=4)],
    )
    assert [p.technician_id for p in result.proposals] == [1, 2, 2]


def test_oldest_citizen_is_served_first_when_capacity_is_short() -> None:
    result = match(
        [citizen(1, "lot", "mare", waiting_since=50), citizen(2, "lot", "mare", waiting_since=10)],
        [technician(9, "lot", "mare", capacity=1)],
    )
    assert pairs(result) == {2: 9}
    assert result.unmatched == [Unmatched(1, UnmatchedReason.ALL_FULL)]


def test_territory_must_be_covered_and_a_theme_shared() -> None:
    result = match(
        [
            citizen(1, "tarn", "potager"),  # technician of another territory only
            citizen(2, "gers", "verger"),  # right territory, no shared theme
            citizen(3, "gers", "potager", 1),
        ],
        [technician(9, "gers", "potager")],
    )
    assert pairs(result) == {3: 9}
    assert result.unmatched == [
        Unmatched(1, UnmatchedReason.NO_TECHNICIAN),
        Unmatched(2, UnmatchedReason.NO_TECHNICIAN),
    ]


def test_all_full_when_qualifying_technicians_have_no_room() -> None:
    result = match(
        [citizen(1, "ariege", "compost")],
        [
            technician(9, "ariege", "compost", capacity=2, load=2),
            technician(8, "ariege", "compost", capacity=0, load=0),
            technician(7, "lozere", "compost", capacity=5, load=0),
        ],
    )
    assert result.unmatched == [Unmatched(1, UnmatchedReason.ALL_FULL)]
    assert result.proposals == []


@pytest.mark.parametrize("territory", [None, "autre"])
def test_citizen_without_territory_gets_any_technician_but_not_same_territory(
    territory: str | None,
) -> None:
    result = match(
        [citizen(1, territory, "potager")],
        [technician(9, "aveyron", "potager"), technician(8, "autre", "verger")],
    )
    assert result.proposals == [Proposal(1, 9, False, ("potager",))]


def test_citizen_without_themes_has_no_technician() -> None:
    result = match([citizen(1, "gard", "")], [technician(9, "gard", "potager")])
    assert result.unmatched == [Unmatched(1, UnmatchedReason.NO_TECHNICIAN)]


def test_a_technician_covering_several_territories_shares_one_capacity() -> None:
    result = match(
        [citizen(1, "gard", "mare", 1), citizen(2, "herault", "mare", 2)],
        [technician(9, "gard herault", "mare", capacity=1)],
    )
    assert pairs(result) == {1: 9}
    assert result.unmatched == [Unmatched(2, UnmatchedReason.ALL_FULL)]


def test_duplicate_ids_and_negative_capacity_are_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        match([citizen(1, "gard", "mare"), citizen(1, "gard", "mare")], [])
    with pytest.raises(ValueError, match="negative"):
        match([], [technician(9, "gard", "mare", capacity=-1)])


def test_same_result_whatever_the_input_order() -> None:
    rng = random.Random(7)
    citizens, technicians = region(rng, n_citizens=400, n_technicians=100)
    expected = match(citizens, technicians)
    assert len(expected.proposals) > 50 and expected.unmatched  # a contested region
    for _ in range(5):
        rng.shuffle(citizens)
        rng.shuffle(technicians)
        assert match(citizens, technicians) == expected


# -- reference and generators ----------------------------------------------------------

TERRITORIES = ["ariege", "aude", "gard", "gers", "herault", "lot"]
THEMES = ["compost", "haies", "mare", "potager", "semences", "verger"]


def region(
    rng: random.Random, n_citizens: int, n_technicians: int
) -> tuple[list[CitizenCandidate], list[TechnicianCandidate]]:
    citizens = [
        CitizenCandidate(
            member_id=i,
            territory=rng.choice([*TERRITORIES, None, "autre"]),
            themes=frozenset(rng.sample(THEMES, rng.randint(1, 3))),
            waiting_since=rng.randint(0, 50),
        )
        for i in range(n_citizens)
    ]
    technicians = [
        TechnicianCandidate(
            member_id=1000 + i,
            territories=frozenset(rng.sample(TERRITORIES, rng.randint(1, 2))),
            themes=frozenset(rng.sample(THEMES, rng.randint(1, 4))),
            capacity=rng.randint(0, 5),
            load=rng.randint(0, 4),
        )
        for i in range(n_technicians)
    ]
    return citizens, technicians


def reference_match(
    citizens: Sequence[CitizenCandidate], technicians: Sequence[TechnicianCandidate]
) -> list[tuple[int, int]]:
    """The rules written as plainly as possible: scan every technician for every citizen."""
    assigned = {t.member_id: t.load for t in technicians}
    result = []
    for c in sorted(citizens, key=lambda c: (c.waiting_since, c.member_id)):
        free = [t for t in technicians if qualifies(c, t) and assigned[t.member_id] < t.capacity]
        if free:
            best = min(
                free,
                key=lambda t: (
                    -len(c.themes & t.themes),
                    assigned[t.member_id] / t.capacity,
                    t.member_id,
                ),
            )
            assigned[best.member_id] += 1
            result.append((c.member_id, best.member_id))
    return result


citizen_strategy = st.builds(
    CitizenCandidate,
    member_id=st.integers(0, 10_000),
    territory=st.sampled_from([*TERRITORIES[:3], None, "autre"]),
    themes=st.frozensets(st.sampled_from(THEMES), max_size=4),
    waiting_since=st.integers(0, 5),
)
technician_strategy = st.builds(
    TechnicianCandidate,
    member_id=st.integers(0, 10_000),
    territories=st.frozensets(st.sampled_from(TERRITORIES[:4]), max_size=2),
    themes=st.frozensets(st.sampled_from(THEMES), max_size=5),
    capacity=st.integers(0, 3),
    load=st.integers(0, 3),
)
inputs = st.tuples(
    st.lists(citizen_strategy, max_size=40, unique_by=lambda c: c.member_id),
    st.lists(technician_strategy, max_size=12, unique_by=lambda t: t.member_id),
)


# -- properties ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(inputs)
def test_invariants(data: tuple[list[CitizenCandidate], list[TechnicianCandidate]]) -> None:
    citizens, technicians = data
    result = match(citizens, technicians)
    by_citizen = {c.member_id: c for c in citizens}
    by_technician = {t.member_id: t for t in technicians}

    # Each citizen appears exactly once, either proposed or unmatched.
    reported = [p.citizen_id for p in result.proposals] + [u.citizen_id for u in result.unmatched]
    assert sorted(reported) == sorted(by_citizen)

    # Every proposal is qualified and describes the pair truthfully.
    for p in result.proposals:
        c, t = by_citizen[p.citizen_id], by_technician[p.technician_id]
        assert qualifies(c, t)
        assert p.shared_themes == tuple(sorted(c.themes & t.themes))
        assert p.same_territory == (c.territory not in (None, "autre"))

    # Capacity is never exceeded.
    final = {t.member_id: t.load for t in technicians}
    final.update(
        (tid, by_technician[tid].load + n)
        for tid, n in Counter(p.technician_id for p in result.proposals).items()
    )
    for t in technicians:
        if final[t.member_id] > t.load:
            assert final[t.member_id] <= t.capacity

    # Reasons are true at the end, and nobody left out could still have been served.
    for u in result.unmatched:
        c = by_citizen[u.citizen_id]
        qualifying = [t for t in technicians if qualifies(c, t)]
        if u.reason is UnmatchedReason.NO_TECHNICIAN:
            assert qualifying == []
        else:
            assert qualifying
        assert all(final[t.member_id] >= t.capacity for t in qualifying)


@settings(max_examples=300, deadline=None)
@given(inputs)
def test_agrees_with_the_plain_scan(
    data: tuple[list[CitizenCandidate], list[TechnicianCandidate]],
) -> None:
    citizens, technicians = data
    result = match(citizens, technicians)
    assert [(p.citizen_id, p.technician_id) for p in result.proposals] == reference_match(
        citizens, technicians
    )


@settings(max_examples=100, deadline=None)
@given(inputs, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(
    data: tuple[list[CitizenCandidate], list[TechnicianCandidate]], rng: random.Random
) -> None:
    citizens, technicians = data
    expected = match(citizens, technicians)
    rng.shuffle(citizens)
    rng.shuffle(technicians)
    assert match(citizens, technicians) == expected


def test_agrees_with_the_plain_scan_on_a_larger_region() -> None:
    citizens, technicians = region(random.Random(11), n_citizens=1500, n_technicians=150)
    result = match(citizens, technicians)
    assert [(p.citizen_id, p.technician_id) for p in result.proposals] == reference_match(
        citizens, technicians
    )
