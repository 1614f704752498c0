"""What routes depend on: the app's :class:`Service` and the write key check.

Routes take them as ``Annotated`` dependencies (``ServiceDep``, ``dependencies=[WriteAuth]``),
so a test can override either with ``app.dependency_overrides``.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from indexer.errors import Forbidden, Unauthorized
from indexer.stores import Stores
from search_api.engine import SearchEngine

#: How often (seconds) a serving process looks for commits made by an ingest process.
REFRESH_INTERVAL = 2.0


class Service:
    """The open stores and engine of one app, refreshed when another process commits."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = SearchEngine(stores)
        self._checked = 0.0
        self._lock = threading.Lock()
        #: One write at a time per process (the embedded index has a single writer).
        self.write_lock = threading.Lock()

    def refresh(self) -> None:
        """Pick up new commits (FAISS file, lexical segments) at most every few seconds."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked < REFRESH_INTERVAL:
                return
            self._checked = now
        self.stores.refresh_readers()


def get_service(request: Request) -> Service:
    """The app's :class:`Service`, refreshed (override in tests with ``dependency_overrides``)."""
    service: Service = request.app.state.service
    service.refresh()
    return service


ServiceDep = Annotated[Service, Depends(get_service)]

#: The write key header, declared as an OpenAPI security scheme (Swagger UI's "Authorize").
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Equal to the server's NEWSSEARCH_API_KEY; writes are disabled without one.",
)


def require_api_key(
    request: Request, x_api_key: Annotated[str | None, Security(api_key_header)] = None
) -> None:
    """Allow a write only with the configured key (constant-time compare).

    No key configured means writes are disabled (:class:`Forbidden`, 403); a missing or wrong
    key is :class:`Unauthorized` (401).
    """
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        raise Forbidden("write endpoints are disabled: set NEWSSEARCH_API_KEY")
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise Unauthorized("missing or wrong X-API-Key header")


WriteAuth = Depends(require_api_key)
