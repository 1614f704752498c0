"""Explanations (``explain=true``): why an article is in the set and how its score was made.

Per passage: each retriever's rank and raw score among its ranked candidates, the score
normalised as the fusion normalised it, and its weighted component of the fused score (convex:
``alpha * norm(bm25)`` and ``(1 - alpha) * norm(dense)``, a missing score taking that list's
minimum; RRF: ``1 / (k + rank)`` per list). Per article: the sides that made it a member,
the query words and phrases it contains, its best similarity against the threshold, and each
candidate paragraph's part in the article score (the weights of the aggregation, so the
contributions add up to the score).
"""

from __future__ import annotations

import math
from typing import Literal

from indexer.models import Hit
from indexer.settings import Settings
from search_api.fusion import normalise
from search_api.grouping import DECAY
from search_api.schemas import (
    ArticleExplanation,
    Contribution,
    Explanation,
    FusionInEffect,
    SearchRequest,
)
from search_api.search.resultset import ResultSet
from search_api.search.tuned import effective_fusion


class Explainer:
    """Explanations for the pages of one result set (the normalisations computed once)."""

    def __init__(
        self,
        rs: ResultSet,
        req: SearchRequest,
        settings: Settings,
        defaults: FusionInEffect | None = None,
    ) -> None:
        """``defaults``: the fusion defaults in effect (search_api/search/tuned.py; the
        settings' values when not given)."""
        self.rs = rs
        self.mode = req.mode
        fusion = defaults or effective_fusion(settings, None)
        self.method = req.fusion or fusion.fusion
        self.alpha = fusion.alpha if req.alpha is None else req.alpha
        self.norm = req.normalisation or fusion.normalisation
        self.rrf_k = req.rrf_k or fusion.rrf_k
        self.aggregate = req.aggregate or settings.aggregate
        self.ranks = {
            name: {h.paragraph_id: (i, h.score) for i, h in enumerate(hits, start=1)}
            for name, hits in (("bm25", rs.lexical_hits), ("dense", rs.dense_hits))
        }
        self.fused = self.mode == "hybrid" and bool(rs.lexical_hits) and bool(rs.dense_hits)
        self.normalised = {
            name: normalise(hits, self.norm) if self.method == "convex" else {}
            for name, hits in (("bm25", rs.lexical_hits), ("dense", rs.dense_hits))
        }

    def fusion(self) -> str:
        """The fusion in words, with its parameters."""
        if not self.fused:
            return f"{'bm25' if self.mode == 'bm25' or not self.rs.dense_hits else 'dense'} only"
        if self.method == "convex":
            lex, den = self.alpha, 1 - self.alpha
            return f"convex: {lex:g} x {self.norm}(bm25) + {den:g} x {self.norm}(dense)"
        return f"rrf: sum of 1 / ({self.rrf_k} + rank)"

    def passage(self, paragraph_id: str, fused: float | None) -> Explanation:
        """The explanation of one shown paragraph."""
        bm25 = self.ranks["bm25"].get(paragraph_id)
        dense = self.ranks["dense"].get(paragraph_id)
        out = Explanation(
            bm25_rank=bm25[0] if bm25 else None,
            bm25_score=bm25[1] if bm25 else None,
            dense_rank=dense[0] if dense else None,
            dense_score=dense[1] if dense else None,
            fused_score=fused,
        )
        if not self.fused or fused is None:
            return out
        if self.method == "convex":
            lex, den = self.normalised["bm25"], self.normalised["dense"]
            n_lex = lex.get(paragraph_id, min(lex.values(), default=0.0))
            n_den = den.get(paragraph_id, min(den.values(), default=0.0))
            out.bm25_normalised, out.dense_normalised = n_lex, n_den
            out.bm25_component = self.alpha * n_lex
            out.dense_component = (1 - self.alpha) * n_den
        else:
            out.bm25_component = 1 / (self.rrf_k + bm25[0]) if bm25 else 0.0
            out.dense_component = 1 / (self.rrf_k + dense[0]) if dense else 0.0
        return out

    def article(self, ordinal: int, score: float | None) -> ArticleExplanation:
        """The explanation of one member (by table ordinal)."""
        rs = self.rs
        why: list[Literal["lexical", "semantic"]] = []
        if rs.lexical[ordinal]:
            why.append("lexical")
        if rs.semantic[ordinal]:
            why.append("semantic")
        _, sims = rs.paragraphs_of(ordinal)
        known = [float(s) for s in sims if not math.isnan(s)]
        group = rs.groups.get(ordinal)
        hits: list[Hit] = group.hits if group is not None else []
        return ArticleExplanation(
            why=why,
            matched_terms=rs.matched_terms(ordinal),
            best_similarity=max(known) if known and rs.semantic[ordinal] else None,
            threshold=rs.min_similarity,
            fusion=self.fusion(),
            aggregate=self.aggregate,
            ranked=group is not None,
            score=score,
            contributions=[
                Contribution(
                    paragraph_id=h.paragraph_id,
                    fused_score=h.score,
                    weight=self.weight(i, len(hits)),
                    contribution=h.score * self.weight(i, len(hits)),
                )
                for i, h in enumerate(hits)
            ],
        )

    def weight(self, i: int, n: int) -> float:
        """The aggregation's weight of an article's ``i``-th best candidate paragraph."""
        if self.aggregate == "decay":
            return float(DECAY**i)
        if self.aggregate == "max":
            return 1.0 if i == 0 else 0.0
        keep = 2 if self.aggregate == "top2" else 3
        return 1.0 if i < keep else 0.0
