"""Facet counts over a whole result set (multi-select: a facet leaves its own filter out).

For each field the counts are over the set as it would be without that field's filter, so a
researcher who picked ``source=A`` still sees how many articles ``B`` and ``C`` would add;
every other filter applies. With no filter on a single-valued field (source, language,
section, year, month) its values plus ``other`` plus ``missing`` add up to ``total``, which
is then the set's total. Authors are multi-valued: an article counts once per author, and
``missing`` counts articles without any. ``year`` and ``month`` leave the date filter out.

Folded (``fold=true``), every count is of stories, each counted under the values of its
representative (:meth:`~search_api.search.resultset.ResultSet.counted`), so the same sums
equal the folded ``total``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from search_api.schemas import Facet, FacetName, FacetValue
from search_api.search.resultset import ResultSet
from search_api.search.table import FACET_FIELDS, UNDATED


def all_facets(rs: ResultSet, size: int) -> list[Facet]:
    """Every facet of ``rs``: source, language, section, author, year, month."""
    out = [field_facet(rs, name, size) for name in FACET_FIELDS]
    out.extend(date_facet(rs, unit, size) for unit in ("year", "month"))
    return out


def field_facet(rs: ResultSet, name: FacetName, size: int) -> Facet:
    """Counts per value of one categorical field."""
    members = rs.counted_without(name)
    column = rs.table.columns[name]
    counts, missing = column.counts(members, rs.table.size)
    return _facet(name, len(members), list(column.values), counts, missing, size)


def date_facet(rs: ResultSet, unit: str, size: int) -> Facet:
    """Counts per year (``2022``) or month (``2022-02``), newest first; undated = missing."""
    members = rs.counted_without("date")
    published = rs.table.published[members]
    dated = published[published != UNDATED]
    # Months since 1970 (years: // 12), counted as integers; only the values shown become
    # text (converting every member's date to a string cost ~8 ms per 50,000 members).
    keys = dated.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    kind = "datetime64[M]"
    if unit == "year":
        keys, kind = keys // 12, "datetime64[Y]"
    lo = int(keys.min()) if len(keys) else 0
    per_key = np.bincount(keys - lo) if len(keys) else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(per_key)[::-1]  # newest first: a timeline, not a popularity list
    counts = per_key[present]
    labels = (present[:size] + lo).astype(kind).astype(str)
    shown = zip(labels, counts[:size], strict=True)
    top = [FacetValue(value=str(v), count=int(c)) for v, c in shown]
    other = int(counts[size:].sum())
    name: FacetName = "year" if unit == "year" else "month"
    return Facet(
        field=name, total=len(members), values=top, other=other, missing=len(members) - len(dated)
    )


def _facet(
    name: FacetName,
    total: int,
    values: list[str],
    counts: npt.NDArray[np.int64],
    missing: int,
    size: int,
) -> Facet:
    nonzero = np.flatnonzero(counts)
    # Most frequent first; equal counts by value, so the list is stable.
    ranked = sorted(nonzero.tolist(), key=lambda i: (-int(counts[i]), values[i]))
    top = [FacetValue(value=values[i], count=int(counts[i])) for i in ranked[:size]]
    other = int(sum(int(counts[i]) for i in ranked[size:]))
    return Facet(field=name, total=total, values=top, other=other, missing=missing)
