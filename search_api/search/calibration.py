"""The semantic threshold: the cosine similarity at which a paragraph joins the result set.

Similarity scales differ by encoder, so the threshold is per encoder, calibrated on judged
data (docs/result-set.md, "Calibration"; ``newssearch calibrate`` recomputes it for an index
on a user's own BEIR-format judgments). Resolution order, first that exists:

1. the request's ``min_similarity``, else the process's (``NEWSSEARCH_MIN_SIMILARITY``);
2. the index's own value (catalog meta ``min_similarity``): written by ``newssearch calibrate
   --write``, else recorded the first time the index is searched, from
3. :data:`CALIBRATED` for the index's encoder, or
4. :data:`FALLBACK` (an encoder nobody calibrated: conservative, few semantic members).

Recording the value with the index keeps an index's sets the same when a later release
recalibrates the table below.
"""

from __future__ import annotations

import sqlite3
from contextlib import suppress

from indexer.spaces import base_name
from indexer.stores import Stores
from indexer.use_embedder import USE_MODEL, is_use_model

#: Calibrated per encoder (model name as in the index's ``model_key``): the similarity at which
#: half of the article-level semantic matches of PolitiFact-1k *train* queries are judged
#: relevant (docs/result-set.md).
CALIBRATED: dict[str, float] = {
    "all-MiniLM-L6-v2": 0.64,
    # Universal Sentence Encoder multilingual v3 (indexer/use_embedder.py), same procedure.
    "use-multilingual-v3": 0.63,
}
#: Search-box queries (at most :data:`SHORT_QUERY_WORDS` words) are far less similar to their
#: article than a pasted claim is to its fact-check, so they have thresholds of their own:
#: per encoder, the similarity that 3 in 4 known items reach (the 25th percentile of the
#: judged article's best paragraph, pooled over gnad-xling and bbc-xling, every query language
#: the encoder understands: 0.35 for USE (0.32-0.44 per direction), 0.58 for MiniLM (bbc-xling
#: en); docs/result-set.md, "Calibration"). Their median semantic sets stay small: 2-8
#: paragraphs per query for USE at 0.35 on those corpora.
CALIBRATED_SHORT: dict[str, float] = {"all-MiniLM-L6-v2": 0.58, "use-multilingual-v3": 0.35}
#: Queries of at most this many words use :data:`CALIBRATED_SHORT` (the known-item topics
#: have 4-8 words; PolitiFact claims 16 at the median).
SHORT_QUERY_WORDS = 8
FALLBACK = 0.75
META_KEY = "min_similarity"
SHORT_KEY = "min_similarity_short"


def is_short(text: str) -> bool:
    """Whether query ``text`` is a search-box query (:data:`SHORT_QUERY_WORDS`)."""
    return len(text.split()) <= SHORT_QUERY_WORDS


def meta_key(stores: Stores, space: str | None = None, *, short: bool = False) -> str:
    """The catalog key of encoder ``space``'s threshold: the primary's ``min_similarity``
    (``min_similarity_short`` for short queries), an extra encoder's with ``@<model name>``."""
    base = SHORT_KEY if short else META_KEY
    primary = base_name(stores.catalog.get_meta("model_key") or "")
    if space is None or base_name(space) == primary:
        return base
    return f"{base}@{base_name(space)}"


def calibrated(model: str, *, short: bool = False) -> float:
    """:data:`CALIBRATED` (or :data:`CALIBRATED_SHORT`) for encoder ``model`` (a name or
    ``model_key``); :data:`FALLBACK` for an encoder nobody calibrated."""
    name = base_name(model)
    if is_use_model(name):
        name = USE_MODEL
    table = CALIBRATED_SHORT if short else CALIBRATED
    return table.get(name, FALLBACK)


def semantic_threshold(
    stores: Stores,
    override: float | None = None,
    *,
    space: str | None = None,
    short: bool = False,
) -> float:
    """The threshold a request uses for encoder ``space`` (default: the primary one), for a
    short query or a long one (module docstring). ``override`` and the process setting apply
    to every encoder and query length."""
    if override is not None:
        return override
    if stores.settings.min_similarity is not None:
        return stores.settings.min_similarity
    key = meta_key(stores, space, short=short)
    stored = stores.catalog.get_meta(key)
    if stored is not None:
        return float(stored)
    value = calibrated(space or stores.catalog.get_meta("model_key") or "", short=short)
    with suppress(sqlite3.OperationalError):  # another process holds the write lock: next time
        stores.catalog.set_meta(key, str(value))
    return value
