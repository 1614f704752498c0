"""The documentation says what the code does: docs/cli.md is the commands' own help, and every
example of docs/api.md (curl, the Python client, the CLI) runs against a live server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.settings import Settings
from search_api.cli_docs import render
from tests.conftest import REPO
from tests.live_server import API_KEY, running_server

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


# -- docs/api.md: every example runs against a live server -------------------------------------
#: What the examples say, and what the test runs them against instead.
DEMO_URL = "http://127.0.0.1:8000"
DEMO_INDEX = "~/.local/share/newssearch/demo"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Example:
    """A runnable block of docs/api.md and the ``json`` block after it (its output), if any."""

    lang: str
    code: str
    line: int
    expected: str | None = None

    def __str__(self) -> str:
        return f"docs/api.md:{self.line} ({self.lang})"


def api_examples() -> list[Example]:
    """The ``bash`` and ``python`` blocks of docs/api.md, in order, with their outputs."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    out: list[Example] = []
    previous: Example | None = None
    for m in FENCE.finditer(text):
        lang, body = m.group(1), m.group(2)
        if lang in ("bash", "python"):
            previous = Example(lang, body, text.count("\n", 0, m.start()) + 1)
            out.append(previous)
        elif lang == "json" and previous is not None and previous.expected is None:
            previous.expected = body
            previous = None
        else:
            previous = None
    return out


def json_values(text: str) -> list[Any]:
    """Every JSON value printed one after another (jq -c lines, numbers, pretty blocks)."""
    decoder, values, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return values
        value, i = decoder.raw_decode(text, i)
        values.append(value)


def same_shape(expected: Any, actual: Any, where: str = "") -> None:
    """The same keys at every level (lists: their first items); scalar values may differ."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            same_shape(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if expected and actual:
            same_shape(expected[0], actual[0], f"{where}[0]")
    else:
        assert not isinstance(actual, dict | list), f"{where}: expected a scalar, got {actual!r}"


def test_api_md_has_checked_examples_of_every_kind() -> None:
    examples = api_examples()
    assert {e.lang for e in examples} == {"bash", "python"}
    assert sum(e.expected is not None for e in examples) >= 8
    text = " ".join(e.code for e in examples)
    for needle in ("curl", "NewsSearchClient", "newssearch search", "iter_articles", "export"):
        assert needle in text


@pytest.fixture(scope="module")
def docs_server(
    built_index: Settings, subprocess_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``newssearch serve`` over a copy of the session index (the examples write to it)."""
    root = tmp_path_factory.mktemp("docs-server")
    index = root / "index"
    shutil.copytree(built_index.index, index)
    with running_server(index, subprocess_env, root / "server.log") as url:
        yield url, index


def test_api_md_examples_run_against_a_live_server(
    docs_server: tuple[str, Path], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """Every example, in the page's order (they build on each other: one writes, a later one
    deletes), exits 0, and prints what the ``json`` block under it shows (same fields)."""
    url, index = docs_server
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"docs/api.md's shell examples need {' and '.join(missing)}")
    env = {
        **subprocess_env,
        "NEWSSEARCH_API_KEY": API_KEY,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{subprocess_env.get('PATH', '')}",
    }
    for example in api_examples():
        code = example.code.replace(DEMO_URL, url).replace(DEMO_INDEX, str(index))
        if example.lang == "bash":
            argv = ["bash", "-euo", "pipefail", "-c", code]
        else:
            script = tmp_path / f"example_{example.line}.py"
            script.write_text(code, encoding="utf-8")
            argv = [sys.executable, str(script)]
        proc = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        shown = f"{example} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert proc.returncode == 0, shown
        assert "Traceback" not in proc.stderr, shown
        if example.expected is not None:
            expected, actual = json_values(example.expected), json_values(proc.stdout)
            assert len(actual) == len(expected), shown
            for want, got in zip(expected, actual, strict=True):
                same_shape(want, got, str(example))
