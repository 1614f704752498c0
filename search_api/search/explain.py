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
from collections.abc import Callable
from typing import Literal

from indexer.models import Hit
from indexer.settings import Settings
from search_api.fusion import normalise
from search_api.grouping import DECAY
from search_api.schemas import (
    ArticleExplanation,
    Contribution,
    EncoderScore,
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
        lists = [d for d in rs.dense_lists if d.hits]
        #: (name, hits, share, applies) per encoder, shares adding up to 1.
        total = sum(d.share for d in lists) or 1.0
        self.dense: list[tuple[str, list[Hit], float, Callable[[str], bool] | None]] = [
            (d.name, d.hits, d.share / total, d.applies_to(rs.table)) for d in lists
        ]
        if not self.dense and rs.dense_hits:
            self.dense = [("dense", rs.dense_hits, 1.0, None)]
        self.ranks = {
            name: _ranks(hits) for name, hits in (("bm25", rs.lexical_hits), *self._named())
        }
        self.fused = self.mode == "hybrid" and bool(rs.lexical_hits) and bool(self.dense)
        self.normalised = {
            name: normalise(hits, self.norm) if self.method == "convex" else {}
            for name, hits in (("bm25", rs.lexical_hits), *self._named())
        }

    def _named(self) -> list[tuple[str, list[Hit]]]:
        return [(name, hits) for name, hits, _, _ in self.dense]

    def fusion(self) -> str:
        """The fusion in words, with its parameters."""
        if not self.fused:
            if self.mode == "bm25" or not self.dense:
                return "bm25 only"
            if len(self.dense) == 1:
                return "dense only" if len(self.rs.dense_lists) < 2 else f"{self.dense[0][0]} only"
            return "dense: " + " + ".join(
                f"{share:g} x {self.norm}({name})" for name, _, share, _ in self.dense
            )
        if self.method == "convex":
            parts = [f"{self.alpha:g} x {self.norm}(bm25)"]
            if len(self.dense) == 1:
                name = self.dense[0][0] if len(self.rs.dense_lists) > 1 else "dense"
                parts.append(f"{1 - self.alpha:g} x {self.norm}({name})")
            else:
                parts += [
                    f"{(1 - self.alpha) * share:g} x {self.norm}({name})"
                    for name, _, share, _ in self.dense
                ]
            return "convex: " + " + ".join(parts)
        if len(self.dense) == 1:
            return f"rrf: sum of 1 / ({self.rrf_k} + rank)"
        weights = ", ".join(f"{name} {share:g}" for name, _, share, _ in self.dense)
        return f"rrf: sum of weight / ({self.rrf_k} + rank), weights bm25 1, {weights}"

    def passage(self, paragraph_id: str, fused: float | None) -> Explanation:
        """The explanation of one shown paragraph."""
        bm25 = self.ranks["bm25"].get(paragraph_id)
        first = self.ranks[self.dense[0][0]].get(paragraph_id) if self.dense else None
        out = Explanation(
            bm25_rank=bm25[0] if bm25 else None,
            bm25_score=bm25[1] if bm25 else None,
            dense_rank=first[0] if first else None,
            dense_score=first[1] if first else None,
            fused_score=fused,
        )
        if len(self.rs.dense_lists) > 1:  # every encoder that took part, with hits or not
            for name in (d.name for d in self.rs.dense_lists):
                got = self.ranks.get(name, {}).get(paragraph_id)
                out.encoders.append(
                    EncoderScore(
                        encoder=name, rank=got[0] if got else None, score=got[1] if got else None
                    )
                )
        if not self.fused or fused is None:
            return out
        if self.method == "convex":
            self._convex(paragraph_id, out)
        else:
            out.bm25_component = 1 / (self.rrf_k + bm25[0]) if bm25 else 0.0
            parts = []
            for name, _, share, _ in self.dense:
                got = self.ranks[name].get(paragraph_id)
                parts.append(share / (self.rrf_k + got[0]) if got else 0.0)
            out.dense_component = sum(parts)
            by_name = dict(zip((name for name, _, _, _ in self.dense), parts, strict=True))
            for encoder in out.encoders:
                encoder.component = by_name.get(encoder.encoder)
        return out

    def _convex(self, paragraph_id: str, out: Explanation) -> None:
        """The convex components as search_api.fusion.convex_many makes them: BM25's
        normalised score (a missing one: the list's minimum) times ``alpha``, each applying
        encoder's times its part of ``1 - alpha``, over the weights that apply."""

        def normalised(name: str) -> float:
            values = self.normalised[name]
            return values.get(paragraph_id, min(values.values(), default=0.0))

        applies = [pred is None or pred(paragraph_id) for _, _, _, pred in self.dense]
        # The dense weight 1 - alpha goes to the encoders that apply, by their shares.
        applying = sum(d[2] for d, a in zip(self.dense, applies, strict=True) if a)
        dense_weight = (1 - self.alpha) if applying > 0 else 0.0
        total = (self.alpha + dense_weight) or 1.0
        n_lex = normalised("bm25")
        out.bm25_normalised = n_lex
        out.bm25_component = self.alpha * n_lex / total
        parts = []
        for (name, _, share, _), applies_here in zip(self.dense, applies, strict=True):
            n = normalised(name)
            weight = dense_weight * share / applying if applies_here else 0.0
            parts.append(weight * n / total)
            for encoder in out.encoders:
                if encoder.encoder == name:
                    encoder.normalised, encoder.component = n, parts[-1]
        out.dense_normalised = normalised(self.dense[0][0])
        out.dense_component = sum(parts)

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
            article_bm25=(
                group.article_component if group is not None and self.mode == "hybrid" else None
            ),
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


def _ranks(hits: list[Hit]) -> dict[str, tuple[int, float]]:
    return {h.paragraph_id: (i, h.score) for i, h in enumerate(hits, start=1)}
