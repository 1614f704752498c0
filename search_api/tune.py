"""``newssearch tune``: choose an index's fusion defaults on a user's own BEIR judgments.

The corpus must already be in the index (as ``newssearch eval --no-ingest`` assumes); the data
set is read with :func:`search_api.evaluation.load_beir` and scored with its
:func:`~search_api.evaluation.compute_metrics`, so the figures are ``newssearch eval``'s.

Contracts:
- The grid (:func:`grid`): convex fusion, ``alpha`` 0.0-1.0 in steps of 0.1 x ``minmax`` |
  ``zscore``, and RRF with ``k`` in 10, 30, 60, 100; plus the current default when it is not
  on the grid. Everything else (article score, candidate depth, match, threshold) stays as the
  index is searched, and is recorded.
- Exactness: every judged query is searched as ``newssearch eval`` searches it (plain words,
  hybrid, unfolded, ``limit`` articles). Its candidate lists are retrieved once
  (``SearchEngine.candidates``) and its result set computed once (``SearchEngine.result_set``);
  for each grid point the lists are fused by the engine's own ``_fuse`` and grouped by
  article as the engine groups them, and the members are ordered as
  :func:`search_api.search.resultset.rank` orders them: the ranked head by fused article
  score, then the set's tail, whose order does not depend on fusion (it is taken from the
  set). Membership does not depend on fusion either. A query where the head's members would
  differ from the set's is searched in full (``engine.search``) instead. So the figure of a
  grid point is exactly what ``newssearch eval`` reports once it is the index's default
  (tests/test_tune.py checks it). Cost on PolitiFact-1k train (472 queries, 21k paragraphs,
  2 shared cores): 3 min for the 26 grid points (most of it the engine's own fusion and
  grouping), against 10-20 min for a full search (50-100 ms) per grid point and query.
- Selection: the best mean of ``metric`` over the split's queries; ties go to the current
  default, then to the grid's order. The stored record (:class:`~search_api.schemas.TunedFusion`)
  holds the winning method plus the best parameters of each method, the figure, the data
  set, split, date, grid, and bm25 / dense mode's figures (``eval``'s bm25 and dense runs), so
  the margin over the better single retriever is on record too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer.settings import Settings
from indexer.stores import Stores
from search_api.evaluation import (
    DEFAULT_LIMIT,
    MEASURES,
    EvaluationError,
    Run,
    compute_metrics,
    load_beir,
    plain_query,
    search_run,
)
from search_api.fusion import Normalisation
from search_api.schemas import Fusion, FusionInEffect, SearchRequest, TunedFusion
from search_api.search.resultset import ResultSet, rank
from search_api.search.tuned import FIELDS

ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))
NORMALISATIONS: tuple[Normalisation, ...] = ("minmax", "zscore")
RRF_KS = (10, 30, 60, 100)
#: Means closer than this are a tie.
TIE = 1e-12

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FusionPoint:
    """One fusion configuration of the sweep."""

    fusion: Fusion
    alpha: float | None = None
    normalisation: Normalisation | None = None
    rrf_k: int | None = None

    @classmethod
    def of(cls, defaults: FusionInEffect) -> FusionPoint:
        """The configuration ``defaults`` give a hybrid request that names none."""
        if defaults.fusion == "convex":
            return cls("convex", alpha=defaults.alpha, normalisation=defaults.normalisation)
        return cls("rrf", rrf_k=defaults.rrf_k)

    def request(self) -> dict[str, Any]:
        """The :class:`SearchRequest` fields that select this configuration."""
        if self.fusion == "convex":
            return {"fusion": "convex", "alpha": self.alpha, "normalisation": self.normalisation}
        return {"fusion": "rrf", "rrf_k": self.rrf_k}

    @property
    def label(self) -> str:
        """``convex alpha=0.3 zscore`` / ``rrf k=60``."""
        if self.fusion == "convex":
            return f"convex alpha={self.alpha:g} {self.normalisation}"
        return f"rrf k={self.rrf_k}"


def grid() -> list[FusionPoint]:
    """The swept configurations, in the order that breaks ties (module docstring)."""
    convex = [
        FusionPoint("convex", alpha=a, normalisation=n) for n in NORMALISATIONS for a in ALPHAS
    ]
    return [*convex, *(FusionPoint("rrf", rrf_k=k) for k in RRF_KS)]


def grid_record() -> dict[str, dict[str, list[Any]]]:
    """The grid as stored with the tuned value."""
    return {
        "convex": {"alpha": list(ALPHAS), "normalisation": list(NORMALISATIONS)},
        "rrf": {"rrf_k": list(RRF_KS)},
    }


@dataclass
class Scored:
    """A configuration's metrics on the split (means over every judged query)."""

    point: FusionPoint
    metrics: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """``{"label", "fusion", <its parameters>, "metrics"}``."""
        return {"label": self.point.label, **self.point.request(), "metrics": self.metrics}


