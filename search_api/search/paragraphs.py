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

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from search_api.search.table import ArticleTable, Mask, Ordinals


def matching_paragraphs(
    table: ArticleTable,
    lexical_positions: Iterable[npt.NDArray[np.integer[Any]]],
    lexical: Mask,
    semantic_positions: npt.NDArray[np.int64] | None,
    semantic_sims: npt.NDArray[np.float32],
    semantic: Mask,
) -> tuple[npt.NDArray[np.int64], Ordinals, npt.NDArray[np.float32], Mask]:
    """``(vec_ids, ordinals, similarity, is_lexical)`` of the members' matching paragraphs, in
    article order (module docstring). ``lexical_positions``: the positive leaves' matches;
    ``semantic_positions`` (``-1`` = not committed) with ``semantic_sims``, or None when the
    semantic side is off; ``lexical`` / ``semantic``: the members per side. Similarity is NaN
    for a paragraph with none (a lexical match the semantic side did not reach)."""
    owners = table.paragraph_ordinals
    lex_para = np.zeros(table.paragraphs, dtype=bool)
    for pos in lexical_positions:
        lex_para[pos] = True
    # Index arrays rather than whole-paragraph boolean passes where the matches are few
    # (numpy compresses a million-element mask slower than it gathers a few thousand).
    marked = np.flatnonzero(lex_para)
    lex_para[marked[~lexical[owners[marked]]]] = False
    similarity = np.full(table.paragraphs, np.nan, dtype=np.float32)
    matched = lex_para.copy()
    if semantic_positions is not None and len(semantic_positions):
        known = semantic_positions >= 0
        pos = semantic_positions[known]
        keep = semantic[owners[pos]]
        similarity[pos[keep]] = semantic_sims[known][keep]
        matched[pos[keep]] = True
    by_article = table.paragraph_by_article
    chosen = by_article[np.flatnonzero(matched[by_article])]
    return table.paragraph_vec_ids[chosen], owners[chosen], similarity[chosen], lex_para[chosen]
