"""Fusion maths on hand-computed cases."""

from __future__ import annotations

import pytest

from indexer.models import Hit
from search_api.fusion import RRF_K, convex, normalise, rrf
from search_api.grouping import group_by_article


def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(p, s) for p, s in pairs]


LEX = hits(("a:0", 12.0), ("b:0", 9.0), ("c:0", 3.0))
DEN = hits(("b:0", 0.9), ("d:0", 0.8), ("a:0", 0.5))


def test_rrf_hand_computed() -> None:
    fused = {h.paragraph_id: h.score for h in rrf([LEX, DEN])}
    assert fused["a:0"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b:0"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c:0"] == pytest.approx(1 / 63)
    assert fused["d:0"] == pytest.approx(1 / 62)
    assert [h.paragraph_id for h in rrf([LEX, DEN])] == ["b:0", "a:0", "d:0", "c:0"]
    assert RRF_K == 60


def test_rrf_weights_and_k() -> None:
    fused = {h.paragraph_id: h.score for h in rrf([LEX, DEN], k=1, weights=[2.0, 0.5])}
    assert fused["a:0"] == pytest.approx(2 / 2 + 0.5 / 4)
    assert fused["d:0"] == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError):
        rrf([LEX, DEN], weights=[1.0])
    with pytest.raises(ValueError):
        rrf([LEX], k=0)


def test_rrf_ties_break_by_id() -> None:
    fused = rrf([hits(("y:0", 1.0)), hits(("x:0", 1.0))])
    assert [h.paragraph_id for h in fused] == ["x:0", "y:0"]


def test_minmax_and_zscore() -> None:
    assert normalise(LEX) == {"a:0": 1.0, "b:0": pytest.approx(6 / 9), "c:0": 0.0}
    z = normalise(hits(("a", 1.0), ("b", 3.0)), "zscore")
    assert z == {"a": pytest.approx(-1.0), "b": pytest.approx(1.0)}
    assert normalise(hits(("a", 2.0), ("b", 2.0))) == {"a": 1.0, "b": 1.0}
    assert normalise([]) == {}


def test_convex_hand_computed() -> None:
    fused = {h.paragraph_id: h.score for h in convex(LEX, DEN, alpha=0.25)}
    # lexical minmax: a 1, b 2/3, c 0; dense minmax: b 1, d 0.75, a 0; missing -> 0
    assert fused["a:0"] == pytest.approx(0.25 * 1 + 0.75 * 0)
    assert fused["b:0"] == pytest.approx(0.25 * 2 / 3 + 0.75 * 1)
    assert fused["c:0"] == pytest.approx(0.0)
    assert fused["d:0"] == pytest.approx(0.75 * 0.75)
    assert [h.paragraph_id for h in convex(LEX, DEN, alpha=1.0)][:1] == ["a:0"]
    with pytest.raises(ValueError):
        convex(LEX, DEN, alpha=1.5)


def test_group_by_article_takes_best_paragraph() -> None:
    ranked = hits(("a:2", 0.9), ("b:0", 0.8), ("a:0", 0.7), ("c:1", 0.6), ("b:3", 0.5))
    groups = group_by_article(ranked)
    assert [g.article_id for g in groups] == ["a", "b", "c"]
    assert [g.score for g in groups] == [0.9, 0.8, 0.6]
    assert [h.paragraph_id for h in groups[0].hits] == ["a:2", "a:0"]
    assert [h.paragraph_id for h in groups[1].hits] == ["b:0", "b:3"]


def test_group_handles_colons_in_article_ids() -> None:
    groups = group_by_article(hits(("url:x:y:3", 1.0), ("url:x:y:4", 0.5)))
    assert [g.article_id for g in groups] == ["url:x:y"]