@dataclass
class TuneResult:
    """What a sweep found (see :meth:`as_dict` for the ``--json`` document)."""

    dataset: str
    split: str
    queries: int
    metric: str
    #: Every configuration, best first (the winner first).
    ranked: list[Scored]
    winner: Scored
    current: Scored
    bm25: dict[str, float]
    dense: dict[str, float]
    record: TunedFusion
    missing_judged: int = 0
    judged: int = 0
    #: Query x grid points searched in full instead of re-fused (:func:`_ordered_ids`).
    full_searches: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def better_single(self) -> str:
        """``bm25`` or ``dense``: the better single retriever on ``metric``."""
        return "bm25" if self.bm25[self.metric] >= self.dense[self.metric] else "dense"

    @property
    def margin(self) -> float:
        """The winner's ``metric`` minus the better single retriever's."""
        single = self.bm25 if self.better_single == "bm25" else self.dense
        return self.winner.metrics[self.metric] - single[self.metric]

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document (unrounded means)."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "queries": self.queries,
            "metric": self.metric,
            "winner": self.winner.as_dict(),
            "current_default": self.current.as_dict(),
            "bm25": self.bm25,
            "dense": self.dense,
            "better_single": self.better_single,
            "margin": self.margin,
            "results": [s.as_dict() for s in self.ranked],
            "record": self.record.model_dump(mode="json"),
            "judged_articles": self.judged,
            "judged_articles_missing": self.missing_judged,
            "full_searches": self.full_searches,
            "seconds": self.seconds,
        }


def _best(scored: Sequence[Scored], metric: str, current: FusionPoint) -> Scored:
    """The best mean of ``metric``; ties to ``current``, then to the first in ``scored``."""
    top = max(s.metrics[metric] for s in scored)
    tied = [s for s in scored if top - s.metrics[metric] <= TIE]
    return next((s for s in tied if s.point == current), tied[0])


def _ordered_ids(
    engine: Any,
    rs: ResultSet,
    members: np.ndarray[Any, Any],
    no_coord: np.ndarray[Any, Any],
    no_similarity: np.ndarray[Any, Any],
    req: SearchRequest,
    got: Any,
    limit: int,
) -> list[str] | None:
    """The first ``limit`` article ids of ``req``'s result set (module docstring), reusing the
    set ``rs`` computed for the same query under another fusion; None when the ranked head's
    members differ from the set's (then the tail's order would not carry over)."""
    groups = engine.ranked_groups(req, got)  # as SearchEngine._compute
    order, _, ranked = rank(rs.table, members, groups, no_coord, no_similarity)
    if ranked.keys() != rs.groups.keys():
        return None
    head = order[: len(ranked)]
    tail = rs.order[len(rs.groups) :]
    ids = rs.table.ids
    return [ids[int(o)] for o in np.concatenate([head, tail])[:limit]]


def tune(
    stores: Stores,
    dataset_dir: Path,
    *,
    split: str = "train",
    metric: str = "nDCG@10",
    limit: int = DEFAULT_LIMIT,
    on_progress: ProgressFn | None = None,
) -> TuneResult:
    """Sweep :func:`grid` on ``dataset_dir``'s ``split`` over the index of ``stores`` and pick
    the winner (module docstring); nothing is written (:func:`search_api.search.tuned.
    write_tuned` stores ``result.record``). ``on_progress(stage, done, total)`` after each
    query of a stage (``hybrid``, ``bm25``, ``dense``).

    Raises :class:`EvaluationError` for an unusable data set, an unknown ``metric``, an index
    holding none of the judged articles, or a retriever that failed.
    """
    from search_api.engine import SearchEngine

    if metric not in MEASURES:
        raise EvaluationError(f"unknown metric {metric!r} (use {', '.join(MEASURES)})")
    dataset = load_beir(dataset_dir, split)
    engine = SearchEngine(stores)
    try:
        return _sweep(engine, stores, dataset, metric, limit, on_progress)
    finally:
        engine.close()


