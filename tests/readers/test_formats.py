"""Each reader on small files written by the test: JSONL, JSON array, CSV/TSV, HTML, seed text,
gzip, directories; automatic field mapping and the explicit ``field_map`` override."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from indexer.models import Article, stable_article_id
from indexer.readers import ReadStats, RecordProblem, count_inputs, read_paths

BODY = "Erster Absatz des Artikels über die Koalition.\n\nZweiter Absatz mit mehr Details."


def write_jsonl(path: Path, records: list[Any]) -> Path:
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def read(paths: list[Path], **kwargs: Any) -> tuple[list[Article], ReadStats]:
    stats = ReadStats()
    articles = list(read_paths(paths, stats=stats, **kwargs))
    return articles, stats


def test_jsonl_automatic_mapping(tmp_path: Path) -> None:
    record = {
        "doc_id": "a-1",
        "headline": "  Koalition   streitet\nüber Haushalt ",
        "content": BODY,
        "published_date": None,
        "date": "2024-03-05T10:15:00+01:00",
        "gathered_date": "2024-03-06",
        "link": "https://www.example-zeitung.de/politik/haushalt-123.html",
        "publisher": "Beispiel-Zeitung",
        "lang": "de-DE",
        "category": "Politik",
        "byline": "By Anna Schmidt and Bernd Meier; Clara Ort",
        "word_count": 12,
        "tags": ["haushalt", "koalition"],
    }
    (article,), stats = read([write_jsonl(tmp_path / "news.jsonl", [record])])
    assert (stats.files, stats.records, stats.articles, stats.skipped) == (1, 1, 1, 0)
    assert article.article_id == "a-1"
    assert article.title == "Koalition streitet über Haushalt"
    assert article.body == BODY
    assert article.published_at == datetime(2024, 3, 5, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert article.url == "https://www.example-zeitung.de/politik/haushalt-123.html"
    assert article.source == "Beispiel-Zeitung"
    assert article.language == "de"
    assert article.section == "Politik"
    assert article.authors == ("Anna Schmidt", "Bernd Meier", "Clara Ort")
    # unused date candidates and unmapped fields stay, as-is; null field keys are dropped
    assert article.extra == {
        "gathered_date": "2024-03-06",
        "word_count": 12,
        "tags": ["haushalt", "koalition"],
    }


def test_jsonl_derived_values(tmp_path: Path) -> None:
    records = [
        {"title": "Mit Url", "text": BODY, "url": "https://news.bbc.co.uk/1/hi/politics/1.stm"},
        {"title": "Ohne alles", "text": BODY, "authors": ["A. Autor", {"name": "B. Autorin"}]},
        {"title": "Quelle als Url", "text": BODY, "source": "https://www.zeit.de/index"},
        {"title": "Kaputtes Datum", "text": BODY, "date": "gestern abend", "id": 17},
    ]
    articles, stats = read([write_jsonl(tmp_path / "feed.fr.jsonl", records)])
    # A date that cannot be parsed is reported and the record skipped (it was stored as
    # undated without a word, and vanished from every date filter).
    assert stats.skipped == 1
    assert [(p.line, p.reason) for p in stats.problems] == [
        (4, "unrecognisable date 'gestern abend' in field 'date'")
    ]
    with_url, plain, source_url = articles
    assert with_url.source == "bbc"
    assert with_url.article_id == stable_article_id(with_url.url, None, "", None)
    assert plain.source == "feed.fr"  # file stem
    assert plain.language == "fr"  # from the file name
    assert plain.authors == ("A. Autor", "B. Autorin")
    assert plain.article_id == stable_article_id(None, "feed.fr", "Ohne alles", None)
    assert (source_url.source, source_url.extra) == (
        "zeit",
        {"source_url": "https://www.zeit.de/index"},
    )


def test_jsonl_naive_date_becomes_utc(tmp_path: Path) -> None:
    record = {"title": "T", "text": BODY, "pubdate": "Tue, 05 Mar 2024 10:15:00"}
    (article,), _ = read([write_jsonl(tmp_path / "a.jsonl", [record])])
    assert article.published_at == datetime(2024, 3, 5, 10, 15, tzinfo=UTC)


def test_beir_metadata_is_used_when_top_level_lacks_fields(tmp_path: Path) -> None:
    record = {
        "_id": "doc-7",
        "title": "Claim checked",
        "text": "Line one.\nLine two.",
        "metadata": {"date": "stated on June 3, 2020 in a speech:", "url": "https://ex.org/a"},
    }
    (article,), _ = read([write_jsonl(tmp_path / "corpus.jsonl", [record])])
    assert article.article_id == "doc-7"
    assert article.published_at == datetime(2020, 6, 3, tzinfo=UTC)
    assert article.url == "https://ex.org/a"
    assert article.source == "ex"
    assert article.extra == {"metadata": record["metadata"]}


def test_field_map_override(tmp_path: Path) -> None:
    rows = [
        ["nr", "schlagzeile", "fliesstext", "text", "veroeffentlicht", "ressort"],
        ["n1", "Eigene Spalten", BODY, "nicht der Text", "05.03.2024", "Inland"],
    ]
    path = write_csv(tmp_path / "export.csv", rows)
    field_map = {
        "id": "nr",
        "title": "schlagzeile",
        "text": "fliesstext",
        "date": "veroeffentlicht",
        "section": "ressort",
    }
    (article,), _ = read([path], field_map=field_map)
    assert article.article_id == "n1"
    assert article.title == "Eigene Spalten"
    assert article.body == BODY
    assert article.published_at == datetime(2024, 3, 5, tzinfo=UTC)
    assert article.section == "Inland"
    assert article.extra == {"text": "nicht der Text"}  # the auto column is now unmapped


def test_field_map_nested_path_and_validation(tmp_path: Path) -> None:
    record = {"title": "T", "body_html": BODY, "meta_info": {"when": "2021-01-02"}}
    path = write_jsonl(tmp_path / "a.jsonl", [record])
    (article,), _ = read([path], field_map={"body": "body_html", "date": "meta_info.when"})
    assert article.body == BODY
    assert article.published_at == datetime(2021, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown field 'colour'"):
        read_paths([path], field_map={"colour": "x"})


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps([{"title": "A", "text": BODY}, {"title": "B"}, {"title": "C", "text": BODY}]),
        encoding="utf-8",
    )
    articles, stats = read([path])
    assert [a.title for a in articles] == ["A", "C"]
    assert [(p.line, p.reason) for p in stats.problems] == [(2, "no body text (title only)")]


def test_csv_and_tsv(tmp_path: Path) -> None:
    long_body = "Satz. " * 50_000  # 300 kB: beyond the csv module's default field limit
    rows = [
        ["id", "title", "text", "date", "url"],
        ["c1", "Mehrzeilig", 'Absatz eins,\n\nAbsatz "zwei".', "2025-08-05", ""],
        ["c2", "Lang", long_body, "", "https://www.tagesschau.de/x.html"],
    ]
    csv_articles, csv_stats = read([write_csv(tmp_path / "a.csv", rows)])
    tsv_articles, _ = read([write_csv(tmp_path / "a.tsv", rows, delimiter="\t")])
    for articles in (csv_articles, tsv_articles):
        first, second = articles
        assert first.body == 'Absatz eins,\n\nAbsatz "zwei".'
        assert first.published_at == datetime(2025, 8, 5, tzinfo=UTC)
        assert first.url is None and first.extra == {}
        assert second.body == long_body.strip()
        assert second.source == "tagesschau"
    assert csv_stats.records == 2


def test_seed_style_text(tmp_path: Path) -> None:
    text = (
        "Beispiel NET\n\nPolitik\n\nDer Titel des Artikels\n\n"
        "Erster Absatz.\n\nZwischenüberschrift\n\nZweiter Absatz.\n\nDer Titel des Artikels\n"
    )
    path = tmp_path / "artikel.de.txt"
    path.write_text(text, encoding="utf-8")
    (article,), _ = read([path])
    assert (article.source, article.section, article.title) == (
        "Beispiel NET",
        "Politik",
        "Der Titel des Artikels",
    )
    assert article.body == (
        "Erster Absatz.\n\nZwischenüberschrift\n\nZweiter Absatz.\n\nDer Titel des Artikels"
    )
    assert article.language == "de"
    assert article.article_id == stable_article_id(None, "Beispiel NET", article.title, None)


def test_plain_text_fallback(tmp_path: Path) -> None:
    long_line = "Ein langer erster Absatz ohne Kopfzeilen. " * 20
    path = tmp_path / "notiz.txt"
    path.write_text(long_line + "\n\nNoch ein Absatz.\n", encoding="utf-8")
    (article,), _ = read([path])
    assert article.title == "" and article.source == "notiz"
    assert article.body.startswith("Ein langer erster Absatz")
    assert article.body.endswith("Noch ein Absatz.")


NEWS_PAGE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8">
<title>Koalition streitet über Haushalt | Beispiel-Zeitung</title>
<link rel="canonical" href="https://www.beispiel-zeitung.de/politik/haushalt-123.html">
<meta property="og:site_name" content="Beispiel-Zeitung">
<meta property="article:published_time" content="2024-03-05T10:15:00+01:00">
<meta name="author" content="Anna Schmidt">
</head><body>
<nav class="main-nav"><ul><li><a href="/">Startseite</a></li><li><a href="/politik">Politik</a></li>
<li><a href="/wirtschaft">Wirtschaft</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<div class="cookie-banner">Wir verwenden Cookies. <button>Akzeptieren</button></div>
<main><article>
<h1>Koalition streitet über Haushalt</h1>
<p class="byline">Von Anna Schmidt</p>
<p>Die Regierungskoalition hat sich am Dienstag erneut nicht auf einen Haushaltsentwurf für das
kommende Jahr einigen können. Die Finanzministerin verwies auf die angespannte Lage der
öffentlichen Kassen und mahnte zur Eile.</p>
<p>Nach Angaben aus Verhandlungskreisen liegen die Positionen bei den Sozialausgaben und den
Investitionen in die Infrastruktur weiterhin weit auseinander. Eine Einigung wird nun für die
kommende Woche erwartet.</p>
<p>Die Opposition kritisierte den Streit scharf und forderte die Regierung auf, rasch einen
tragfähigen Kompromiss vorzulegen, bevor die Frist des Parlaments abläuft.</p>
</article>
<aside class="related"><h3>Mehr zum Thema</h3><ul>
<li><a href="/a">Steuerschätzung: Minus erwartet</a></li>
<li><a href="/b">Schuldenbremse: Was nun?</a></li></ul></aside></main>
<footer><p>© 2024 Beispiel-Zeitung. Alle Rechte vorbehalten.</p>
<a href="/impressum">Impressum</a> | <a href="/datenschutz">Datenschutz</a> |
<a href="/kontakt">Kontakt</a>
</footer></body></html>
"""


