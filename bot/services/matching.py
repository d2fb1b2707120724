"""Pair matching for the "double jardinier" method: one citizen gardener, one technician.

Pure and synchronous on purpose: the coordinator's screen, the scheduler and the tests all
call it with plain values, and a run over a whole region must stay well under a second.

Rules (greedy, citizens served oldest first, then by member id):

- A technician *qualifies* for a citizen when they share at least one theme and the
  technician covers the citizen's territory. A citizen without a territory (None or
  ``"autre"``) can be paired with any technician sharing a theme; such a pair never counts
  as ``same_territory``, because nothing says they can meet in person.
- Among qualifying technicians with free capacity, the preferred one shares the most
  themes, then has the lightest relative load (current pairs plus proposals of this run,
  over capacity), then the smallest member id, so the result does not depend on input order.
- Capacity is never exceeded: ``load + proposals <= capacity``.

How it stays fast without scanning every technician for every citizen: themes become bits,
and the technicians covering a territory are grouped by their exact set of themes (their
"profile"), each group a heap ordered by (relative load, member id). A citizen's number of
shared themes with a whole group is one popcount, so the search looks at each profile of the
territory once and at the heap top of the profiles sharing the most themes: the cost per
citizen is the number of distinct profiles in the territory, which is bounded both by the
technicians there and by 2**themes, and is small when everyone ticks the same themes.
(Heaps per single theme would not do: the technician sharing the most themes need not be at
the top of any of them.) Heaps are updated lazily: an entry whose load changed is re-keyed
when it reaches the top (loads only grow during a run), and a full technician is dropped
for good; a profile left without free capacity leaves the territory's list.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from storage.members import OTHER_TERRITORY

"""The onboarding answer of a citizen who is in none of the listed territories."""


class UnmatchedReason(StrEnum):
    NO_TECHNICIAN = "no_technician"
    """No technician shares a theme with the citizen and covers their territory."""
    ALL_FULL = "all_full"
    """Some technicians qualify, but all of them are at capacity."""


@dataclass(frozen=True, slots=True)
class CitizenCandidate:
    member_id: int
    territory: str | None
    themes: frozenset[str]
    waiting_since: datetime | int
    """Ordering key: use datetimes (all aware or all naive) or ints, not a mix."""


@dataclass(frozen=True, slots=True)
class TechnicianCandidate:
    member_id: int
    territories: frozenset[str]
    themes: frozenset[str]
    capacity: int
    load: int
    """Active pairs before this run."""


@dataclass(frozen=True, slots=True)
class Proposal:
    citizen_id: int
    technician_id: int
    same_territory: bool
    shared_themes: tuple[str, ...]
    """Sorted, so that the proposal reads the same on every run."""


@dataclass(frozen=True, slots=True)
class Unmatched:
    citizen_id: int
    reason: UnmatchedReason


@dataclass(frozen=True, slots=True)
class MatchResult:
    proposals: list[Proposal] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


def has_territory(citizen: CitizenCandidate) -> bool:
    """Whether the citizen named a real territory (so only its technicians qualify)."""
    return citizen.territory is not None and citizen.territory != OTHER_TERRITORY


def qualifies(citizen: CitizenCandidate, technician: TechnicianCandidate) -> bool:
    """The static rule, capacity aside; the matcher's index must agree with it."""
    if not citizen.themes & technician.themes:
        return False
    return not has_territory(citizen) or citizen.territory in technician.territories


