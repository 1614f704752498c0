"""Every language NewsSearch knows, in one table, and the facts derived from it.

:data:`TABLE` holds one :class:`Language` per language: its ISO 639-1 code, the names and
ISO 639-2 codes a record may give instead (``German``, ``deu`` ...), whether the language
detector chooses it, and, for the languages with their own analysers, tantivy's Snowball
stemmer / stop-word list name. Everything
else reads this table: :mod:`indexer.language` (:data:`DETECTED_LANGUAGES`),
:mod:`indexer.readers.names` (:data:`LANGUAGE_NAMES`, :data:`ISO_639_2`), the embedded backend
(:data:`SNOWBALL`, through :mod:`indexer.lexical.analysis`, whose tokens Elasticsearch indexes
too). Adding a stemmed language changes both lexical backends' analysis, so their schema
versions too.

German, English and Russian text is Snowball-stemmed (``SNOWBALL`` names tantivy's stemmer per
language code); every other language gets a standard analyser. Stop words are *not* removed
from the index (phrases such as ``"Die Linke"`` or ``"Nur-Sultan"`` must match exactly); the
query parser drops optional stop-word terms from plain queries (:func:`is_stop_word`).

The stop-word lists are tantivy's built-in ones (Lucene's English set, Snowball's German and
Russian sets), not a copy typed out here: a word is a stop word when tantivy's stop-word filter
for one of the languages removes it. Elasticsearch needs no stop-word list: neither backend
removes stop words from the index, and the query parser marks them for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import tantivy


@dataclass(frozen=True)
class Language:
    """What NewsSearch knows about one language."""

    #: ISO 639-1 code, lower case: the ``language`` of articles and paragraphs.
    code: str
    #: Lower-case names a record may give for the language (English name, endonym).
    names: tuple[str, ...] = ()
    #: ISO 639-2 codes (terminology and bibliographic) a record may give.
    iso_639_2: tuple[str, ...] = ()
    #: Whether :func:`indexer.language.detect_language` chooses from this language.
    detected: bool = True
    #: tantivy's Snowball stemmer and stop-word list name; ``None``: the standard analyser.
    snowball: str | None = None


#: The languages, in the detector's order (German, English and Russian first).
TABLE: tuple[Language, ...] = (
    Language(
        "de",
        names=("german", "deutsch"),
        iso_639_2=("deu", "ger"),
        snowball="german",
    ),
    Language(
        "en",
        names=("english",),
        iso_639_2=("eng",),
        snowball="english",
    ),
    Language(
        "ru",
        names=("russian", "русский"),
        iso_639_2=("rus",),
        snowball="russian",
    ),
    Language("fr", names=("french", "français"), iso_639_2=("fra", "fre")),
    Language("es", names=("spanish", "español"), iso_639_2=("spa",)),
    Language("it", names=("italian",), iso_639_2=("ita",)),
    Language("nl", names=("dutch",), iso_639_2=("nld", "dut")),
    Language("pl", names=("polish",), iso_639_2=("pol",)),
    Language("uk", names=("ukrainian",), iso_639_2=("ukr",)),
    Language("tr", names=("turkish",), iso_639_2=("tur",)),
    Language("pt", names=("portuguese",), iso_639_2=("por",)),
)
#: Language code -> its :class:`Language`.
BY_CODE: dict[str, Language] = {language.code: language for language in TABLE}
#: Language code -> tantivy's Snowball stemmer / stop-word list name.
SNOWBALL: dict[str, str] = {lang.code: lang.snowball for lang in TABLE if lang.snowball}
#: Language codes that get a stemming analyser; everything else uses the standard analyser.
STEMMED_LANGUAGES: tuple[str, ...] = tuple(SNOWBALL)
#: Languages the detector chooses from (ISO 639-1).
DETECTED_LANGUAGES: tuple[str, ...] = tuple(lang.code for lang in TABLE if lang.detected)
#: Lower-case language name -> ISO 639-1 code.
LANGUAGE_NAMES: dict[str, str] = {name: lang.code for lang in TABLE for name in lang.names}
#: ISO 639-2 code -> ISO 639-1 code.
ISO_639_2: dict[str, str] = {code: lang.code for lang in TABLE for code in lang.iso_639_2}


@cache
def _analysers() -> tuple[tantivy.TextAnalyzer, dict[str, tantivy.TextAnalyzer]]:
    def builder() -> tantivy.TextAnalyzerBuilder:
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(
            tantivy.Filter.lowercase()
        )

    plain = builder().build()
    filtered = {
        lang: builder().filter(tantivy.Filter.stopword(name)).build()
        for lang, name in SNOWBALL.items()
    }
    return plain, filtered


@lru_cache(maxsize=65536)
def stop_word_languages(word: str) -> tuple[str, ...]:
    """The codes of the languages (of ``STEMMED_LANGUAGES``) in which ``word`` is a stop word,
    ignoring case; ``()`` for any other word, including one that is no word at all."""
    plain, filtered = _analysers()
    if not plain.analyze(word):
        return ()
    return tuple(lang for lang, analyser in filtered.items() if not analyser.analyze(word))


def is_stop_word(word: str) -> bool:
    """True when ``word`` is a German, English or Russian stop word (tantivy's lists)."""
    return bool(stop_word_languages(word.lower()))
