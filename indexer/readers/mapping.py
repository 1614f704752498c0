# ruff: noqa: RUF002, RUF003 - Cyrillic examples in comments and docstrings are intended
"""Map a flat (or BEIR-style nested) record onto :class:`~indexer.models.Article`.

Canonical fields and the record keys tried for each, in order (keys match case-insensitively,
``-`` and spaces count as ``_``)::

    article_id    id, _id, doc_id, docid, article_id
    title         title, headline
    body          text, content, body, article, article_text, full_text, maintext
    published_at  published_at, published, published_date, publish_date, pubdate, pub_date,
                  publication_date, date_published, date, datetime, gathered_date
    url           url, link, permalink, canonical_url
    source        source, site, publisher, source_name, sitename, outlet
    language      language, lang
    section       section, category, label, topics, topic, categories
    authors       author, authors, byline, creator

The first key holding a usable (non-null, non-blank) value wins, so ``published_*`` beats
``date`` which beats ``gathered_date``. A field missing at the top level is looked up in a
nested ``metadata``/``meta`` object (BEIR corpora keep ``date`` and ``url`` there).

An explicit ``field_map`` (CLI ``--field name=column``) replaces the key list of a field by one
key, which may be a dotted path into nested objects (``metadata.date``). Accepted names: the
canonical names above plus the aliases ``id``, ``text``, ``date``, ``author``.

Derived values: ``source`` that is a url becomes the site name (raw value kept in
``extra["source_url"]``); without a source, the site name of the url's host, else the file stem
(``gnad10k_test.de``). ``language`` falls back to the file name (``*.de.jsonl``), else ``None``
(detection happens later). ``article_id`` falls back to :func:`stable_article_id`. Authors are
split on ``,``, ``;``, ``&``, `` and ``, `` und ``. Titles have their whitespace collapsed; bodies
are kept as given (CRLF normalised, outer whitespace stripped). For records in Russian a literal
``n`` standing for a lost newline is repaired (see :func:`repair_lost_newlines`).

Everything not used for a field goes to ``Article.extra`` unchanged (unused field keys with
null or blank values are dropped).

A record is unusable (:class:`~indexer.errors.RecordError`: reported and skipped, never stored
half-right) when it has no body text (empty, or only whitespace and invisible characters), a
body over :data:`MAX_BODY_CHARS`, a lone surrogate in any string (not text: it cannot be
encoded), a date that cannot be parsed (the record names a date, but none of its date fields
is recognisable: ``"date": "not-a-date"``), or a url that is not http(s)
(``javascript:alert(1)``, ``data:``, a typo such as ``hhttps://``), since a stored url becomes a
link. A site-relative url (``/factchecks/...``) is resolved against a known site base
(:data:`~indexer.readers.names.KNOWN_SITE_BASES`); when none applies, ``url`` stays ``None``
and the raw value is kept in ``extra["url_raw"]`` (it is no link, but it is no harm either).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from indexer.errors import RecordError
from indexer.models import Article, stable_article_id
from indexer.readers.base import base_stem
from indexer.readers.dates import parse_date
from indexer.readers.names import (
    language_from_path,
    normalise_language,
    resolve_url,
    site_name,
)

FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "article_id": ("id", "_id", "doc_id", "docid", "article_id"),
    "title": ("title", "headline"),
    "body": ("text", "content", "body", "article", "article_text", "full_text", "maintext"),
    "published_at": (
        "published_at",
        "published",
        "published_date",
        "publish_date",
        "pubdate",
        "pub_date",
        "publication_date",
        "date_published",
        "date",
        "datetime",
        "gathered_date",
    ),
    "url": ("url", "link", "permalink", "canonical_url"),
    "source": ("source", "site", "publisher", "source_name", "sitename", "outlet"),
    "language": ("language", "lang"),
    "section": ("section", "category", "label", "topics", "topic", "categories"),
    "authors": ("author", "authors", "byline", "creator"),
}
FIELD_ALIASES: dict[str, str] = {
    "id": "article_id",
    "text": "body",
    "date": "published_at",
    "author": "authors",
    **{name: name for name in FIELD_KEYS},
}
NESTED_KEYS = ("metadata", "meta")
NESTED_MARK = "\x00nested:"
_ALL_ALIAS_KEYS = frozenset(key for keys in FIELD_KEYS.values() for key in keys)

_AUTHOR_SPLIT = re.compile(r"\s*(?:[,;&|]|\band\b|\bund\b)\s*", re.IGNORECASE)
_BYLINE_PREFIX = re.compile(r"^(?:by|von)\s+", re.IGNORECASE)
# Russian corpus artefact: newlines that lost their backslash ("месяца.nnДля", "экспорт.nПо").
# A Latin "n" glued between Cyrillic text and a Cyrillic capital cannot be a real letter, so:
# after sentence punctuation it was a paragraph break; between two words, a line break.
_CYRILLIC_CAPITAL = "[\u0410-\u042f\u0401]"
_LOST_PARAGRAPH = re.compile(r"(?<=[.!?…:;)»\"”])n{1,3}(?=[«„\"“]?" + _CYRILLIC_CAPITAL + ")")
_LOST_LINE = re.compile(r"(?<=[\u0400-\u04ff])n(?=[«„\"“]?[A-Z\u0410-\u042f\u0401])")


_SURROGATE = re.compile("[\ud800-\udfff]")
#: Schemes a stored url may have: it is rendered as a link, so never ``javascript:`` & co.
URL_SCHEMES = ("http", "https")


def excerpt(value: Any, limit: int = 60) -> str:
    """A short, printable ``repr`` of ``value`` for a problem's reason (never the whole input)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def is_blank(text: str) -> bool:
    """True when ``text`` has nothing to index: only whitespace, control and invisible format
    characters (zero-width spaces, BOMs), which the chunker would turn into no paragraph."""
    return all(unicodedata.category(ch)[0] in "ZC" for ch in text)


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (JSON's ``"\\ud800"``): not encodable text."""
    return _SURROGATE.search(text) is not None


def surrogate_at(value: Any, where: str = "") -> str | None:
    """The key path of the first string (or key) in a JSON value holding a lone surrogate."""
    if isinstance(value, str):
        return (where or "value") if has_surrogate(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and has_surrogate(key):
                return "a key" if not where else f"a key of {where}"
            found = surrogate_at(item, name)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = surrogate_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


def http_url(value: str) -> str | None:
    """``value`` as a url that may be stored and linked: absolute http(s) with a host.

    Returns the trimmed url, or ``None`` for a relative reference (``/path``, ``page.html``) the
    caller may resolve or drop; raises :class:`RecordError` for any other scheme
    (``javascript:``, ``data:``, ``hhttps:``) and for http(s) without a host. A protocol-relative
    ``//host/path`` becomes ``https://host/path``. Tabs and newlines inside a scheme
    (``java\\tscript:``) do not hide it: browsers drop them, and so does the parser used here.
    """
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an invalid IPv6 literal
        raise RecordError(f"url {excerpt(text)} is not a valid url") from exc
    if not parts.scheme:
        if text.startswith("//") and parts.netloc:
            return "https:" + text
        return None
    if parts.scheme.lower() not in URL_SCHEMES:
        raise RecordError(f"url {excerpt(text)} is not an http(s) url")
    if not parts.hostname:
        raise RecordError(f"url {excerpt(text)} has no host")
    return text


#: Longest accepted article body. The longest real article in the shared corpora has ~33k
#: characters; a multi-megabyte "article" is a dump or a broken record and would cost hours of
#: embedding, so it is reported and skipped instead.
MAX_BODY_CHARS = 1_000_000


def canonical_field_map(field_map: Mapping[str, str] | None) -> dict[str, str]:
    """Validate a user ``field_map`` and key it by canonical field name.

    Raises ``ValueError`` naming the unknown field or the empty column.
    """
    result: dict[str, str] = {}
    for name, column in (field_map or {}).items():
        canonical = FIELD_ALIASES.get(name.strip().lower())
        if canonical is None:
            known = ", ".join(sorted(FIELD_ALIASES))
            raise ValueError(f"unknown field {name!r} in field map (known: {known})")
        if not column.strip():
            raise ValueError(f"empty column name for field {name!r}")
        result[canonical] = column.strip()
    return result


def repair_lost_newlines(text: str) -> str:
    """Repair newlines written as a bare ``n`` in Russian text (the ``ru_news_samples`` corpus).

    ``"месяца.nnДля"`` -> ``"месяца.\\n\\nДля"`` (sentence punctuation before, Cyrillic capital
    after: a paragraph break); ``"сообщаетnРИА"`` -> ``"сообщает РИА"`` (a Cyrillic letter before,
    a capital after: a line break inside a paragraph, e.g. around a link). Anything else is left
    alone.
    """
    return _LOST_LINE.sub(" ", _LOST_PARAGRAPH.sub("\n\n", text))


def _norm_key(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")


def _usable(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return True


def _dig(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class _Picker:
    """Finds field values in one record and remembers which top-level keys were consumed."""

    def __init__(self, record: Mapping[str, Any], field_map: Mapping[str, str]) -> None:
        self.record = record
        self.field_map = field_map
        self.index = {_norm_key(key): key for key in record}
        self.used: set[str] = set()
        self.nested = [
            (value, {_norm_key(key): key for key in value})
            for name in NESTED_KEYS
            if name in self.index and isinstance(value := record[self.index[name]], Mapping)
        ]

    def candidates(self, name: str) -> Iterator[tuple[str, Any]]:
        """Every usable ``(key, value)`` for field ``name``, best first (nothing consumed)."""
        explicit = self.field_map.get(name)
        if explicit is not None:
            value = (
                self.record[explicit] if explicit in self.record else _dig(self.record, explicit)
            )
            if _usable(value):
                yield explicit, value
            return
        for key in FIELD_KEYS[name]:
            original = self.index.get(key)
            if original is not None and _usable(self.record[original]):
                yield original, self.record[original]
        if name == "article_id":
            return
        for nested, nested_index in self.nested:
            for key in FIELD_KEYS[name]:
                original = nested_index.get(key)
                if original is not None and _usable(nested[original]):
                    yield f"{NESTED_MARK}{original}", nested[original]

    def consume(self, key: str) -> None:
        """Mark the top-level entry behind ``key`` as used (nested values stay in extra)."""
        if key.startswith(NESTED_MARK):
            return
        self.used.add(key if key in self.record else key.split(".", 1)[0])

    def pick(self, name: str) -> Any:
        """The value of field ``name`` (its entry consumed), or ``None`` when absent."""
        for key, value in self.candidates(name):
            self.consume(key)
            return value
        return None

    def extra(self) -> dict[str, Any]:
        """Every record entry not consumed by a field (empty entries of field keys dropped)."""
        return {
            key: value
            for key, value in self.record.items()
            if key not in self.used and (_usable(value) or _norm_key(key) not in _ALL_ALIAS_KEYS)
        }


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        for item in value:
            text = _as_text(item)
            if text:
                return text
    return None


def _authors(value: Any) -> tuple[str, ...]:
    names: list[str] = []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("name")
        if not isinstance(item, str):
            continue
        for part in _AUTHOR_SPLIT.split(item):
            name = _BYLINE_PREFIX.sub("", part.strip()).strip()
            if name and name not in names:
                names.append(name)
    return tuple(names)


def _body_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n\n".join(item.strip() for item in value if isinstance(item, str) and item.strip())
    return value if isinstance(value, str) else ""


def _normalise_body(text: str, language: str | None) -> str:
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if language == "ru":
        body = repair_lost_newlines(body)
    return body


def _published_at(picker: _Picker) -> tuple[datetime | None, str | None]:
    """First parseable date candidate and its raw text (unparseable ones before it stay in
    extra); ``RecordError`` when the record has date values but none is recognisable."""
    first: tuple[str, Any] | None = None
    for key, value in picker.candidates("published_at"):
        parsed = parse_date(value)
        if first is None:
            first = (key.removeprefix(NESTED_MARK), value)
        if parsed is not None:
            picker.consume(key)
            return parsed, _as_text(value)
    if first is not None:
        raise RecordError(f"unrecognisable date {excerpt(first[1])} in field {first[0]!r}")
    return None, None


def record_to_article(
    record: Mapping[str, Any], path: Path, field_map: Mapping[str, str] | None = None
) -> Article:
    """Build the :class:`Article` for one record read from ``path`` (see module docstring).

    ``field_map`` must already be canonical (:func:`canonical_field_map`). Raises
    :class:`RecordError` when the record has no body text or fails validation.
    """
    bad = surrogate_at(record)
    if bad is not None:
        raise RecordError(f"invalid Unicode in {bad}: a lone surrogate")
    picker = _Picker(record, field_map or {})
    extra_values: dict[str, Any] = {}

    title = " ".join((_as_text(picker.pick("title")) or "").split())

    raw_language = picker.pick("language")
    language_text = _as_text(raw_language)
    language = normalise_language(language_text) if language_text else None
    if language_text and language is None:
        extra_values["language_raw"] = raw_language
    language = language or language_from_path(path)

    body = _normalise_body(_body_text(picker.pick("body")), language)
    if is_blank(body):
        reason = "no body text (title only)" if title else "empty record: no title, no body"
        raise RecordError(reason)
    if len(body) > MAX_BODY_CHARS:
        raise RecordError(
            f"body of {len(body):,} characters exceeds {MAX_BODY_CHARS:,}: not a news article"
        )

    url_text = _as_text(picker.pick("url"))
    url = http_url(resolve_url(url_text, path)) if url_text else None
    if url_text and url is None:
        extra_values["url_raw"] = url_text

    source = _as_text(picker.pick("source"))
    if source and "//" in source:
        extra_values["source_url"] = source
        source = site_name(source) or source
    source = source or (site_name(url) if url else None) or base_stem(path)

    published_at, date_text = _published_at(picker)
    section = _as_text(picker.pick("section"))
    authors = _authors(picker.pick("authors"))
    # The raw url when it stayed relative: the id stays what it was before urls were checked.
    article_id = _as_text(picker.pick("article_id")) or stable_article_id(
        url or url_text, source, title, date_text
    )

    extra = picker.extra()
    extra.update(extra_values)
    try:
        return Article(
            article_id=article_id,
            title=title,
            body=body,
            source=source,
            url=url,
            published_at=published_at,
            language=language,
            section=section,
            authors=authors,
            extra=extra,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RecordError(f"invalid record ({where}: {first['msg']})") from exc
