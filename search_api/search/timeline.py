"""The timeline view: articles of a result set per interval, beside the corpus per interval.

``count`` is the set's articles published in the interval, ``corpus`` every indexed article
within the request's filters published in it, and ``ratio = count / corpus`` the normalised
attention Media Cloud charts. Buckets run without gaps from the first to the last interval
holding a member; the counts plus ``undated`` add up to ``total`` (the set's total). Intervals
are UTC days, ISO weeks (starting Monday), calendar months or years; ``auto`` picks days up to
3 months of span, weeks up to 3 years, months up to 30 years, else years. ``split_by`` adds a
series per value of one facet (its ``size`` most frequent values in the set).

Folded (``fold=true``), ``count`` and ``corpus`` count stories, each at its representative's
date (:meth:`~search_api.search.resultset.ResultSet.counted`; a story of the set is
represented by the same article in both), so counts + ``undated`` = the folded ``total``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from search_api.schemas import Interval, SplitBy, Timeline, TimelineBucket
from search_api.search.resultset import ResultSet
from search_api.search.table import UNDATED

Unit = Literal["day", "week", "month", "year"]
_DAY = 86_400_000_000  # microseconds
#: 1970-01-05, the first Monday of the epoch, in days.
_MONDAY = 4


def choose_interval(first: int, last: int) -> Unit:
    """The ``auto`` interval for a span from ``first`` to ``last`` (epoch microseconds)."""
    days = (last - first) / _DAY
    if days <= 92:
        return "day"
    if days <= 3 * 366:
        return "week"
    if days <= 30 * 366:
        return "month"
    return "year"


def bucket_keys(published: npt.NDArray[np.int64], unit: Unit) -> npt.NDArray[np.int64]:
    """Integer bucket per epoch-microseconds date (days, weeks, months or years since 1970)."""
    days: npt.NDArray[np.int64] = np.floor_divide(published, _DAY)
    if unit == "day":
        return days
    if unit == "week":
        weeks: npt.NDArray[np.int64] = np.floor_divide(days - _MONDAY, 7)
        return weeks
    stamps = published.astype("datetime64[us]")
    out: npt.NDArray[np.int64] = stamps.astype(
        "datetime64[M]" if unit == "month" else "datetime64[Y]"
    ).astype(np.int64)
    return out


def bucket_start(key: int, unit: Unit) -> date:
    """The first day of bucket ``key``."""
    epoch = date(1970, 1, 1)
    if unit == "day":
        return epoch + timedelta(days=key)
    if unit == "week":
        return epoch + timedelta(days=_MONDAY + 7 * key)
    if unit == "month":
        return date(1970 + key // 12, key % 12 + 1, 1)
    return date(1970 + key, 1, 1)


def timeline(rs: ResultSet, interval: Interval, split_by: SplitBy | None, size: int) -> Timeline:
    """The timeline of ``rs`` (module docstring)."""
    table = rs.table
    members = rs.order
    published = table.published[members]
    dated = published != UNDATED
    corpus_mask = np.ones(table.size, dtype=bool)
    for mask in rs.filter_masks.values():
        corpus_mask &= mask
    corpus_all = table.published[rs.counted(corpus_mask)]
    corpus_dated = corpus_all[corpus_all != UNDATED]
    total = len(members)
    undated = int((~dated).sum())
    if not dated.any():
        unit: Unit = "day" if interval == "auto" else interval
        return Timeline(
            interval=unit,
            total=total,
            undated=undated,
            corpus_undated=len(corpus_all) - len(corpus_dated),
            split_by=split_by,
            buckets=[],
        )
    when = published[dated]
    unit = choose_interval(int(when.min()), int(when.max())) if interval == "auto" else interval
    keys = bucket_keys(when, unit)
    lo, hi = int(keys.min()), int(keys.max())
    counts = np.bincount(keys - lo, minlength=hi - lo + 1)
    ckeys = bucket_keys(corpus_dated, unit)
    ckeys = ckeys[(ckeys >= lo) & (ckeys <= hi)]
    corpus = np.bincount(ckeys - lo, minlength=hi - lo + 1)
    series = (
        _series(rs, split_by, size, members[dated], keys - lo, hi - lo + 1) if split_by else None
    )
    buckets = [
        TimelineBucket(
            start=bucket_start(lo + i, unit),
            count=int(counts[i]),
            corpus=int(corpus[i]),
            ratio=float(counts[i] / corpus[i]) if corpus[i] else 0.0,
            series={name: int(values[i]) for name, values in series.items()} if series else None,
        )
        for i in range(hi - lo + 1)
    ]
    return Timeline(
        interval=unit,
        total=total,
        undated=undated,
        corpus_undated=len(corpus_all) - len(corpus_dated),
        split_by=split_by,
        buckets=buckets,
    )


def _series(
    rs: ResultSet,
    split_by: SplitBy,
    size: int,
    members: npt.NDArray[np.int64],
    keys: npt.NDArray[np.int64],
    width: int,
) -> dict[str, npt.NDArray[np.int64]]:
    """Per value of ``split_by`` (top ``size`` in the set), member counts per bucket."""
    column = rs.table.columns[split_by]
    counts, _ = column.counts(rs.order, rs.table.size)
    top = sorted(np.flatnonzero(counts).tolist(), key=lambda i: (-int(counts[i]), column.values[i]))
    out: dict[str, npt.NDArray[np.int64]] = {}
    for code in top[:size]:
        has = column.has_code(code, rs.table.size)[members]
        out[column.values[code]] = np.bincount(keys[has], minlength=width)
    return out
