"""``python -m search_api`` runs the ``newssearch`` command."""

from search_api.cli import app

app(prog_name="newssearch")
