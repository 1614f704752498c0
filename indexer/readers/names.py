"""Small normalisers for sources, urls and language codes derived from record values or paths.

Contracts:
- :func:`site_name` turns a url or host into a short publisher name (``https://www.zeit.de/x`` ->
  ``zeit``, ``news.bbc.co.uk`` -> ``bbc``); ``None`` when there is no host.
- :func:`resolve_url` makes a relative url absolute when the file's path names a site listed in
  :data:`KNOWN_SITE_BASES` (e.g. PolitiFact's BEIR corpus stores ``/factchecks/...`` paths);
  otherwise the url is returned unchanged.
- :func:`normalise_language` returns a lower-case ISO 639-1 code or ``None`` (names and ISO 639-2
  codes of the languages in :data:`indexer.languages.TABLE` are recognised too).
- :func:`language_from_path` reads the ``name.<code>.<ext>[.gz]`` convention (``*.de.jsonl``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from indexer.languages import ISO_639_2, LANGUAGE_NAMES
from indexer.readers.base import base_stem

#: Sites whose corpora store site-relative urls: path keyword -> absolute base url.
KNOWN_SITE_BASES: dict[str, str] = {"politifact": "https://www.politifact.com"}

ISO_639_1 = frozenset(
    [
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bh",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
    ]
)

_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "ac", "edu", "or", "ne", "go"}
_HOST_PREFIXES = ("www.", "www2.", "m.", "amp.", "mobile.")


def host_of(url: str) -> str | None:
    """Lower-case host of an absolute url (``None`` for relative urls or garbage)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host or None


def site_name(url_or_host: str) -> str | None:
    """Short publisher name from a url or bare host; ``None`` when no host can be found."""
    text = url_or_host.strip()
    host = host_of(text) if "//" in text else text.lower()
    if not host or "." not in host or " " in host:
        return None
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    labels = [label for label in host.split(".") if label]
    if len(labels) < 2:
        return None
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2]


def resolve_url(url: str, path: Path) -> str:
    """Absolute form of ``url``: site-relative urls are resolved via :data:`KNOWN_SITE_BASES`."""
    if not url.startswith("/") or url.startswith("//"):
        return url
    lowered = str(path).lower()
    for keyword, base in KNOWN_SITE_BASES.items():
        if keyword in lowered:
            return base + url
    return url


def normalise_language(value: str) -> str | None:
    """ISO 639-1 code for ``de``, ``de-DE``, ``de_AT``, ``deu``, ``German`` ...; else ``None``."""
    text = value.strip().lower().replace("_", "-")
    primary = text.split("-", 1)[0]
    if primary in ISO_639_1:
        return primary
    return ISO_639_2.get(primary) or LANGUAGE_NAMES.get(text)


def language_from_path(path: Path) -> str | None:
    """Language code from a ``name.<code>.<ext>`` file name (``gnad10k_test.de.jsonl`` -> de)."""
    stem = base_stem(path)
    if "." not in stem:
        return None
    code = stem.rsplit(".", 1)[1]
    return code if code in ISO_639_1 else None
