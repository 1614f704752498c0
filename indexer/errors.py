"""Typed errors, mapped to HTTP statuses in one place (``search_api.api.errors``)."""

from __future__ import annotations


class NewsSearchError(Exception):
    """Base class of every error NewsSearch raises on purpose."""


class IngestError(NewsSearchError):
    """Ingest cannot go on (a store is unwritable or unreachable after retries)."""


class RecordError(NewsSearchError):
    """One input record is unusable; it is reported and skipped, the batch goes on."""


class QuerySyntaxError(NewsSearchError):
    """The user's query cannot be parsed; the message says where and why (HTTP 400)."""


class BackendUnavailable(NewsSearchError):
    """A store (e.g. Elasticsearch) cannot be reached; callers may degrade (HTTP 503)."""


class ResultSetTooLarge(NewsSearchError):
    """A request's result set would exceed a configured bound; never silently truncated
    (HTTP 400 with the bound and how to narrow the request)."""


class StaleCursor(NewsSearchError):
    """A paging cursor was made for another index generation: the set may have changed
    (HTTP 409; start again from the first page)."""


class NotFound(NewsSearchError):
    """A named object (an article id) is not in the index, or not committed yet (HTTP 404)."""


class Unauthorized(NewsSearchError):
    """A write without the right API key: missing or wrong ``X-API-Key`` (HTTP 401)."""


class Forbidden(NewsSearchError):
    """A write to a server whose writes are disabled: no API key is configured (HTTP 403)."""
