"""Typed errors. The API maps each to one HTTP status in one place (``search_api.app``)."""

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
