# ruff: noqa: RUF001 - Cyrillic test data is intended
"""Dates, names and the Russian newline repair: the small pure functions behind the mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from indexer.readers.dates import parse_date
from indexer.readers.mapping import repair_lost_newlines
from indexer.readers.names import (
    language_from_path,
    normalise_language,
    resolve_url,
    site_name,
)

PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2008-11-21 15:19:14", datetime(2008, 11, 21, 15, 19, 14, tzinfo=UTC)),
        ("2025-08-05", datetime(2025, 8, 5, tzinfo=UTC)),
        ("2024-03-05T10:15:00Z", datetime(2024, 3, 5, 10, 15, tzinfo=UTC)),
        ("2024-03-05T10:15:00+01:00", datetime(2024, 3, 5, 10, 15, tzinfo=PLUS_ONE)),
        ("Tue, 05 Mar 2024 10:15:00 +0100", datetime(2024, 3, 5, 10, 15, tzinfo=PLUS_ONE)),
        ("Tue, 05 Mar 2024 10:15:00 GMT", datetime(2024, 3, 5, 10, 15, tzinfo=UTC)),
        ("05.03.2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("05.03.2024 18:30", datetime(2024, 3, 5, 18, 30, tzinfo=UTC)),
        ("5. März 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("March 5, 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("5 March 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024/03/05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("stated on October 7, 2019 in a Facebook post:", datetime(2019, 10, 7, tzinfo=UTC)),
        ("stated on Sept. 12, 2019 in a debate", datetime(2019, 9, 12, tzinfo=UTC)),
        ("updated 2021-01-20 08:00 by the desk", datetime(2021, 1, 20, 8, 0, tzinfo=UTC)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1700000000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (datetime(2020, 1, 1, 12), datetime(2020, 1, 1, 12, tzinfo=UTC)),
    ],
)
def test_parse_date(value: object, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "gestern", "12/03/2024", "2024-02-30", "May 2019", "0001-01-01", True, [1]],
)
def test_unparseable_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


def test_site_names() -> None:
    assert site_name("https://www.zeit.de/index") == "zeit"
    assert site_name("https://www.tagesschau.de/api2u/homepage/") == "tagesschau"
    assert site_name("https://news.bbc.co.uk/1/hi/uk_politics/4.stm") == "bbc"
    assert site_name("https://preview.zeit.de/x") == "zeit"
    assert site_name("politifact.com") == "politifact"
    assert site_name("/factchecks/2019/oct/11/x/") is None
    assert site_name("Bbabo NET") is None


def test_relative_urls_of_known_sites_are_resolved() -> None:
    corpus = Path("/data/checkthat2021-politifact-1k/corpus.jsonl.gz")
    assert (
        resolve_url("/factchecks/2019/x/", corpus)
        == "https://www.politifact.com/factchecks/2019/x/"
    )
    assert resolve_url("/factchecks/2019/x/", Path("/data/other/c.jsonl")) == "/factchecks/2019/x/"
    assert resolve_url("https://a.org/b", corpus) == "https://a.org/b"


def test_languages() -> None:
    assert [normalise_language(v) for v in ("de", "DE-at", "en_GB", "deu", "German", "xx")] == [
        "de",
        "de",
        "en",
        "de",
        "de",
        None,
    ]
    assert language_from_path(Path("gnad10k_test.de.jsonl")) == "de"
    assert language_from_path(Path("corpus.ru.jsonl.gz")) == "ru"
    assert language_from_path(Path("bbabo-2022-putin-tokajew.de.txt")) == "de"
    assert language_from_path(Path("corpus.jsonl.gz")) is None
    assert language_from_path(Path("v1.2.jsonl")) is None


def test_russian_lost_newline_repair() -> None:
    text = (
        "пошлин на нефть с 2-х до 1-го месяца.nnДля установления цен.nПо словам министра, "
        "сообщаетnРИА «Новости».n«Это важно», — сказал он.nnnЕжегодно растёт."
    )
    assert repair_lost_newlines(text) == (
        "пошлин на нефть с 2-х до 1-го месяца.\n\nДля установления цен.\n\nПо словам министра, "
        "сообщает РИА «Новости».\n\n«Это важно», — сказал он.\n\nЕжегодно растёт."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Сайт bbabo.net и домен example.net.",  # ".n" followed by a lower-case letter
        "The plan.nNew York",  # Latin text is left alone
        "Итог: 2.nn3 процента",  # no capital after
        "Ann Arbor, Penn State, Lenn.",
    ],
)
def test_russian_repair_leaves_other_text_alone(text: str) -> None:
    assert repair_lost_newlines(text) == text
