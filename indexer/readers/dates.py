"""Publication dates from the many shapes news data uses, always timezone-aware.

Contract of :func:`parse_date`: returns an aware :class:`~datetime.datetime` (UTC assumed when
the value carries no offset) or ``None`` when the value is empty or not recognisable; it never
raises. Recognised, in order:

1. ``datetime`` / ``date`` objects; numbers as Unix epoch seconds (milliseconds when > 1e11);
2. ISO 8601 / RFC 3339 (``2025-08-05``, ``2008-11-21 15:19:14``, ``2024-03-05T10:15:00Z``, ...);
3. RFC 2822 (``Tue, 05 Mar 2024 10:15:00 +0100``);
4. common day-first and month-name forms (``05.03.2024``, ``5. März 2024``, ``March 5, 2024``,
   ``5 March 2024``, ``2024/03/05``);
5. one of the forms of 4. or an ISO date embedded in prose, e.g. PolitiFact's
   ``"stated on October 7, 2019 in a Facebook post:"``.

Years outside 1800..2200 are treated as unrecognisable. Ambiguous US ``MM/DD/YYYY`` is not
guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

_MIN_YEAR, _MAX_YEAR = 1800, 2200

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        ("january", "jan", "januar", "jänner"),
        ("february", "feb", "februar"),
        ("march", "mar", "märz", "maerz", "mär"),
        ("april", "apr"),
        ("may", "mai"),
        ("june", "jun", "juni"),
        ("july", "jul", "juli"),
        ("august", "aug"),
        ("september", "sep", "sept"),
        ("october", "oct", "oktober", "okt"),
        ("november", "nov"),
        ("december", "dec", "dezember", "dez"),
    ],
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

_MONTH = r"(?P<month>[A-Za-zäÄ]{3,9})\.?"
_TIME = r"(?:[ T,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
_PATTERNS = [
    # 05.03.2024 [10:15[:00]]
    re.compile(r"(?P<day>\d{1,2})\.(?P<mnum>\d{1,2})\.(?P<year>\d{4})" + _TIME),
    # 2024/03/05
    re.compile(r"(?P<year>\d{4})/(?P<mnum>\d{1,2})/(?P<day>\d{1,2})" + _TIME),
    # March 5, 2024 / Mar. 5 2024
    re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})" + _TIME),
    # 5 March 2024 / 5. März 2024
    re.compile(r"(?P<day>\d{1,2})\.?\s+" + _MONTH + r"\s+(?P<year>\d{4})" + _TIME),
]
_ISO_EMBEDDED = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def _aware(value: datetime) -> datetime | None:
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value


def _from_match(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    if parts.get("mnum"):
        month: int | None = int(parts["mnum"])
    else:
        month = _MONTHS.get((parts.get("month") or "").lower())
    if month is None:
        return None
    try:
        return _aware(
            datetime(
                int(parts["year"]),
                month,
                int(parts["day"]),
                int(parts["hour"] or 0),
                int(parts["minute"] or 0),
                int(parts["second"] or 0),
            )
        )
    except ValueError:
        return None


def _parse_text(text: str) -> datetime | None:
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return _aware(datetime.fromisoformat(candidate))
    except ValueError:
        pass
    if "," in text or text[:3].isalpha():
        try:
            return _aware(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            pass
    for pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _from_match(match)
    return None


def _parse_embedded(text: str) -> datetime | None:
    iso = _ISO_EMBEDDED.search(text)
    if iso:
        found = _parse_text(iso.group(0))
        if found:
            return found
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found = _from_match(match)
            if found:
                return found
    return None


def parse_date(value: object) -> datetime | None:
    """Parse ``value`` into an aware datetime, or ``None`` (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return _aware(datetime(value.year, value.month, value.day))
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
        try:
            return _aware(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds))
        except (OverflowError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > 500:
        return None
    return _parse_text(text) or _parse_embedded(text)