def test_html_page(tmp_path: Path) -> None:
    path = tmp_path / "haushalt.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    (article,), stats = read([path])
    assert stats.skipped == 0
    assert article.title == "Koalition streitet über Haushalt"
    assert article.url == "https://www.beispiel-zeitung.de/politik/haushalt-123.html"
    assert article.source == "Beispiel-Zeitung"
    assert (
        article.published_at is not None and article.published_at.date().isoformat() == "2024-03-05"
    )
    assert article.language == "de"
    assert "Anna Schmidt" in article.authors
    assert article.body.startswith("Die Regierungskoalition hat sich am Dienstag")
    assert "Kompromiss vorzulegen" in article.body
    assert "\n\n" in article.body  # text blocks become paragraphs
    for boilerplate in (
        "Startseite",
        "Impressum",
        "Datenschutz",
        "Cookies",
        "Alle Rechte",
        "Mehr zum Thema",
    ):
        assert boilerplate not in article.body


def test_html_without_main_text(tmp_path: Path) -> None:
    path = tmp_path / "leer.htm"
    path.write_text(
        "<html><head><title>x</title></head><body><script>var a = 1;</script></body></html>",
        "utf-8",
    )
    articles, stats = read([path])
    assert articles == []
    assert [(p.line, p.reason) for p in stats.problems] == [(None, "no main text found in HTML")]