def match(
    citizens: Iterable[CitizenCandidate], technicians: Iterable[TechnicianCandidate]
) -> MatchResult:
    """Propose at most one technician per citizen; see the module docstring for the rules.

    Raises ValueError on duplicate member ids or negative capacity/load: the caller built
    the input from the database, so either is a bug worth stopping for.
    """
    citizen_list = sorted(citizens, key=lambda c: (c.waiting_since, c.member_id))
    technician_list = sorted(technicians, key=lambda t: t.member_id)
    _check_unique(c.member_id for c in citizen_list)
    _check_unique(t.member_id for t in technician_list)
    for technician in technician_list:
        if technician.capacity < 0 or technician.load < 0:
            raise ValueError(f"technician {technician.member_id}: negative capacity or load")

    index = _Index(citizen_list, technician_list)
    result = MatchResult()
    for citizen in citizen_list:
        territory = citizen.territory if has_territory(citizen) else None
        mask = index.mask_of(citizen.themes)
        chosen = index.best(territory, mask)
        if chosen is None:
            reason = (
                UnmatchedReason.ALL_FULL
                if index.anyone_qualifies(territory, mask)
                else UnmatchedReason.NO_TECHNICIAN
            )
            result.unmatched.append(Unmatched(citizen.member_id, reason))
            continue
        index.assign(chosen)
        technician = technician_list[chosen]
        result.proposals.append(
            Proposal(
                citizen_id=citizen.member_id,
                technician_id=technician.member_id,
                same_territory=territory is not None,
                shared_themes=tuple(sorted(citizen.themes & technician.themes)),
            )
        )
    return result


def _check_unique(ids: Iterable[int]) -> None:
    seen: set[int] = set()
    for member_id in ids:
        if member_id in seen:
            raise ValueError(f"member {member_id} appears twice")
        seen.add(member_id)


# A heap entry: (relative load, member id, technician index, assigned count when pushed).
_Entry = tuple[float, int, int, int]


class _Index:
    """Profiles of technicians with free capacity, per territory (None: any territory)."""

    def __init__(
        self, citizens: Sequence[CitizenCandidate], technicians: Sequence[TechnicianCandidate]
    ) -> None:
        themes = sorted({theme for citizen in citizens for theme in citizen.themes})
        self._bit = {theme: 1 << position for position, theme in enumerate(themes)}
        self._ids = [t.member_id for t in technicians]
        self._capacity = [t.capacity for t in technicians]
        self._assigned = [t.load for t in technicians]
        self._qualifying: dict[str | None, int] = {}
        """Union of the themes of every technician per territory, full ones included."""
        self._profiles: dict[str | None, dict[int, list[_Entry]]] = {}
        for i, technician in enumerate(technicians):
            mask = self.mask_of(technician.themes)
            for territory in (None, *technician.territories):
                self._qualifying[territory] = self._qualifying.get(territory, 0) | mask
                if mask and self._assigned[i] < self._capacity[i]:
                    profiles = self._profiles.setdefault(territory, {})
                    profiles.setdefault(mask, []).append(self._entry(i))
        for profiles in self._profiles.values():
            for heap in profiles.values():
                heapq.heapify(heap)

    def mask_of(self, themes: frozenset[str]) -> int:
        mask = 0
        for theme in themes:
            mask |= self._bit.get(theme, 0)
        return mask

    def anyone_qualifies(self, territory: str | None, mask: int) -> bool:
        return bool(self._qualifying.get(territory, 0) & mask)

    def assign(self, i: int) -> None:
        self._assigned[i] += 1

    def best(self, territory: str | None, mask: int) -> int | None:
        """Index of the preferred technician with free capacity, or None."""
        profiles = self._profiles.get(territory, {})
        best_shared, best = 0, None
        exhausted = []
        for profile, heap in profiles.items():
            shared = (profile & mask).bit_count()
            if shared == 0 or shared < best_shared:
                continue
            top = self._top(heap)
            if top is None:
                exhausted.append(profile)
            elif shared > best_shared or best is None or top < best:
                best_shared, best = shared, top
        for profile in exhausted:
            del profiles[profile]
        return None if best is None else best[2]

    def _top(self, heap: list[_Entry]) -> _Entry | None:
        assigned, capacity = self._assigned, self._capacity
        while heap:
            entry = heap[0]
            i = entry[2]
            now = assigned[i]
            if now == entry[3]:
                return entry
            if now >= capacity[i]:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (now / capacity[i], entry[1], i, now))
        return None

    def _entry(self, i: int) -> _Entry:
        return (self._assigned[i] / self._capacity[i], self._ids[i], i, self._assigned[i])
