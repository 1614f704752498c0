# ruff: noqa: RUF001 - Cyrillic test data is intended
"""Language detection on real sentences from the shared corpora and a few made-up ones."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from indexer.language import LANGUAGES, detect_language
from indexer.languages import (
    BY_CODE,
    SNOWBALL,
    STEMMED_LANGUAGES,
    TABLE,
)
from indexer.readers.names import ISO_639_1, normalise_language

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# First sentences of real articles (bbc_news.en, gnad10k_test.de, ru_news_samples.ru,
# zeitgeist_tagesschau_zeit.de, the seed article).
REAL = [
    (
        "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m) for the "
        "three months to December, from $639m year-earlier.",
        "en",
    ),
    (
        'Die Gewerkschaft GPA-djp lanciert den "All-in-Rechner" und findet, dass die '
        "Vertragsform auf die Führungsebene beschränkt gehört.",
        "de",
    ),
    (
        "Госдума приняла сегодня в первом чтении и сразу в целом поправки в закон «О таможенном "
        "тарифе», сокращающие срок действия ставки экспортных пошлин на нефть.",
        "ru",
    ),
    (
        "Ein ehemaliger Mitarbeiter des AfD-Politikers Krah steht unter Spionage-Verdacht für "
        "China.",
        "de",
    ),
    (
        "Einen Monat nachdem ein Kontingent russischer Truppen im von Protesten heimgesuchten "
        "Kasachstan eingetroffen ist, stattet der Präsident der Republik Moskau einen "
        "Gegenbesuch ab.",
        "de",
    ),
]
OTHER = [
    ("Le gouvernement a annoncé mercredi de nouvelles mesures contre l'inflation.", "fr"),
    ("El gobierno anunció el miércoles nuevas medidas contra la inflación.", "es"),
    ("Il governo ha annunciato mercoledì nuove misure contro l'inflazione.", "it"),
    ("De regering heeft woensdag nieuwe maatregelen tegen de inflatie aangekondigd.", "nl"),
    ("Rząd ogłosił w środę nowe środki przeciwko inflacji.", "pl"),
    ("Уряд у середу оголосив нові заходи проти інфляції.", "uk"),
    ("Hükümet çarşamba günü enflasyona karşı yeni önlemler açıkladı.", "tr"),
    ("O governo anunciou na quarta-feira novas medidas contra a inflação.", "pt"),
]


@pytest.mark.parametrize(("text", "expected"), REAL + OTHER)
def test_detects_sentences(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "Putin", "ok", "12345 !!! --- 678", "Das ist gut."])
def test_too_short_or_unclear_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_codes_are_iso_639_1() -> None:
    assert all(len(code) == 2 and code.islower() for code in LANGUAGES)
    assert {"de", "en", "ru", "fr", "es", "it", "nl", "pl", "uk", "tr", "pt"} <= set(LANGUAGES)


def test_one_table_for_every_language_fact() -> None:
    """Detection, stemming (both backends) and name normalisation all read ``TABLE``."""
    assert len(BY_CODE) == len(TABLE)
    assert all(lang.code in ISO_639_1 for lang in TABLE)
    assert tuple(lang.code for lang in TABLE if lang.detected) == LANGUAGES
    assert STEMMED_LANGUAGES == ("de", "en", "ru")
    assert set(SNOWBALL) == set(STEMMED_LANGUAGES)
    for lang in TABLE:
        for alias in (*lang.names, *lang.iso_639_2, lang.code, lang.code.upper() + "-XX"):
            assert normalise_language(alias) == lang.code, alias


def test_thread_safe_first_use() -> None:
    results: list[str | None] = []
    text = REAL[0][0]
    threads = [
        threading.Thread(target=lambda: results.append(detect_language(text))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["en"] * 4


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")
@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("bbc_news.en.jsonl", "text", "en"),
        ("gnad10k_test.de.jsonl", "text", "de"),
        ("ru_news_samples.ru.jsonl", "text", "ru"),
    ],
)
def test_real_articles(name: str, key: str, expected: str) -> None:
    with (SHARED_DATA / "corpora" / name).open(encoding="utf-8") as fh:
        texts = [json.loads(line)[key] for _, line in zip(range(40), fh, strict=False)]
    assert [detect_language(text) for text in texts] == [expected] * len(texts)
