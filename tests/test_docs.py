"""The documentation says what the code does: docs/cli.md is the commands' own help."""

from __future__ import annotations

from search_api.cli_docs import render
from tests.conftest import REPO

DOCS = REPO / "docs"


def test_cli_md_is_the_commands_help() -> None:
    """docs/cli.md is generated from the typer app; regenerate it after changing a command."""
    expected = render()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/cli.md is out of date: run `python -m search_api.cli_docs > docs/cli.md`"
    )


def test_cli_md_documents_every_command_and_option() -> None:
    import typer

    from search_api.cli import app

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"## newssearch {name}\n" in text
        for param in command.params:
            for flag in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if flag.startswith("-"):
                    assert f"`{flag}`" in text, (name, flag)
