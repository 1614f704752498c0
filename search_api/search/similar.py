"""Similar articles (``GET /articles/{id}/similar``): a result set defined by one article.

Definition: the encoders of the index that understand the article's language take part (all
of them when none does, as for a search's dense side, search_api/search/dense.py): beside the
multilingual USE, MiniLM (an English model) finds the similar articles of an English article
only. Per encoder, the article's **query vector** is the normalised mean of its stored
paragraph vectors in that encoder's store (``VectorStore.reconstruct``; embedded again from
the catalog's text, through the embedding cache, if the store lacks one), so it stands for the
whole article rather than one paragraph. Within the filters, an article is **in the set** when
one of its paragraphs has cosine similarity to that vector at or above that encoder's
threshold (``min_similarity`` for all, default each encoder's calibrated value for long text,
as for the semantic side of a search: a similarity cut-off by FAISS range search, never a
top-k), among the articles the encoder may rank (:func:`~search_api.search.dense.scope_of`);
the set is the union over the encoders, a paragraph keeping its highest similarity. The
article itself is never in its set; its near-duplicates (syndicated copies) are, first.

Order: ``sort=relevance`` by best paragraph similarity (descending), ties by article id;
``date_desc`` / ``date_asc`` by date, undated last, ties in similarity order. ``score`` of a
result is its best similarity; its passages are its paragraphs in the set, most similar first.
``total`` is exact, and offset or cursor paging yields each article once: this is a
:class:`~search_api.search.resultset.ResultSet` like a search's, paged, cached and cursored by
the same code. The set key includes the article id, so a cursor of one article's list is
refused for another's (400) and a cursor of an older index generation answers 409.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from indexer.catalog import vec_id
from indexer.errors import NotFound
from indexer.models import Paragraph
from indexer.spaces import Space
from indexer.stores import Stores
from search_api.schemas import SearchRequest, SimilarRequest
from search_api.search import dense
from search_api.search.calibration import semantic_threshold
from search_api.search.resultset import Arranged, Arrangement, ResultSet, sort_by_date
from search_api.search.table import ArticleTable, Mask


class SimilarSet(SearchRequest):
    """The set definition of a similar-articles request: a query-less dense
    :class:`SearchRequest` plus the article it is similar to (part of :meth:`set_key`)."""

    similar_to: str

    @classmethod
    def of(cls, article_id: str, req: SimilarRequest) -> SimilarSet:
        """The definition for ``req`` about ``article_id``."""
        return cls(q="", mode="dense", similar_to=article_id, **req.model_dump())


def article_vector(
    stores: Stores,
    article_id: str,
    space: Space | None = None,
    paragraphs: list[Paragraph] | None = None,
) -> npt.NDArray[np.float32] | None:
    """The normalised mean of the article's paragraph vectors in encoder ``space``'s store
    (default: the primary encoder); None without paragraphs. ``paragraphs``: the article's,
    when the caller has read them already."""
    if space is None:
        space = stores.spaces[0]
    if paragraphs is None:
        paragraphs = stores.catalog.paragraphs_of([article_id])
    if not paragraphs:
        return None
    try:
        vectors = space.vectors.reconstruct([vec_id(p.paragraph_id) for p in paragraphs])
    except KeyError:  # a store that lost a vector (check / repair): the cache has it
        vectors = space.embedder.embed_passages([p.text for p in paragraphs])
    mean = vectors.astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0 or not np.isfinite(norm):
        return None
    out: npt.NDArray[np.float32] = (mean / norm).astype(np.float32)
    return out


def similar_set(
    stores: Stores,
    table: ArticleTable,
    spec: SimilarSet,
    masks: dict[str, Mask],
    max_paragraphs: int,
) -> ResultSet:
    """The set of ``spec`` on ``table`` (module docstring); ``masks`` are its filters.

    Raises :class:`NotFound` when the article is not committed in ``table``, and
    ``ResultSetTooLarge`` when more than ``max_paragraphs`` paragraphs reach an encoder's
    threshold.
    """
    own = table.ordinal(spec.similar_to)
    if own is None:
        raise NotFound(f"no article {spec.similar_to[:200]!r}")
    size = table.size
    paragraphs = stores.catalog.paragraphs_of([spec.similar_to])
    # The encoders that understand the article's language (its first paragraph's).
    spaces = dense.understanding(stores, paragraphs[0].language if paragraphs else None)
    thresholds = [semantic_threshold(stores, spec.min_similarity, space=s.name) for s in spaces]
    found_ids: list[npt.NDArray[np.int64]] = []
    found_sims: list[npt.NDArray[np.float32]] = []
    for space, threshold in zip(spaces, thresholds, strict=True):
        vector = article_vector(stores, spec.similar_to, space, paragraphs)
        if vector is None:
            continue
        ids, sims = space.vectors.range_search(vector, threshold, max_paragraphs)
        ids, sims = dense.in_scope(table, dense.scope_of(table, space, stores.spaces), ids, sims)
        found_ids.append(ids)
        found_sims.append(sims)
    ids, sims = dense.union_max(found_ids, found_sims)
    ords = table.paragraph_articles(ids)
    keep = (ords >= 0) & (ords != own)
    ids, ords, sims = ids[keep], ords[keep], sims[keep]
    unfiltered = np.zeros(size, dtype=bool)
    unfiltered[ords] = True
    members = unfiltered.copy()
    for mask in masks.values():
        members &= mask
    keep = members[ords]
    ids, ords, sims = ids[keep], ords[keep], sims[keep]
    best = np.full(size, -np.inf)
    np.maximum.at(best, ords, sims.astype(np.float64))
    ranked = np.flatnonzero(members).astype(np.int64)
    # lexsort: last key first; ordinal order is article id order (the tie-break).
    order = ranked[np.lexsort((ranked, -best[ranked]))]
    scores = best[order]
    if spec.sort != "relevance":
        order, perm = sort_by_date(table, order, descending=spec.sort == "date_desc")
        scores = scores[perm]
    by_article = np.lexsort((ids, -sims, ords))
    return ResultSet(
        request=spec,
        table=table,
        arrangement=Arrangement(
            Arranged(
                order=order,
                scores=scores,
                match_vec_ids=ids[by_article],
                match_ordinals=ords[by_article],
                match_similarity=sims[by_article].astype(np.float32),
                match_lexical=np.zeros(len(ids), dtype=bool),
            )
        ),
        lexical=np.zeros(size, dtype=bool),
        semantic=members,
        groups={},
        lexical_hits=[],
        dense_hits=[],
        unfiltered=unfiltered,
        filter_masks=masks,
        min_similarity=min(thresholds),
    )
