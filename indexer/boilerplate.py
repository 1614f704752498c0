"""Navigation boilerplate found in scraped news text (German and English), as pure string tests.

The chunker (:mod:`indexer.chunker`) asks three questions of each source line; all three are
deliberately conservative, so that real prose is never removed:

- :func:`is_nav_line` -- is the whole (short) line a navigation crumb such as
  ``Zurück zu den Nachrichten »``, ``Back to top``, ``Read more``, ``Advertisement``?
- :func:`nav_prefix_length` -- does the line *start* with a navigation phrase followed by a
  separator (``|``, ``»``, ``>``, U+203A ``\u203a``) glued to real text, as in
  ``Zurück zu Neuigkeiten |„Kasachstan ist unser …``? Returns how many characters to cut.
- :func:`widget_length` -- does a multi-line site widget start here? Only one is known: the
  PolitiFact "Featured Fact-check" teaser (``Featured Fact-check`` / speaker / ``stated on …`` /
  claim / ``By <author> • <date>``), present in nearly every article of that corpus.

The phrase lists below are the whole policy; extend them (not the code) for new sites.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Longest line (in characters) that :func:`is_nav_line` will consider.
MAX_NAV_LINE_CHARS = 80

#: Navigation phrases, as regular expressions over whitespace-normalised text (case-insensitive).
#: A line consisting of one of these (plus optional arrows/separators) is dropped; one of these
#: followed by a separator at the start of a line is cut off.
NAV_PHRASES: tuple[str, ...] = (
    # German
    r"zurück\s+zu[rm]?\s+(?:den\s+|der\s+|dem\s+)?"
    r"(?:neuigkeiten|nachrichten|news|übersicht|newsübersicht|artikelübersicht|startseite"
    r"|homepage|home|suche|suchergebnissen|seitenanfang|themenseite|liste|archiv|artikeln?)",
    r"weiterlesen",
    r"mehr\s+lesen",
    r"mehr\s+zum\s+thema",
    r"lesen\s+sie\s+(?:auch|mehr)",
    r"(?:artikel\s+)?teilen",
    r"anzeige",
    r"werbung",
    r"nach\s+oben",
    # English
    r"(?:back|return)\s+to\s+(?:the\s+)?"
    r"(?:news|top|home|homepage|articles?|list|search(?:\s+results)?|overview|index|stories"
    r"|all\s+news|main\s+menu)",
    r"read\s+more",
    r"continue\s+reading",
    r"featured\s+fact-check",
    r"share\s+(?:this|on\s+\w+)(?:\s+(?:article|story|post|page))?",
    r"share",
    r"advertisement",
    r"sponsored(?:\s+content)?",
    r"skip\s+to\s+(?:main\s+)?content",
)

#: Free-form "go back" links: ``Zurück zu …`` / ``Back to …`` / ``Return to …`` with at most
#: four further words. Only recognised when a separator follows (never as a bare line).
_GO_BACK = r"(?:zurück\s+zu[rm]?|back\s+to|return\s+to)(?:\s+[^\s|»\u203a>]+){1,4}"

_NAV = "(?:" + "|".join(NAV_PHRASES) + ")"
_SEPARATOR = r"[|»\u203a>]"
_DECORATION = r"[\s|»\u203a>:…→«\u2039<←-]*"

_NAV_LINE = re.compile(_DECORATION + _NAV + _DECORATION, re.IGNORECASE)
_GO_BACK_LINE = re.compile(_DECORATION + _GO_BACK + r"\s*" + _SEPARATOR + _DECORATION, re.I)
_NAV_PREFIX = re.compile(
    r"\s*(?:" + _NAV + "|" + _GO_BACK + r")\s*" + _SEPARATOR + r"+\s*", re.IGNORECASE
)

_WIDGET_START = re.compile(r"\s*featured\s+fact-check\s*", re.IGNORECASE)
_WIDGET_END = re.compile(r"\s*[Bb]y\s+.{1,80}\s+•\s+[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4}\s*")
#: Lines a widget may span after its first line (speaker, "stated on …", claim, byline).
_WIDGET_MAX_LINES = 6


def is_nav_line(line: str) -> bool:
    """True when the whole ``line`` is navigation boilerplate (short lines only)."""
    if len(line) > MAX_NAV_LINE_CHARS:
        return False
    return bool(_NAV_LINE.fullmatch(line) or _GO_BACK_LINE.fullmatch(line))


def nav_prefix_length(line: str) -> int:
    """Length of a navigation phrase + separator glued to the start of ``line``, else 0.

    Returns 0 as well when nothing but separators/whitespace would remain (that is a whole
    navigation line, for :func:`is_nav_line`).
    """
    match = _NAV_PREFIX.match(line)
    if match is None or not line[match.end() :].strip():
        return 0
    return match.end()


def widget_length(lines: Sequence[str], index: int) -> int:
    """Number of lines, from ``lines[index]``, forming a known site widget (0 if none).

    A widget is only recognised when both its opening line and its closing byline are found,
    at most :data:`_WIDGET_MAX_LINES` lines apart.
    """
    if not _WIDGET_START.fullmatch(lines[index]):
        return 0
    last = min(len(lines), index + 1 + _WIDGET_MAX_LINES)
    for end in range(index + 1, last):
        if _WIDGET_END.fullmatch(lines[end]):
            return end - index + 1
    return 0
