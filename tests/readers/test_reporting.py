"""What ingest refuses and reports: urls that are not http(s), dates it cannot read, text that
is not text (lone surrogates), bodies with nothing to index; in the readers, in a real ingest
and from the ``newssearch ingest`` command."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from indexer.embedder import Embedder
from indexer.pipeline import ingest
from indexer.readers import ReadStats, read_paths
from indexer.readers.mapping import http_url, is_blank
from indexer.stores import open_stores

BODY = "Der Bundestag hat am Donnerstag über den Haushalt beraten."
SCRIPT_URLS = [
    "javascript:alert(document.domain)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "jav\nascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "hhttps://www.zeit.de/politik",
    "https:///no-host",
    "ftp://example.org/file",
    "mailto:redaktion@example.org",
]


def read(path: Path) -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    articles = list(read_paths([path], stats=stats))
    assert stats.records == stats.articles + stats.skipped == len(articles) + len(stats.problems)
    return articles, stats


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_a_url_that_is_not_http_is_reported_and_skipped(tmp_path: Path, url: str) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [{"id": "bad", "text": BODY, "url": url}, {"id": "ok", "text": BODY}],
    )
    articles, stats = read(path)
    assert [a.article_id for a in articles] == ["ok"]
    (problem,) = stats.problems
    assert problem.line == 1 and "url" in problem.reason and len(problem.reason) < 120


def test_a_javascript_url_is_refused_in_csv_too(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "text", "link"])
        writer.writerow(["Klick", BODY, "javascript:alert(document.domain)"])
        writer.writerow(["Gut", BODY, "https://www.tagesschau.de/inland/x.html"])
    articles, stats = read(path)
    assert [a.url for a in articles] == ["https://www.tagesschau.de/inland/x.html"]
    assert [p.line for p in stats.problems] == [2]
    assert (
        stats.problems[0].reason == "url 'javascript:alert(document.domain)' is not an http(s) url"
    )


def test_http_urls_relative_and_protocol_relative(tmp_path: Path) -> None:
    assert http_url(" https://www.zeit.de/x ") == "https://www.zeit.de/x"
    assert http_url("HTTP://example.org") == "HTTP://example.org"
    assert http_url("//www.zeit.de/x") == "https://www.zeit.de/x"
    assert http_url("/politik/x.html") is None
    records = [
        {"id": "rel", "text": BODY, "url": "/politik/x.html"},
        {"id": "proto", "text": BODY, "url": "//www.zeit.de/politik/x"},
    ]
    rel, proto = read(write_jsonl(tmp_path / "a.jsonl", records))[0]
    # A relative url no known site resolves is no link: kept as raw metadata only.
    assert rel.url is None and rel.extra["url_raw"] == "/politik/x.html"
    assert proto.url == "https://www.zeit.de/politik/x"
    # Under a known site (PolitiFact's corpora store site-relative urls) it is resolved.
    known = tmp_path / "checkthat2021-politifact-x"
    known.mkdir()
    (article,), _ = read(write_jsonl(known / "corpus.jsonl", [records[0]]))
    assert article.url == "https://www.politifact.com/politik/x.html"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"date": "not-a-date"}, "unrecognisable date 'not-a-date' in field 'date'"),
        (
            {"published_at": "32.13.2024"},
            "unrecognisable date '32.13.2024' in field 'published_at'",
        ),
        ({"date": "0362-04-17"}, "unrecognisable date '0362-04-17' in field 'date'"),
        ({"metadata": {"date": "bald"}}, "unrecognisable date 'bald' in field 'date'"),
        ({"date": True}, "unrecognisable date True in field 'date'"),
    ],
)
def test_a_date_that_cannot_be_read_is_reported(
    tmp_path: Path, record: dict[str, Any], reason: str
) -> None:
    """It used to be stored as undated without a word (and vanished from date filters)."""
    articles, stats = read(write_jsonl(tmp_path / "a.jsonl", [{"text": BODY, **record}]))
    assert not articles
    assert [p.reason for p in stats.problems] == [reason]


def test_a_readable_date_in_another_field_is_used(tmp_path: Path) -> None:
    record = {"text": BODY, "published": "n/a", "gathered_date": "2025-12-20"}
    (article,), stats = read(write_jsonl(tmp_path / "a.jsonl", [record]))
    assert stats.skipped == 0 and article.published_at is not None
    assert article.extra["published"] == "n/a"


@pytest.mark.parametrize("where", ["title", "text", "author", "extra_key", "nested"])
def test_a_lone_surrogate_is_reported_never_a_crash(tmp_path: Path, where: str) -> None:
    """JSON may escape half a surrogate pair (``"\\ud800"``); it is not text, cannot be
    encoded, and crashed ``newssearch ingest`` with a UnicodeEncodeError."""
    record: dict[str, Any] = {"title": "Titel", "text": BODY, "author": "Anna"}
    if where == "extra_key":
        record["x\ud800"] = 1
    elif where == "nested":
        record["metadata"] = {"tags": ["ok", "b\udfffad"]}
    else:
        record[where] = record[where] + " \ud800"
    path = tmp_path / "a.jsonl"
    line = json.dumps(record)  # ensure_ascii: the surrogate travels as an escape
    path.write_text(line + "\n" + json.dumps({"text": BODY, "id": "ok"}) + "\n", "utf-8")
    articles, stats = read(path)
    assert [a.article_id for a in articles] == ["ok"]
    assert "lone surrogate" in stats.problems[0].reason


@pytest.mark.parametrize(
    "body", ["", "   \n\t ", "\u200b\u200b", "\ufeff \u2060 \u00a0", "\x00\x01"]
)
def test_a_body_without_text_is_reported(tmp_path: Path, body: str) -> None:
    assert is_blank(body)
    articles, stats = read(write_jsonl(tmp_path / "a.jsonl", [{"title": "T", "text": body}]))
    assert not articles and stats.problems[0].reason == "no body text (title only)"
    assert not is_blank("...") and not is_blank("\u200bx")


def test_ingest_writes_the_good_records_and_reports_the_rest(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    records = [
        {"id": "good", "title": "Haushalt", "text": BODY, "url": "https://example.org/a"},
        {"id": "xss", "title": "Klick", "text": BODY, "url": "javascript:alert(document.domain)"},
        {"id": "undated", "title": "Wann", "text": BODY, "date": "not-a-date"},
    ]
    path = write_jsonl(tmp_path / "in.jsonl", records)
    stores = open_stores(settings_for(tmp_path / "idx"), embedder)
    try:
        report = ingest(stores, [path])
        assert (report.records, report.written, report.skipped) == (3, 1, 2)
        assert [p.line for p in report.problems] == [2, 3]
        assert stores.catalog.committed_article_ids() == ["good"]
        assert stores.catalog.articles(["good"])["good"]["url"] == "https://example.org/a"
    finally:
        stores.close()


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "search_api", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_dry_run_reports_and_writes_no_file_unasked(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """``ingest --dry-run`` wrote its error report into the current directory."""
    bad = [{"text": BODY, "date": "not-a-date"}, {"text": BODY, "url": "javascript:alert(1)"}]
    path = write_jsonl(tmp_path / "in.jsonl", [*bad, {"text": BODY}])
    work = tmp_path / "cwd"
    work.mkdir()
    proc = run_cli(["ingest", str(path), "--dry-run", "--json"], work, subprocess_env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["articles"], summary["skipped"]) == (1, 2) and "error_report" not in summary
    assert list(work.iterdir()) == []
    assert "unrecognisable date 'not-a-date'" in proc.stderr and "http(s)" in proc.stderr
    report = tmp_path / "report.jsonl"
    proc = run_cli(
        ["ingest", str(path), "--dry-run", "--json", "--errors", str(report)], work, subprocess_env
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["error_report"] == str(report)
    lines = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    assert [(r["line"], r["reason"][:12]) for r in lines] == [
        (1, "unrecognisab"),
        (2, "url 'javascr"),
    ]
    assert list(work.iterdir()) == []
