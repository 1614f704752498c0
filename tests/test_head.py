"""search_api/search/head.py: the ranked head over arrays equals the reference chain
(convex_many -> group_by_article -> blend, and rank's head) group for group, bit for bit, on
generated candidate lists full of ties and on the engine's real requests."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.models import Hit
from search_api.fusion import convex_many
from search_api.grouping import AGGREGATIONS, ArticleGroup, group_by_article
from search_api.search import dense, head
from search_api.search.article_signal import blend
from search_api.search.resultset import rank
from search_api.search.table import ArticleTable

#: Few distinct scores, so that ties are common.
SCORES = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, -0.0]) | st.floats(-5, 5, width=32)


def _table(paragraphs: list[int]) -> ArticleTable:
    """A table of ``len(paragraphs)`` articles (ids with prefixes of one another, so that id
    order and ``{id}:{n}`` order differ), article ``a`` holding ``paragraphs[a]``."""
    ids = tuple(sorted(f"a{i % 3}" + "-x" * (i // 3) for i in range(len(paragraphs))))
    owners = np.repeat(np.arange(len(ids), dtype=np.int64), paragraphs)
    return ArticleTable(
        1, ids, np.zeros(len(ids), np.int64), {}, np.arange(len(owners), dtype=np.int64) * 7, owners
    )


def _pids(table: ArticleTable) -> list[tuple[str, int]]:
    """(paragraph id, vec_id) of every paragraph of the table."""
    out, seen = [], {}
    for pos, o in enumerate(table.paragraph_ordinals.tolist()):
        n = seen.get(o, 0)
        seen[o] = n + 1
        out.append((f"{table.ids[o]}:{n}", int(table.paragraph_vec_ids[pos])))
    return out


@st.composite
def _ranking(draw: Any, pids: list[tuple[str, int]], table: ArticleTable, scoped: bool) -> Any:
    chosen = draw(st.lists(st.sampled_from(pids), unique=True, max_size=len(pids)))
    scores = [draw(SCORES) for _ in chosen]
    hits = [Hit(p, s) for (p, _), s in zip(chosen, scores, strict=True)]
    vec = np.asarray([v for _, v in chosen], dtype=np.int64) if draw(st.booleans()) else None
    scope = None
    if scoped and draw(st.booleans()):
        scope = np.asarray(draw(st.lists(st.booleans(), min_size=table.size, max_size=table.size)))
    return head.Ranking(hits, vec, scope)


def _view(groups: list[ArticleGroup]) -> list[Any]:
    return [(g.article_id, g.score, list(g.hits), g.article_component) for g in groups]


@settings(max_examples=300, deadline=None)
@given(
    paragraphs=st.lists(st.integers(1, 4), min_size=1, max_size=9),
    data=st.data(),
)
def test_the_head_over_arrays_is_the_reference(paragraphs: list[int], data: st.DataObject) -> None:
    table = _table(paragraphs)
    pids = _pids(table)
    n_lists = data.draw(st.integers(1, 3))
    rankings = [data.draw(_ranking(pids, table, scoped=i > 0)) for i in range(n_lists)]
    weights = [data.draw(st.sampled_from([0.0, 0.3, 0.35, 0.5, 0.7, 1.0])) for _ in rankings]
    groups = ["bm25", *["dense"] * (n_lists - 1)]
    method = data.draw(st.sampled_from(["minmax", "zscore"]))
    aggregate = data.draw(st.sampled_from(AGGREGATIONS))
    article_rows = data.draw(
        st.lists(st.sampled_from(range(table.size)), unique=True, max_size=table.size)
    )
    article_hits = [Hit(f"{table.ids[o]}:0", data.draw(SCORES)) for o in article_rows]
    article_vec = None
    if data.draw(st.booleans()):  # the vec_id of each article's first paragraph
        first = table.paragraph_vec_ids[np.searchsorted(table.paragraph_ordinals, article_rows)]
        article_vec = np.asarray(first, dtype=np.int64)
    articles = head.Ranking(article_hits, article_vec)
    weight = data.draw(st.sampled_from([0.0, 0.2, 0.5]))
    direct = data.draw(st.booleans())

    if direct:
        plan_fusion, plan_direct = None, rankings[0]
        fused = list(rankings[0].hits)
    else:
        plan_fusion = head.Fusion(rankings, weights, groups, method)
        plan_direct = None
        applies = [dense.applies(table, r.scope) for r in rankings]
        fused = convex_many(
            [r.hits for r in rankings], weights, method=method, applies=applies, groups=groups
        )
    reference = blend(group_by_article(fused, aggregate), articles.hits, weight)

    got = head.ranked_head(plan_fusion, plan_direct, aggregate, articles, weight, table)
    assert got is not None
    fast, ordinals = got
    assert _view(fast) == _view(reference)
    assert ordinals.tolist() == [table.ordinal(g.article_id) for g in reference]
    # rank's head from the ordinals is the head it finds by id
    members = np.asarray(
        data.draw(st.lists(st.booleans(), min_size=table.size, max_size=table.size))
    )
    coord = np.zeros(table.size, np.int64)
    best = np.full(table.size, -np.inf)
    by_id = rank(table, members, reference, coord, best)
    by_ordinal = rank(table, members, fast, coord, best, ordinals)
    assert by_id[0].tolist() == by_ordinal[0].tolist()
    assert np.array_equal(by_id[1], by_ordinal[1], equal_nan=True)
    assert {o: _view([g]) for o, g in by_id[2].items()} == {
        o: _view([g]) for o, g in by_ordinal[2].items()
    }


def test_the_head_declines_what_it_does_not_reproduce() -> None:
    """A repeated paragraph in a list, or a paragraph the table does not hold: None (the
    engine then runs the reference)."""
    table = _table([2, 1])
    twice = head.Ranking([Hit("a0:0", 1.0), Hit("a0:0", 0.5)])
    assert head.ranked_head(None, twice, "max", None, 0.0, table) is None
    unknown = head.Ranking([Hit("zz:0", 1.0)])
    assert head.ranked_head(None, unknown, "max", None, 0.0, table) is None
    plan = head.Fusion(
        [head.Ranking([Hit("a0:0", 1.0)]), unknown], [0.5, 0.5], ["a", "b"], "zscore"
    )
    assert head.ranked_head(plan, None, "max", None, 0.0, table) is None
    # groups that do not stand together, with a scoped list: the reference's per-paragraph
    # order of summing them is not one order
    one = head.Ranking([Hit("a0:0", 1.0), Hit("a1:0", 0.5)])
    scoped = head.Ranking([Hit("a0:1", 1.0)], scope=np.asarray([True, False]))
    mixed = head.Fusion([one, scoped, one], [0.3, 0.3, 0.4], ["a", "b", "a"], "zscore")
    assert head.ranked_head(mixed, None, "max", None, 0.0, table) is None
    empty = head.ranked_head(None, head.Ranking([]), "decay", None, 0.2, table)
    assert empty is not None and empty[0] == [] and len(empty[1]) == 0


def test_an_article_listed_twice_falls_back() -> None:
    table = _table([1, 1])
    groups = head.Ranking([Hit("a0:0", 1.0), Hit("a1:0", 0.5)])
    twice = head.Ranking([Hit("a0:0", 2.0), Hit("a0:0", 1.0)])
    assert head.ranked_head(None, groups, "max", twice, 0.2, table) is None
    once = head.Ranking([Hit("a0:0", 2.0), Hit("a1:0", 1.0)])
    got = head.ranked_head(None, groups, "max", once, 0.2, table)
    assert got is not None
    assert _view(got[0]) == _view(blend(group_by_article(list(groups.hits)), once.hits, 0.2))
