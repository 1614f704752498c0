# ruff: noqa: RUF001 - Cyrillic test data is intended
"""Every shared corpus read in full: exact counts, skips and reasons, mapping of known records.

Counts were computed by reading the files and checked against ../shared/data/README.md.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexer.models import Article
from indexer.readers import ReadStats, count_inputs, read_paths

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CORPORA = SHARED_DATA / "corpora"
SEED = SHARED_DATA / "seed" / "bbabo-2022-putin-tokajew.de.txt"
POLITIFACT_1K = SHARED_DATA / "relevance" / "checkthat2021-politifact-1k"
POLITIFACT = SHARED_DATA / "relevance" / "checkthat2021-politifact"

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}"
)

# Zeitgeist records with a title but empty "content" (1-based lines).
ZEITGEIST_TITLE_ONLY = [640, 3212, 3422, 3435, 3457, 3481, 3493, 3843, 4083, 4131, 4329]
# The one record whose url is not http(s): a typo, "hhttps://www.zeit.de/...".
ZEITGEIST_BAD_URL = 1619


def read_all(path: Path) -> tuple[dict[str, Article], ReadStats]:
    stats = ReadStats()
    articles: dict[str, Article] = {}
    for article in read_paths([path], stats=stats):
        articles.setdefault(article.article_id, article)
    assert stats.records == stats.articles + stats.skipped
    assert stats.skipped == len(stats.problems)
    return articles, stats


@pytest.mark.parametrize(
    ("name", "records", "articles", "unique_ids", "language"),
    [
        ("bbc_news.en.jsonl", 2225, 2225, 2225, "en"),
        ("gnad10k_test.de.jsonl", 1028, 1028, 1028, "de"),
        ("ru_news_samples.ru.jsonl", 64, 64, 64, "ru"),
    ],
)
def test_clean_corpora_read_completely(
    name: str, records: int, articles: int, unique_ids: int, language: str
) -> None:
    found, stats = read_all(CORPORA / name)
    assert (stats.files, stats.records, stats.articles, stats.skipped) == (1, records, articles, 0)
    assert len(found) == unique_ids
    assert {a.language for a in found.values()} == {language}
    assert all(a.body.strip() for a in found.values())


def test_zeitgeist_counts_and_title_only_skips() -> None:
    found, stats = read_all(CORPORA / "zeitgeist_tagesschau_zeit.de.jsonl")
    assert (stats.records, stats.articles, stats.skipped) == (4395, 4383, 12)
    assert [p.line for p in stats.problems] == sorted([*ZEITGEIST_TITLE_ONLY, ZEITGEIST_BAD_URL])
    reasons = {p.line: p.reason for p in stats.problems}
    assert reasons.pop(ZEITGEIST_BAD_URL) == (
        "url 'hhttps://www.zeit.de/politik/ausland/2025-12/ukraine-verha… is not an http(s) url"
    )
    assert set(reasons.values()) == {"no body text (title only)"}
    assert all(p.path.endswith("zeitgeist_tagesschau_zeit.de.jsonl") for p in stats.problems)
    # the same story gathered on several days has one url, hence one article id
    assert len(found) == 4151
    assert Counter(a.source for a in found.values()) == {"zeit": 2333, "tagesschau": 1818}
    assert all(a.published_at is not None for a in found.values())


def test_zeitgeist_field_mapping() -> None:
    article = next(iter(read_paths([CORPORA / "zeitgeist_tagesschau_zeit.de.jsonl"])))
    assert article.title == "Prozess gegen Ex-Mitarbeiter von Krah beginnt"
    assert article.body.startswith("Ein ehemaliger Mitarbeiter des AfD-Politikers Krah")
    assert article.url == (
        "https://www.tagesschau.de/inland/innenpolitik/spionage-prozess-mitarbeiter-krah-100.html"
    )
    assert article.source == "tagesschau"
    assert article.language == "de"
    assert article.section == "inland"
    # published_date is null: gathered_date is used, as UTC midnight
    assert article.published_at == datetime(2025, 8, 5, tzinfo=UTC)
    assert article.authors == ()
    assert article.extra == {
        "word_count": 132,
        "is_breaking_news": False,
        "source_url": "https://www.tagesschau.de/api2u/homepage/",
    }


def test_bbc_field_mapping() -> None:
    found, _ = read_all(CORPORA / "bbc_news.en.jsonl")
    article = found["business/001"]
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.section == "business"
    assert article.source == "bbc_news.en"  # no source field, no url: the file stem
    assert article.language == "en"
    assert article.published_at is None and article.url is None
    assert "\n\n" in article.body
    assert Counter(a.section for a in found.values())["politics"] == 417


def test_gnad_field_mapping() -> None:
    found, _ = read_all(CORPORA / "gnad10k_test.de.jsonl")
    article = found["gnad-test-0000"]
    assert article.title == ""
    assert article.section == "Wirtschaft"
    assert article.source == "gnad10k_test.de"
    assert article.language == "de"
    assert article.body.startswith("Die Gewerkschaft GPA-djp lanciert")
    sections = Counter(a.section for a in found.values())
    assert (sections["Inland"], sections["International"], sections["Etat"]) == (102, 151, 67)


def test_russian_field_mapping_and_newline_repair() -> None:
    found, _ = read_all(CORPORA / "ru_news_samples.ru.jsonl")
    article = found["gazeta-0"]
    assert article.title == "Госдума сокращает срок действия ставки экспортных пошлин на нефть"
    assert article.source == "gazeta"
    assert article.section == "Бизнес"
    assert article.url == "https://www.gazeta.ru/news/business/2008/11/21/n_1298950.shtml"
    assert article.published_at == datetime(2008, 11, 21, 15, 19, 14, tzinfo=UTC)
    assert article.published_at.tzinfo is not None
    assert "до 1-го месяца.\n\nДля установления средних цен" in article.body
    assert ".nn" not in article.body
    # the one record with an empty date: no date, and nothing blank copied to extra
    assert found["lenta-0"].published_at is None
    assert found["lenta-0"].extra == {}
    assert sum(a.published_at is None for a in found.values()) == 1
    assert Counter(a.source for a in found.values())["interfax"] == 9


def test_seed_article() -> None:
    found, stats = read_all(SEED.parent)
    assert (stats.files, stats.articles, stats.skipped) == (1, 1, 0)
    (article,) = found.values()
    assert article.source == "Bbabo NET"
    assert article.section == "Nachrichten"
    assert article.title == "Weltraum, Waffen und Proteste: Worüber Putin und Tokajew sprachen"
    assert article.language == "de"
    assert article.body.startswith("Einen Monat nachdem ein Kontingent russischer Truppen")
    # the body is kept as written: boilerplate and the repeated title are the chunker's job
    assert "Zurück zu Neuigkeiten |„Kasachstan ist unser" in article.body
    assert article.body.endswith("Worüber Putin und Tokajew sprachen")
    assert "\n\nWorüber Putin und Tokajew gesprochen haben\n\n" in article.body


def test_politifact_1k_directory_reads_only_the_corpus() -> None:
    assert count_inputs([POLITIFACT_1K]) == 1  # queries.jsonl and qrels/ are not articles
    found, stats = read_all(POLITIFACT_1K)
    assert (stats.files, stats.records, stats.articles, stats.skipped) == (1, 1000, 1000, 0)
    assert len(found) == 1000
    article = found["vclaim-pol-00065"]
    assert article.title == "No, George Soros’s son isn’t married to Adam Schiff’s sister"
    assert article.source == "politifact"
    assert article.url == (
        "https://www.politifact.com/factchecks/2019/oct/11/viral-image/"
        "no-george-soross-son-isnt-married-adam-schiffs-sis/"
    )
    # metadata.date is "stated on October 7, 2019 in a Facebook post:"
    assert article.published_at == datetime(2019, 10, 7, tzinfo=UTC)
    assert article.language is None  # detected later
    assert article.extra["metadata"]["truth_label"]
    assert all(a.published_at is not None and a.source == "politifact" for a in found.values())


def test_full_politifact_corpus_streams() -> None:
    stats = ReadStats()
    ids = {article.article_id for article in read_paths([POLITIFACT], stats=stats)}
    assert (stats.files, stats.records, stats.articles, stats.skipped) == (1, 19250, 19250, 0)
    assert len(ids) == 19250


def test_all_shared_inputs_together() -> None:
    paths = [SEED.parent, CORPORA, POLITIFACT_1K]
    assert count_inputs(paths) == 6
    stats = ReadStats()
    articles = sum(1 for _ in read_paths(paths, stats=stats))
    assert (stats.files, articles, stats.skipped) == (6, 1 + 2225 + 1028 + 64 + 4383 + 1000, 12)
