"""Similar articles (``GET /articles/{id}/similar``): a result set defined by one article.

Definition: the article's **query vector** is the normalised mean of its stored paragraph
vectors (``VectorStore.reconstruct``; embedded again from the catalog's text, through the
embedding cache, if the store lacks one), so it stands for the whole article rather than one
paragraph. Within the filters, an article is **in the set** when one of its paragraphs has
cosine similarity to that vector at or above the threshold (``min_similarity``, default the
encoder's calibrated value, as for the semantic side of a search: a similarity cut-off by FAISS
range search, never a top-k). The article itself is never in its set; its near-duplicates
(syndicated copies) are, first.

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
from indexer.stores import Stores
from search_api.schemas import SearchRequest, SimilarRequest
from search_api.search.resultset import ResultSet, sort_by_date
from search_api.search.table import ArticleTable, Mask


class SimilarSet(SearchRequest):
    """The set definition of a similar-articles request: a query-less dense
    :class:`SearchRequest` plus the article it is similar to (part of :meth:`set_key`)."""

    similar_to: str

    @classmethod
    def of(cls, article_id: str, req: SimilarRequest) -> SimilarSet:
        """The definition for ``req`` about ``article_id``."""
        return cls(q="", mode="dense", similar_to=article_id, **req.model_dump())


def article_vector(stores: Stores, article_id: str) -> npt.NDArray[np.float32] | None:
    """The normalised mean of the article's paragraph vectors (None without paragraphs)."""
    paragraphs = stores.catalog.paragraphs_of([article_id])
    if not paragraphs:
        return None
    try:
        vectors = stores.vectors.reconstruct([vec_id(p.paragraph_id) for p in paragraphs])
    except KeyError:  # a store that lost a vector (check / repair): the cache has it
        vectors = stores.embedder.embed_passages([p.text for p in paragraphs])
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
    threshold: float,
    max_paragraphs: int,
) -> ResultSet:
    """The set of ``spec`` on ``table`` (module docstring); ``masks`` are its filters.

    Raises :class:`NotFound` when the article is not committed in ``table``, and
    ``ResultSetTooLarge`` when more than ``max_paragraphs`` paragraphs reach the threshold.
    """
    own = table.ordinal(spec.similar_to)
    if own is None:
        raise NotFound(f"no article {spec.similar_to[:200]!r}")
    size = table.size
    vector = article_vector(stores, spec.similar_to)
    if vector is None:
        ids, sims = np.zeros(0, np.int64), np.zeros(0, np.float32)
    else:
        ids, sims = stores.vectors.range_search(vector, threshold, max_paragraphs)
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
        order=order,
        scores=scores,
        lexical=np.zeros(size, dtype=bool),
        semantic=members,
        match_vec_ids=ids[by_article],
        match_ordinals=ords[by_article],
        match_similarity=sims[by_article].astype(np.float32),
        match_lexical=np.zeros(len(ids), dtype=bool),
        groups={},
        lexical_hits=[],
        dense_hits=[],
        unfiltered=unfiltered,
        filter_masks=masks,
        min_similarity=threshold,
    )
