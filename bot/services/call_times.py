"""When volunteers are reminded of a call: a few hours before, inside the day window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def reminder_times(
    event_at: datetime,
    hours: Sequence[int],
    now: datetime,
    zone: ZoneInfo,
    day_start: time,
    day_end: time,
) -> list[datetime]:
    """When to remind volunteers: `hours` before the event, moved into the day window.

    Too early in the morning moves to that morning's start if still before the event, else
    to the evening before; too late moves back to that evening. Never after the event;
    reminders already in the past are dropped.
    """
    found: set[datetime] = set()
    for h in hours:
        due = (event_at - timedelta(hours=h)).astimezone(zone)
        if due.time() < day_start:
            morning = datetime.combine(due.date(), day_start, tzinfo=zone)
            if morning < event_at:
                due = morning
            else:
                due = datetime.combine(due.date() - timedelta(days=1), day_end, tzinfo=zone)
        elif due.time() > day_end:
            due = datetime.combine(due.date(), day_end, tzinfo=zone)
        utc = due.astimezone(now.tzinfo)
        if now < utc < event_at:
            found.add(utc)
    return sorted(found)
