"""Dates and times as people type them on a phone, read in the deployment's time zone.

Accepted, in French and English: "samedi 10h", "samedi prochain 10h", "ce soir" (19 h),
"ce soir 20h", "14h30" (today, or tomorrow once passed), "le 12 à 14h", "12 décembre 10h",
"demain 9h", "après-demain 18h", "aujourd'hui 18h", "25/12 14h30", "25/12/2026 14:30",
"midi", "saturday 10am". A weekday or a day of the month means the next one to come. A day
without an hour is not a time: the caller says which forms work.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = {
    **dict.fromkeys(("lundi", "lun", "monday", "mon"), 0),
    **dict.fromkeys(("mardi", "mar", "tuesday", "tue"), 1),
    **dict.fromkeys(("mercredi", "mer", "wednesday", "wed"), 2),
    **dict.fromkeys(("jeudi", "jeu", "thursday", "thu"), 3),
    **dict.fromkeys(("vendredi", "ven", "friday", "fri"), 4),
    **dict.fromkeys(("samedi", "sam", "saturday", "sat"), 5),
    **dict.fromkeys(("dimanche", "dim", "sunday", "sun"), 6),
}
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("janvier", "janv", "january", "jan"),
            ("fevrier", "fevr", "fev", "february", "feb"),
            ("mars", "march", "mar"),
            ("avril", "avr", "april", "apr"),
            ("mai", "may"),
            ("juin", "june", "jun"),
            ("juillet", "juil", "july", "jul"),
            ("aout", "august", "aug"),
            ("septembre", "sept", "sep", "september"),
            ("octobre", "oct", "october"),
            ("novembre", "nov", "november"),
            ("decembre", "dec", "december"),
        ),
        start=1,
    )
    for name in names
}
RELATIVE = {
    "aujourd'hui": 0,
    "auj": 0,
    "today": 0,
    "ce soir": 0,
    "tonight": 0,
    "demain": 1,
    "tomorrow": 1,
    "apres-demain": 2,
    "apres demain": 2,
}
EVENING = time(19, 0)

_TIME = re.compile(
    r"(?:^|\s)(?:a|at|vers|,)?\s*(?:(?P<H>\d{1,2})\s*(?:h|:|heures?)\s*(?P<M>\d{2})?"
    r"|(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<ampm>am|pm)|(?P<noon>midi|noon))\s*$"
)
_NUMERIC = re.compile(r"^(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})(?:[/.-](?P<y>\d{2}|\d{4}))?$")
_DAY_MONTH = re.compile(
    r"^(?:le\s+|the\s+)?(?P<d>\d{1,2})(?:er)?(?:\s+(?P<mon>[a-z]+)\.?)?(?:\s+(?P<y>\d{4}))?$"
)


def _plain(text: str) -> str:
    """Lower case, without accents, one kind of apostrophe, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("’", "'"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(bare.replace(",", " , ").split()).replace(" ,", ",").strip(" ,")


def _hour(match: re.Match[str]) -> time | None:
    if match["noon"]:
        return time(12, 0)
    if match["ampm"]:
        hour, minute = int(match["h12"]), int(match["m12"] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        return time(hour % 12 + (12 if match["ampm"] == "pm" else 0), minute)
    hour, minute = int(match["H"]), int(match["M"] or 0)
    return time(hour, minute) if hour <= 23 and minute <= 59 else None


def parse_when(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A date and time typed by a person -> aware datetime (in `now`'s zone), or None.

    Without a year, a day already gone means the next one (next month, next year). A date
    typed in full may be in the past: the caller decides what to say about it.
    """
    plain = _plain(text)
    found = _TIME.search(plain)
    local_now = now.astimezone(zone)
    at: time | None = EVENING
    rest = plain
    if found is not None:
        at = _hour(found)
        rest = plain[: found.start()].strip(" ,")
    elif plain not in ("ce soir", "tonight"):
        return None
    if at is None:
        return None
    rest = re.sub(r"\s+(?:a|at|le|the)$", "", rest).strip(" ,.")
    day = _day(rest, local_now, at)
    if day is None:
        return None
    return datetime.combine(day, at, tzinfo=zone).astimezone(now.tzinfo)


def _day(rest: str, local_now: datetime, at: time) -> date | None:
    today = local_now.date()

    def ahead(candidate: date) -> bool:
        return datetime.combine(candidate, at, tzinfo=local_now.tzinfo) > local_now

    if not rest:
        return today if ahead(today) else today + timedelta(days=1)
    if rest in RELATIVE:
        return today + timedelta(days=RELATIVE[rest])
    words = rest.split()
    if words[0] in WEEKDAYS and (len(words) == 1 or words[1:] in (["prochain"], ["next"])):
        offset = (WEEKDAYS[words[0]] - today.weekday()) % 7
        candidate = today + timedelta(days=offset)
        return candidate if ahead(candidate) else candidate + timedelta(days=7)
    if words[0] in WEEKDAYS:  # "samedi 12 décembre": the date says it all
        rest = " ".join(words[1:])
    numeric = _NUMERIC.match(rest)
    if numeric:
        year = numeric["y"]
        return _date(
            int(year) + (2000 if year and len(year) == 2 else 0) if year else None,
            int(numeric["m"]),
            int(numeric["d"]),
            today,
        )
    spelled = _DAY_MONTH.match(rest)
    if spelled is None:
        return None
    day_number = int(spelled["d"])
    if spelled["mon"]:
        month = MONTHS.get(spelled["mon"])
        if month is None:
            return None
        return _date(int(spelled["y"]) if spelled["y"] else None, month, day_number, today)
    # "le 12": this month's, or the next month that has one, once it has passed.
    for months_ahead in range(0, 13):
        month_index = today.month - 1 + months_ahead
        year, month = today.year + month_index // 12, month_index % 12 + 1
        try:
            candidate = date(year, month, day_number)
        except ValueError:
            continue
        if ahead(candidate):
            return candidate
    return None


def _date(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        if candidate < today:
            candidate = date(today.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def day_without_hour(text: str, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the text names a day but no hour ("samedi", "le 12"): say the hour is missing."""
    return parse_when(text, now, zone) is None and parse_when(f"{text} 12h", now, zone) is not None


_SPOKEN_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_SPOKEN_MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def spoken(instant: datetime, zone: ZoneInfo, lang: str) -> str:
    """A date as people say it, with its weekday: "samedi 2 décembre, 10 h" (French, the
    clear-language way to write hours), "Saturday 2 December, 10:00" (English)."""
    local = instant.astimezone(zone)
    code = lang if lang in _SPOKEN_DAYS else "fr"
    day = _SPOKEN_DAYS[code][local.weekday()]
    month = _SPOKEN_MONTHS[code][local.month - 1]
    if code == "fr":
        hour = f"{local.hour}\u00a0h" + (f"\u00a0{local.minute:02d}" if local.minute else "")
        first = "1er" if local.day == 1 else str(local.day)
        return f"{day} {first} {month}, {hour}"
    return f"{day} {local.day} {month}, {local.hour:02d}:{local.minute:02d}"
