"""The ``newssearch`` command: in real subprocesses (ingest, search --json, restart, dry-run),
and in this process for every command's help and every output format."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from indexer.settings import Settings
from indexer.stores import Stores
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest
from tests.conftest import SEED, SEED_TITLE, SHARED_DATA, require_shared_data

CLI = [sys.executable, "-m", "search_api"]


def run(
    args: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_search_json_in_a_new_process_matches_in_process(
    built_index: Settings, stores: Stores, subprocess_env: dict[str, str]
) -> None:
    """Restart test: a new process on the saved index answers exactly as the live one."""
    q = "Putin Tokajew Gespräche"
    out = json.loads(
        run(["search", q, "--index", str(built_index.index), "--json"], subprocess_env).stdout
    )
    live = SearchEngine(stores).search(SearchRequest(q=q)).model_dump(mode="json")
    assert out["results"][0]["title"] == SEED_TITLE
    strip = lambda r: [(a["article_id"], round(a["score"], 6)) for a in r["results"]]  # noqa: E731
    assert strip(out) == strip(live)
    assert out["total"] == live["total"]


def test_ingest_then_search_via_cli(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    require_shared_data()
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(SEED, src)
    (src / "broken.jsonl").write_text(
        '{"id": "x1", "title": "Ok", "text": "Fine text here."}\n{not json\n'
    )
    index = tmp_path / "idx"
    proc = run(["ingest", str(src), "--index", str(index), "--json"], subprocess_env)
    summary = json.loads(proc.stdout)
    assert (summary["articles"], summary["skipped"]) == (2, 1)
    report = Path(summary["error_report"]).read_text().splitlines()
    problem = json.loads(report[0])
    assert problem["path"].endswith("broken.jsonl") and problem["line"] == 2
    hits = json.loads(
        run(
            ["search", "Tokajew", "--index", str(index), "--json", "--mode", "bm25"], subprocess_env
        ).stdout
    )
    assert hits["results"][0]["title"] == SEED_TITLE
    text = run(["search", "Tokajew", "--index", str(index)], subprocess_env).stdout
    assert SEED_TITLE in text
    checked = run(["check", "--index", str(index)], subprocess_env)
    assert json.loads(checked.stdout)["ok"] is True


def test_dry_run_reads_and_chunks_without_writing(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    require_shared_data()
    corpus = SHARED_DATA / "relevance" / "checkthat2021-politifact-1k" / "corpus.jsonl.gz"
    out = json.loads(
        run(
            ["ingest", str(corpus), "--dry-run", "--json", "--index", str(tmp_path / "i")],
            subprocess_env,
        ).stdout
    )
    assert out["dry_run"] is True and out["articles"] == 1000 and out["skipped"] == 0
    assert 15_000 < out["paragraphs"] < 40_000  # ~21k: short web crumbs merge, boilerplate goes
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--index", "/nonexistent/idx"], "no index at"),
        (["ingest", "/nonexistent/file.jsonl"], "does not exist"),
        (["ingest", ".", "--field", "nonsense", "--dry-run"], "--field takes name=column"),
        (["search", "x", "--mode", "magic", "--index", "."], "mode"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    args: list[str], message: str, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    if args[-1] == ".":
        args = [*args[:-1], str(tmp_path)]
        (tmp_path / "catalog.sqlite").touch()
    proc = run(args, subprocess_env, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_every_command(subprocess_env: dict[str, str]) -> None:
    out = run(["--help"], subprocess_env).stdout
    for command in ("ingest", "search", "serve", "demo", "check", "repair", "delete"):
        assert command in out
    assert "--index" in run(["search", "--help"], subprocess_env).stdout


def test_help_lists_the_result_set_commands(subprocess_env: dict[str, str]) -> None:
    out = run(["--help"], subprocess_env).stdout
    for command in ("facets", "timeline", "export", "calibrate", "eval"):
        assert command in out


@pytest.mark.parametrize("command", ["search", "facets", "timeline", "export"])
def test_options_are_the_request_model(command: str, subprocess_env: dict[str, str]) -> None:
    """One declaration: every request field is an option of each result-set command."""
    from search_api.schemas import ExportRequest

    model = ExportRequest if command == "export" else SearchRequest
    out = run([command, "--help"], {**subprocess_env, "COLUMNS": "200"}).stdout
    for name in model.model_fields:
        if name != "q":
            assert f"--{name.replace('_', '-')}" in out, (command, name)


def test_views_via_cli_agree_with_total(
    built_index: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    index = ["--index", str(built_index.index)]
    q = ["Regierung Ukraine", "--match", "any", "--source", "ZEIT", "--source", "Tagesschau"]
    page = json.loads(run(["search", *q, *index, "--json", "--limit", "0"], subprocess_env).stdout)
    total = page["total"]
    assert total > 0 and page["results"] == [] and page["next"]
    facets = json.loads(run(["facets", *q, *index, "--json"], subprocess_env).stdout)
    language = next(f for f in facets if f["field"] == "language")
    assert (
        sum(v["count"] for v in language["values"]) + language["other"] + language["missing"]
        == total
    )
    timeline = json.loads(run(["timeline", *q, *index, "--json"], subprocess_env).stdout)
    assert sum(b["count"] for b in timeline["buckets"]) + timeline["undated"] == total
    out = tmp_path / "export.jsonl"
    run(["export", *q, *index, "--format", "jsonl", "-o", str(out)], subprocess_env)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["manifest"]["total"] == total
    assert len(lines) - 1 == total
    bad = run(["search", *q, *index, "--sort", "dated"], subprocess_env, check=False)
    assert bad.returncode == 2 and "--sort" in bad.stderr


# -- every command's help, and one output option everywhere ----------------------------------
def commands() -> dict[str, Any]:
    """The ``newssearch`` commands as the help prints them (name -> command)."""
    from search_api.cli import app

    group: Any = typer.main.get_command(app)
    return dict(group.commands)


#: Commands that print no results of their own (``export`` writes data: its --format is the
#: file's, csv or jsonl; ``serve`` and ``demo`` run a server).
NOT_PRINTING = {"serve", "demo", "export"}
#: Commands whose default output stays JSON (scripts and tests parse it).
JSON_BY_DEFAULT = {"check", "repair", "delete", "calibrate"}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    """``newssearch args`` in this process (no new interpreter, no model reload per run)."""
    from search_api.cli import app

    return CliRunner().invoke(app, args, env={"COLUMNS": "200", **(env or {})})


def test_every_command_is_listed_in_the_main_help() -> None:
    out = invoke(["--help"]).stdout
    for name in commands():
        assert name in out


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_help(name: str) -> None:
    """``--help`` exits 0 and shows the command's description and every one of its options."""
    command = commands()[name]
    result = invoke([name, "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    first = " ".join(command.help.split("\n\n")[0].split())
    assert first[:60] in text
    for param in command.params:
        for flag in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            if flag.startswith("-"):
                assert flag in text, (name, flag)
    assert ("--format" in text) is (name not in NOT_PRINTING or name == "export"), name


@pytest.mark.parametrize("name", sorted(set(commands()) - NOT_PRINTING))
def test_every_printing_command_has_one_format_option(name: str) -> None:
    flags = {f for p in commands()[name].params for f in getattr(p, "opts", [])}
    assert {"--format", "-f"} <= flags, name


def test_json_is_format_json_and_they_must_agree(built_index: Settings) -> None:
    args = ["facets", "Regierung", "--index", str(built_index.index)]
    a = json.loads(invoke([*args, "--json"]).stdout)
    b = json.loads(invoke([*args, "--format", "json"]).stdout)
    assert a == b and a[0]["total"] > 0
    bad = invoke([*args, "--json", "--format", "csv"])
    assert bad.exit_code == 2 and "--json" in bad.output
    bad = invoke([*args, "--format", "xml"])
    assert bad.exit_code == 2 and "table, json, jsonl, csv" in bad.output


def test_search_formats_show_the_same_page(built_index: Settings) -> None:
    from search_api.rows import ARTICLE_COLUMNS

    args = ["search", "Regierung Ukraine", "--match", "any", "--index", str(built_index.index)]
    args += ["--limit", "7"]
    page = json.loads(invoke([*args, "--format", "json"]).stdout)
    ids = [r["article_id"] for r in page["results"]]
    assert len(ids) == 7 and page["total"] > 7
    lines = [json.loads(line) for line in invoke([*args, "-f", "jsonl"]).stdout.splitlines()]
    assert [r["article_id"] for r in lines] == ids
    assert all(tuple(r) == ARTICLE_COLUMNS for r in lines)
    rows = list(csv.DictReader(io.StringIO(invoke([*args, "-f", "csv"]).stdout)))
    assert [r["article_id"] for r in rows] == ids and tuple(rows[0]) == ARTICLE_COLUMNS
    assert rows[0]["title"] == page["results"][0]["title"]
    assert rows[0]["authors"] == "; ".join(page["results"][0]["authors"])
    table = invoke([*args, "-f", "table"]).stdout
    assert _untimed(table) == _untimed(invoke(args).stdout)  # table is the default
    assert f"{page['total']} articles" in table and page["results"][0]["title"] in table
    empty = invoke([*args, "--source", "nowhere", "-f", "csv"]).stdout
    assert empty.splitlines() == [",".join(ARTICLE_COLUMNS)]


def _untimed(text: str) -> str:
    """``text`` without the ``N ms`` of a table's first line (timings differ between runs)."""
    return re.sub(r"; [\d.]+ ms\)", "; ms)", text, count=1)


def test_facets_and_timeline_rows_add_up(built_index: Settings) -> None:
    args = ["Regierung Ukraine", "--match", "any", "--index", str(built_index.index)]
    total = json.loads(invoke(["search", *args, "--json", "--limit", "0"]).stdout)["total"]
    facets = list(csv.DictReader(io.StringIO(invoke(["facets", *args, "-f", "csv"]).stdout)))
    language = [r for r in facets if r["field"] == "language"]
    assert sum(int(r["count"]) for r in language) == total
    assert {r["kind"] for r in facets} <= {"value", "other", "missing"}
    assert [json.loads(x) for x in invoke(["facets", *args, "-f", "jsonl"]).stdout.splitlines()]
    tl = json.loads(invoke(["timeline", *args, "--json"]).stdout)
    split = [*args, "--split-by", "source", "--interval", "year"]
    rows = [json.loads(x) for x in invoke(["timeline", *split, "-f", "jsonl"]).stdout.splitlines()]
    assert sum(r["count"] for r in rows) + tl["undated"] == total
    series = [k for k in rows[0] if k.startswith("source:")]
    assert series and all(sum(r[k] for k in series) <= r["count"] for r in rows)
    table = invoke(["timeline", *args]).stdout
    assert table.startswith(f"{total} articles per")


def test_summaries_print_as_one_row(built_index: Settings) -> None:
    index = ["--index", str(built_index.index)]
    checked = invoke(["check", *index])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["ok"] is True
    rows = list(csv.DictReader(io.StringIO(invoke(["check", *index, "-f", "csv"]).stdout)))
    assert len(rows) == 1 and rows[0]["ok"] == "True"
    assert json.loads(rows[0]["missing_vectors"]) == {"count": 0, "examples": []}
    table = invoke(["check", *index, "-f", "table"]).stdout
    assert any(line.split() == ["ok:", "True"] for line in table.splitlines())


def test_show_similar_and_stats(built_index: Settings) -> None:
    index = ["--index", str(built_index.index)]
    hit = json.loads(invoke(["search", "Putin Tokajew Gespräche", *index, "--json"]).stdout)
    article_id = hit["results"][0]["article_id"]
    article = json.loads(invoke(["show", article_id, *index, "--json"]).stdout)
    assert article["title"] == SEED_TITLE and article["paragraphs"]
    rows = list(
        csv.DictReader(io.StringIO(invoke(["show", article_id, *index, "-f", "csv"]).stdout))
    )
    assert [r["paragraph_id"] for r in rows] == [p["paragraph_id"] for p in article["paragraphs"]]
    table = invoke(["show", article_id, *index]).stdout
    assert table.startswith(SEED_TITLE) and article["paragraphs"][0]["text"][:50] in table
    similar = invoke(["similar", article_id, *index, "--min-similarity", "0.3", "--json"])
    page = json.loads(similar.stdout)
    assert page["total"] > 0 and article_id not in {r["article_id"] for r in page["results"]}
    lines = invoke(["similar", article_id, *index, "--min-similarity", "0.3", "-f", "jsonl"])
    assert len(lines.stdout.splitlines()) == len(page["results"])
    missing = invoke(["show", "no-such-article", *index])
    assert missing.exit_code == 2 and "no-such-article" in missing.output
    bad = invoke(["similar", article_id, *index, "--sort", "dated"])
    assert bad.exit_code == 2 and "--sort" in bad.output
    stats = json.loads(invoke(["stats", *index, "--json"]).stdout)
    assert stats == json.loads(invoke(["stats", *index, "-f", "json"]).stdout)
    assert stats["articles"] > 1 and stats["lexical_backend"] == "embedded"
    rows = list(csv.DictReader(io.StringIO(invoke(["stats", *index, "-f", "csv"]).stdout)))
    assert len(rows) == 1 and int(rows[0]["articles"]) == stats["articles"]
    table = invoke(["stats", *index]).stdout
    assert f"articles: {stats['articles']}" in table and "lexical backend: embedded" in table