def _sweep(
    engine: Any,
    stores: Stores,
    dataset: Any,
    metric: str,
    limit: int,
    on_progress: ProgressFn | None,
) -> TuneResult:
    table = engine.tables.current()
    judged = {doc for docs in dataset.qrels.values() for doc, s in docs.items() if s > 0}
    missing = sum(1 for doc in judged if table.ordinal(doc) is None)
    if judged and missing == len(judged):
        raise EvaluationError(
            f"the index {stores.settings.index} holds none of the {len(judged)} articles judged "
            f"relevant in {dataset.split}: ingest the data set's corpus first "
            f"(newssearch eval {dataset.root} --index {stores.settings.index} does)"
        )
    defaults: FusionInEffect = engine.fusion_defaults()
    current = FusionPoint.of(defaults)
    points = grid()
    if current not in points:
        points.append(current)
    runs: dict[FusionPoint, dict[str, list[str]]] = {p: {} for p in points}
    total = len(dataset.queries)
    no_coord = np.zeros(table.size, dtype=np.int64)
    no_similarity = np.full(table.size, -np.inf)
    full_searches = 0
    started = time.perf_counter()
    for done, (qid, text) in enumerate(dataset.queries.items(), start=1):
        q = plain_query(text)
        if not q:
            for p in points:
                runs[p][qid] = []
        else:
            base = {"q": q, "limit": limit, "passages": 1, "fold": False, "mode": "hybrid"}
            req = SearchRequest(**base)
            got = engine.candidates(req)
            rs = engine.result_set(req)
            if got.degraded or rs.degraded:
                raise EvaluationError(
                    f"query {qid}: {', '.join(got.degraded or rs.degraded)} unavailable, "
                    "results would not be hybrid"
                )
            if rs.table is not table:  # the index changed under the sweep
                raise EvaluationError("the index changed during the sweep: run it again")
            members = rs.members()
            for p in points:
                variant = SearchRequest(**base, **p.request())
                ids = _ordered_ids(
                    engine, rs, members, no_coord, no_similarity, variant, got, limit
                )
                if ids is None:  # never seen for plain hybrid queries; exact anyway
                    full_searches += 1
                    ids = [r.article_id for r in engine.search(variant).results]
                runs[p][qid] = ids
        if on_progress is not None:
            on_progress("hybrid", done, total)
    seconds = {"hybrid_sweep": time.perf_counter() - started}
    scored = [Scored(p, compute_metrics(dataset.qrels, runs[p])) for p in points]
    started = time.perf_counter()
    singles: dict[str, dict[str, float]] = {}
    for mode in ("bm25", "dense"):

        def tick(n: int, mode: str = mode) -> None:
            if on_progress is not None:
                on_progress(mode, n, total)

        run: Run = search_run(engine, dataset.queries, {"mode": mode}, limit=limit, on_query=tick)
        singles[mode] = compute_metrics(dataset.qrels, run)
    seconds["single_retrievers"] = time.perf_counter() - started
    on_grid = scored[: len(grid())]
    winner = _best(on_grid, metric, current)
    best_convex = _best([s for s in on_grid if s.point.fusion == "convex"], metric, current)
    best_rrf = _best([s for s in on_grid if s.point.fusion == "rrf"], metric, current)
    ranked = sorted(scored, key=lambda s: -s.metrics[metric])  # stable: grid order in ties
    ranked.remove(winner)
    ranked.insert(0, winner)
    settings = stores.settings
    alpha, norm = best_convex.point.alpha, best_convex.point.normalisation
    rrf_k = best_rrf.point.rrf_k
    assert alpha is not None and norm is not None and rrf_k is not None  # grid points set them
    record = TunedFusion(
        fusion=winner.point.fusion,
        alpha=alpha,
        normalisation=norm,
        rrf_k=rrf_k,
        metric=metric,
        value=winner.metrics[metric],
        dataset=dataset.name,
        split=dataset.split,
        queries=total,
        date=datetime.now(UTC).replace(microsecond=0),
        bm25=singles["bm25"][metric],
        dense=singles["dense"][metric],
        grid=grid_record(),
        measured_with={
            "aggregate": settings.aggregate,
            "candidates": settings.candidates,
            "limit": limit,
            "encoder": stores.catalog.get_meta("model_key"),
            "lexical": stores.lexical.name,
            "index_generation": table.generation,
        },
    )
    return TuneResult(
        dataset=dataset.name,
        split=dataset.split,
        queries=total,
        metric=metric,
        ranked=ranked,
        winner=winner,
        current=next(s for s in scored if s.point == current),
        bm25=singles["bm25"],
        dense=singles["dense"],
        record=record,
        missing_judged=missing,
        judged=len(judged),
        full_searches=full_searches,
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )


def overriding_settings(settings: Settings) -> list[str]:
    """The fusion settings the operator set explicitly: they win over a tuned value
    (search_api/search/tuned.py), so searches will not use what ``tune`` stores for them."""
    return [name for name in FIELDS if name in settings.model_fields_set]
