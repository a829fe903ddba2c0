"""Resolve the deadline a bot states ("within 2 hours", "by the end of tomorrow", "in 3-5 business days").

Ranges resolve to their latest bound: a commitment is broken only once its most generous reading has
passed. Hours and minutes give an ISO datetime; days, weeks and named days give an ISO date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14, "twenty": 20, "thirty": 30,
    "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "siete": 7, "diez": 10,
}  # fmt: skip
_QUANTITY = r"\d+|" + "|".join(_NUMBER_WORDS)

_DURATION = re.compile(
    rf"""
    (?:\b(?:within|in|under|up\s+to|en|dentro\s+de|de)\s+(?:the\s+next\s+|los\s+pr[oó]ximos\s+)?)?
    \b(?P<lo>{_QUANTITY})
    (?:\s*(?:-|–|to|or|a|y)\s*(?P<hi>\d+|{_QUANTITY}))?
    \s*(?P<unit>
        business\s+days?|working\s+days?|d[ií]as\s+(?:h[aá]biles|laborables)
      | minutes?|mins?|minutos?
      | hours?|hrs?|h(?=\b)|horas?
      | days?|d[ií]as?
      | weeks?|semanas?
    )\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WITHIN_THE_HOUR = re.compile(r"\bwithin\s+(?:the|an|the\s+next)\s+hour\b", re.IGNORECASE)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_CLOCK = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?"
_NAMED_DAY = re.compile(
    rf"""
    \b(?:by|before|on|until|no\s+later\s+than|para|antes\s+del?|el)?\s*
    (?:(?:the\s+)?end\s+of\s+(?:the\s+)?|close\s+of\s+(?:business\s+)?)?
    (?:(?P<clock1>{_CLOCK.replace("(?P<", "(?P<a_")})\s+)?
    (?P<day>
        today|tonight|later\s+today|tomorrow|ma[ñn]ana(?!\s+por)|hoy|(?<=end\sof\s)day|(?<=end\sof\sthe\s)day|eod|cob
      | next\s+week|(?:this|the)\s+week|la\s+semana\s+que\s+viene|la\s+pr[oó]xima\s+semana
      | {"|".join(_WEEKDAYS)}|{"|".join(_WEEKDAYS_ES)}
    )\b
    (?:\s+(?:at|by|before|a\s+las)\s+{_CLOCK})?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_EXPLICIT_DATE = re.compile(
    r"""
    \b(?P<iso>\d{4}-\d{2}-\d{2})\b
    | \b(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b
    | \b(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


def parse_at(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _iso_datetime(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _quantity(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS.get(token.lower(), 1)


def _from_duration(m: re.Match[str], now: datetime) -> str:
    amount = _quantity(m.group("hi") or m.group("lo"))
    unit = m.group("unit").lower()
    if unit.startswith(("min",)):
        return _iso_datetime(now + timedelta(minutes=amount))
    if unit.startswith(("hour", "hr", "hora")) or unit == "h":
        return _iso_datetime(now + timedelta(hours=amount))
    if (
        "business" in unit
        or "working" in unit
        or "hábiles" in unit
        or "habiles" in unit
        or "laborables" in unit
    ):
        return _add_business_days(now.date(), amount).isoformat()
    if unit.startswith(("week", "semana")):
        return (now.date() + timedelta(weeks=amount)).isoformat()
    return (now.date() + timedelta(days=amount)).isoformat()


def _clock(m: re.Match[str], prefix: str = "") -> time | None:
    hour = m.group(f"{prefix}hour")
    if hour is None:
        return None
    h = int(hour)
    minute = int(m.group(f"{prefix}minute") or 0)
    ampm = (m.group(f"{prefix}ampm") or "").replace(".", "").lower()
    if ampm == "pm" and h < 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    if not ampm and ":" not in m.group(0) and h <= 12:
        # A bare number before "tomorrow" is rarely a clock time ("2 tomorrow" is unusual): ignore.
        return None
    return time(h % 24, minute) if h < 24 and minute < 60 else None


def _named_day(word: str, today: date) -> date | None:
    word = word.lower()
    if word in ("today", "tonight", "later today", "hoy", "day", "eod", "cob"):
        return today
    if word in ("tomorrow", "mañana", "manana"):
        return today + timedelta(days=1)
    if word.endswith("week") or "semana" in word:
        days_to_sunday = 6 - today.weekday()
        this_sunday = today + timedelta(days=days_to_sunday)
        return this_sunday + timedelta(days=7) if word.startswith(("next", "la")) else this_sunday
    for names in (_WEEKDAYS, _WEEKDAYS_ES):
        if word in names:
            ahead = (names.index(word) - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _explicit(m: re.Match[str], today: date) -> str | None:
    if m.group("iso"):
        return m.group("iso")
    month = (m.group("month") or m.group("month2")).lower()[:3]
    day = int(m.group("day") or m.group("day2"))
    try:
        candidate = date(today.year, _MONTHS.index(month) + 1, day)
    except ValueError:
        return None
    # "December 3" said in November is this year; "March 3" said in November is next year.
    if candidate < today - timedelta(days=30):
        candidate = candidate.replace(year=today.year + 1)
    return candidate.isoformat()


def mentions_deadline(text: str) -> bool:
    """Whether the text states any time bound at all (no clock needed)."""
    patterns = (_WITHIN_THE_HOUR, _EXPLICIT_DATE, _DURATION, _NAMED_DAY)
    return any(p.search(text) for p in patterns)


def resolve_due(text: str, at: str) -> str | None:
    """The latest moment the text promises something by, or None when it states no time."""
    now = parse_at(at)
    if now is None:
        return None
    if _WITHIN_THE_HOUR.search(text):
        return _iso_datetime(now + timedelta(hours=1))
    explicit = _EXPLICIT_DATE.search(text)
    if explicit:
        return _explicit(explicit, now.date())
    duration = _DURATION.search(text)
    if duration:
        return _from_duration(duration, now)
    named = _NAMED_DAY.search(text)
    if named:
        day = _named_day(" ".join(named.group("day").split()), now.date())
        if day is None:
            return None
        clock = _clock(named) or _clock(named, "a_")
        if clock is not None:
            return _iso_datetime(datetime.combine(day, clock, tzinfo=now.tzinfo))
        return day.isoformat()
    return None
