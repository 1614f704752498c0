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


class MatchingParagraphs:
    """The members' matching paragraphs (module docstring) as the masks they come from:
    counted, and read for one article, without listing every one of them; :meth:`arrays`
    lists them (what a deep page or an export reads).

    ``lexical_paragraphs``: a mask over positions of the paragraphs matching a positive leaf
    (the leaves' matches marked); ``semantic_positions`` (``-1`` = not committed) with
    ``semantic_sims``, or None when the semantic side is off; ``lexical`` / ``semantic``: the
    members per side. Similarity is NaN for a paragraph with none (a lexical match the
    semantic side did not reach).

    :meth:`count` is ``len`` of :meth:`arrays`' vec_ids and :meth:`of` one article's slice
    of its arrays, row for row (tests/test_result_set_properties.py). ``lexical_paragraphs``
    is shared with :meth:`arrays`, which narrows it to the lexical members in place: what
    :meth:`of` and :meth:`count` do to it themselves, so their answers do not change.
    """

    def __init__(
        self,
        table: ArticleTable,
        lexical_paragraphs: Mask,
        lexical: Mask,
        semantic_positions: npt.NDArray[np.int64] | None,
        semantic_sims: npt.NDArray[np.float32],
        semantic: Mask,
    ) -> None:
        self.table = table
        self.lexical_paragraphs = lexical_paragraphs
        self.lexical = lexical
        # The semantic side's members' paragraphs (committed, of a semantic member).
        sem_pos = np.empty(0, dtype=np.int64)
        sem_sims = np.empty(0, dtype=np.float32)
        if semantic_positions is not None and len(semantic_positions):
            known = semantic_positions >= 0
            pos = semantic_positions[known]
            keep = semantic[table.paragraph_ordinals[pos]]
            sem_pos, sem_sims = pos[keep], semantic_sims[known][keep]
        self._sem_pos = sem_pos
        self._sem_sims = sem_sims

    def count(self, within: Mask | None = None) -> int:
        """How many paragraphs :meth:`arrays` lists, of the articles in ``within`` only when
        given (one pass over the positions)."""
        owners = self.table.paragraph_ordinals
        members = self.lexical if within is None else self.lexical & within
        lexical = self.lexical_paragraphs & members[owners]
        sem_pos = self._sem_pos
        if within is not None and len(sem_pos):
            sem_pos = sem_pos[within[owners[sem_pos]]]
        extra = int(np.count_nonzero(~lexical[sem_pos])) if len(sem_pos) else 0
        return int(np.count_nonzero(lexical)) + extra

    def of(self, ordinal: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], Mask]:
        """One article's rows of :meth:`arrays`: ``(vec_ids, similarity, is_lexical)`` in
        position order (similarity NaN where the paragraph has none)."""
        table = self.table
        lo = int(np.searchsorted(table.paragraph_ordinals, ordinal, side="left"))
        hi = int(np.searchsorted(table.paragraph_ordinals, ordinal, side="right"))
        lexical = self.lexical_paragraphs[lo:hi] & bool(self.lexical[ordinal])
        matched = lexical.copy()
        inside = (self._sem_pos >= lo) & (self._sem_pos < hi)
        sem_pos = self._sem_pos[inside] - lo
        matched[sem_pos] = True
        chosen = np.flatnonzero(matched)
        similarity = np.full(len(chosen), np.nan, dtype=np.float32)
        if len(sem_pos):
            similarity[np.searchsorted(chosen, sem_pos)] = self._sem_sims[inside]
        return table.paragraph_vec_ids[lo:hi][chosen], similarity, lexical[chosen]

    def arrays(self) -> tuple[npt.NDArray[np.int64], Ordinals, npt.NDArray[np.float32], Mask]:
        """``(vec_ids, ordinals, similarity, is_lexical)`` of every matching paragraph, in
        article order (module docstring)."""
        table = self.table
        owners = table.paragraph_ordinals
        lex_para = self.lexical_paragraphs
        lex_para &= self.lexical[owners]  # positions run in article order: a sequential gather
        matched = lex_para
        sem_pos = self._sem_pos
        if len(sem_pos):
            matched = lex_para.copy()
            matched[sem_pos] = True
        chosen = np.flatnonzero(matched)
        similarity = np.full(len(chosen), np.nan, dtype=np.float32)
        if len(sem_pos):
            similarity[np.searchsorted(chosen, sem_pos)] = self._sem_sims
        return table.paragraph_vec_ids[chosen], owners[chosen], similarity, lex_para[chosen]
