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

from indexer.stores import Stores

#: Calibrated per encoder (model name as in the index's ``model_key``): the similarity at which
#: half of the article-level semantic matches of PolitiFact-1k *train* queries are judged
#: relevant (docs/result-set.md).
CALIBRATED: dict[str, float] = {
    "all-MiniLM-L6-v2": 0.64,
    # Universal Sentence Encoder multilingual v3 (indexer/use_embedder.py), same procedure.
    "use-multilingual-v3": 0.63,
}
FALLBACK = 0.75
META_KEY = "min_similarity"


def semantic_threshold(stores: Stores, override: float | None = None) -> float:
    """The threshold a request uses (module docstring)."""
    if override is not None:
        return override
    if stores.settings.min_similarity is not None:
        return stores.settings.min_similarity
    stored = stores.catalog.get_meta(META_KEY)
    if stored is not None:
        return float(stored)
    model = (stores.catalog.get_meta("model_key") or "").split("|", 1)[0]
    value = CALIBRATED.get(model.rsplit("/", 1)[-1], FALLBACK)
    with suppress(sqlite3.OperationalError):  # another process holds the write lock: next time
        stores.catalog.set_meta(META_KEY, str(value))
    return value
