"""The ``newssearch`` command in real subprocesses: ingest, search --json, restart, dry-run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
