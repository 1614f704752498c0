"""Paging cursors: opaque tokens that pin a result set's definition and index generation.

A token is URL-safe base64 of ``{"v": 1, "g": generation, "k": set key, "o": offset}``. The
set's order is a pure function of the request's set key and the generation (see
:mod:`.resultset`), so the offset is all a page needs; the generation makes a change of the
index between pages an error (:class:`~indexer.errors.StaleCursor`, HTTP 409) instead of a
silent shuffle, and the key refuses a token used with another query.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from indexer.errors import QuerySyntaxError, StaleCursor

VERSION = 1


@dataclass(frozen=True)
class Cursor:
    """Where the next page of one set starts."""

    generation: int
    key: str
    offset: int

    def encode(self) -> str:
        """The opaque token."""
        raw = json.dumps({"v": VERSION, "g": self.generation, "k": self.key, "o": self.offset})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str) -> Cursor:
    """Parse a token; ``QuerySyntaxError`` (HTTP 400) when it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if data.get("v") != VERSION:
            raise ValueError("version")
        cursor = Cursor(int(data["g"]), str(data["k"]), int(data["o"]))
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, AttributeError) as exc:
        raise QuerySyntaxError("cursor is not a valid next token of this API") from exc
    if cursor.offset < 0:
        raise QuerySyntaxError("cursor is not a valid next token of this API")
    return cursor


def check(cursor: Cursor, key: str, generation: int) -> None:
    """Refuse a cursor of another query (400) or another index generation (409)."""
    if cursor.key != key:
        raise QuerySyntaxError(
            "cursor belongs to another query or other parameters; use it with the request "
            "that returned it (only limit, passages, explain and the views may change)"
        )
    if cursor.generation != generation:
        raise StaleCursor(
            f"the index changed since this cursor was made (generation {cursor.generation}, "
            f"now {generation}); the set may differ: start again from the first page"
        )
