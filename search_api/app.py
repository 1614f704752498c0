"""Compatibility: the application moved to :mod:`search_api.api` (app, deps, errors, routes).

``from search_api.app import create_app`` keeps working for scripts, tests and benchmarks.
"""

from search_api.api.app import configure_serving_threads, create_app
from search_api.api.deps import Service

__all__ = ["Service", "configure_serving_threads", "create_app"]
