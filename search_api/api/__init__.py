"""The REST API and web UI: ``create_app`` builds the FastAPI application (:mod:`.app`)."""

from search_api.api.app import create_app

__all__ = ["create_app"]