def test_gzip_files(tmp_path: Path) -> None:
    plain = write_jsonl(tmp_path / "x.jsonl", [{"title": "Gz", "text": BODY}])
    gz = tmp_path / "news.de.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    csv_gz = tmp_path / "rows.csv.gz"
    csv_gz.write_bytes(gzip.compress(b"title,text\nAus CSV,Text aus einer CSV-Datei.\n"))
    seed_gz = tmp_path / "seed.txt.gz"
    seed_gz.write_bytes(gzip.compress("Site\nSektion\nTitel\nKörper.\n".encode()))
    articles, stats = read([gz, csv_gz, seed_gz])
    assert [a.title for a in articles] == ["Gz", "Aus CSV", "Titel"]
    assert articles[0].language == "de" and articles[0].source == "news.de"
    assert stats.skipped == 0


def test_directory_walk_is_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "b" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    write_jsonl(root / "b" / "deeper" / "2.jsonl", [{"title": "b-deep", "text": BODY}])
    write_jsonl(root / "b" / "1.jsonl", [{"title": "b-1", "text": BODY}])
    write_jsonl(root / "a.jsonl", [{"title": "a", "text": BODY}])
    write_jsonl(root / ".hidden" / "x.jsonl", [{"title": "hidden", "text": BODY}])
    (root / "README.md").write_text("not an article", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG\x00\x00")
    assert count_inputs([root]) == 3
    assert count_inputs(str(root)) == 3  # a lone path is not a sequence of characters
    articles, stats = read([root])
    assert [a.title for a in articles] == ["a", "b-1", "b-deep"]
    assert (stats.files, stats.skipped) == (3, 0)


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    write_jsonl(root / "a.jsonl", [{"title": "a", "text": BODY}])
    (root / "loop").symlink_to(root, target_is_directory=True)
    articles, stats = read([root])
    assert [a.title for a in articles] == ["a"]
    assert stats.skipped == 0


def test_beir_directory_contributes_its_corpus_only(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    write_jsonl(beir / "corpus.jsonl", [{"_id": "d1", "title": "Doc", "text": BODY}])
    write_jsonl(beir / "queries.jsonl", [{"_id": "q1", "text": "a query"}])
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", "utf-8")
    articles, stats = read([beir])
    assert [a.article_id for a in articles] == ["d1"]
    assert stats.files == 1 and count_inputs([beir]) == 1


def test_stats_accumulate_and_callback_sees_each_problem(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"title": "A", "text": BODY}, {"title": "B"}])
    seen: list[RecordProblem] = []
    stats = ReadStats()
    for _ in range(2):
        list(read_paths([path], stats=stats, on_problem=seen.append))
    assert (stats.files, stats.records, stats.articles, stats.skipped) == (2, 4, 2, 2)
    assert seen == stats.problems
