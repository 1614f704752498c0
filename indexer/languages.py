"""The languages that get their own analysers, and their stop words: one place for both.

German, English and Russian text is Snowball-stemmed (``SNOWBALL`` names tantivy's stemmer per
language code); every other language gets a standard analyser. Stop words are *not* removed
from the index (phrases such as ``"Die Linke"`` or ``"Nur-Sultan"`` must match exactly); the
query parser drops optional stop-word terms from plain queries (:func:`is_stop_word`).

The stop-word lists are tantivy's built-in ones (Lucene's English set, Snowball's German and
Russian sets), not a copy typed out here: a word is a stop word when tantivy's stop-word filter
for one of the languages removes it.
"""

from __future__ import annotations

from functools import cache, lru_cache

import tantivy

#: Language code -> tantivy's Snowball stemmer / stop-word list name.
SNOWBALL: dict[str, str] = {"de": "german", "en": "english", "ru": "russian"}
#: Language codes that get a stemming analyser; everything else uses the standard analyser.
STEMMED_LANGUAGES: tuple[str, ...] = tuple(SNOWBALL)


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
