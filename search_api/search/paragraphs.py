"""The matching paragraphs of a set's articles (``total_paragraphs``, passages, export).

A paragraph of a member article *matches* when it matches a positive query word or phrase and
its article is a lexical member, or when its similarity is at or above the threshold and its
article is a semantic member. Computed as boolean masks over the table's paragraph positions
(a few passes over every paragraph, whatever the number of matches) and read out in article
order; within one article the rows come in position (vec_id) order, and
:meth:`~search_api.search.resultset.ResultSet.paragraph_rows` sorts one article's rows best
first when they are shown.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from search_api.search.table import ArticleTable, Mask, Ordinals


def matching_paragraphs(
    table: ArticleTable,
    lexical_paragraphs: Mask,
    lexical: Mask,
    semantic_positions: npt.NDArray[np.int64] | None,
    semantic_sims: npt.NDArray[np.float32],
    semantic: Mask,
) -> tuple[npt.NDArray[np.int64], Ordinals, npt.NDArray[np.float32], Mask]:
    """``(vec_ids, ordinals, similarity, is_lexical)`` of the members' matching paragraphs, in
    article order (module docstring). ``lexical_paragraphs``: a mask over positions of the
    paragraphs matching a positive leaf (the leaves' matches marked; it is consumed);
    ``semantic_positions`` (``-1`` = not committed) with ``semantic_sims``, or None when the
    semantic side is off; ``lexical`` / ``semantic``: the members per side. Similarity is NaN
    for a paragraph with none (a lexical match the semantic side did not reach)."""
    owners = table.paragraph_ordinals
    lex_para = lexical_paragraphs
    lex_para &= lexical[owners]  # positions run in article order: a sequential gather
    matched = lex_para
    sem_pos = np.empty(0, dtype=np.int64)
    sem_sims = np.empty(0, dtype=np.float32)
    if semantic_positions is not None and len(semantic_positions):
        known = semantic_positions >= 0
        pos = semantic_positions[known]
        keep = semantic[owners[pos]]
        sem_pos, sem_sims = pos[keep], semantic_sims[known][keep]
        matched = lex_para.copy()
        matched[sem_pos] = True
    chosen = np.flatnonzero(matched)
    similarity = np.full(len(chosen), np.nan, dtype=np.float32)
    if len(sem_pos):
        similarity[np.searchsorted(chosen, sem_pos)] = sem_sims
    return table.paragraph_vec_ids[chosen], owners[chosen], similarity, lex_para[chosen]
