"""Lexical membership: the boolean query evaluated on whole articles (pure functions).

A leaf (:class:`~indexer.query.Term` or :class:`~indexer.query.Phrase`) matches an article
when at least one of the article's paragraphs matches it (a phrase within one paragraph; a
``title:`` leaf against the title every paragraph carries). A :class:`~indexer.query.Bool`
matches when every ``must`` child matches, no ``must_not`` child matches and, when there is
no ``must``, at least ``minimum_should_match`` of its ``should`` children match: so
``Putin -Tokajew`` excludes every article mentioning Tokajew anywhere, and ``a AND b`` may
match in different paragraphs.

``minimum_should_match`` is 1 for every nested group and for explicit ``OR``; for the
top-level words of a query (distinct: a word typed twice counts once) it follows the
request's ``match``:

- ``any`` (default): at least one word. Chosen by measurement (docs/evaluation.md,
  "Result-set membership"): on every dev set (PolitiFact claims, German and English known
  items) every stricter rule ranked worse, short queries included ("Altersforscher Rosenmayr
  gestorben" finds an article that says "ist tot");
- ``all``: every word (the count a keyword search usually means: ``Putin Merkel`` = both);
- ``auto``: ``all`` when at most :data:`AUTO_ALL_UP_TO` words were typed (stop words
  included), ``any`` in longer queries (pasted claims and sentences).

Stop words of a plain query (``Term.stop_in``) count only in articles of the languages where
they are words: in an article of a language where one is a stop word it is neither required
nor counted as present (so "the" does not make every English article match a long claim).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import numpy.typing as npt

from indexer.lexical.analysis import words_of
from indexer.query import Bool, Node, Phrase, Term

Match = Literal["auto", "all", "any"]
Leaf = Term | Phrase
Mask = npt.NDArray[np.bool_]
#: ``auto`` requires every word of queries up to this many words, and one word in longer ones.
AUTO_ALL_UP_TO = 3


def needed(match: Match, words: npt.NDArray[np.int64], typed: int) -> npt.NDArray[np.int64]:
    """:func:`minimum_should_match` per article (at least 1), for per-article word counts
    (stop words taken out where they are stop words) of a query of ``typed`` distinct
    top-level words: whether ``auto`` reads it as a keyword query is decided on what was
    typed, so "die Regierung plant neue Steuern" is a sentence in every language."""
    if not needs_every_word(match, typed):
        return np.ones_like(words)
    return np.maximum(words, 1)


def needs_every_word(match: Match, typed: int) -> bool:
    """Whether ``match`` asks an article for every top-level word of a query of ``typed``
    of them (``all``, or ``auto`` on a keyword query), else for one (:func:`needed`)."""
    return not (match == "any" or (match == "auto" and typed > AUTO_ALL_UP_TO))


def minimum_should_match(match: Match, words: int) -> int:
    """How many of ``words`` top-level words an article must contain (at least 1)."""
    if words <= 0:
        return 0
    if match == "any":
        return 1
    if match == "all" or words <= AUTO_ALL_UP_TO:
        return words
    return 1


def iter_leaves(node: Node | None, *, positive_only: bool = False) -> Iterator[Leaf]:
    """Every leaf of ``node`` (depth first); with ``positive_only`` none under a must_not."""
    if node is None:
        return
    if isinstance(node, Term | Phrase):
        yield node
        return
    for part in (*node.must, *node.should):
        yield from iter_leaves(part, positive_only=positive_only)
    if not positive_only:
        for part in node.must_not:
            yield from iter_leaves(part)


def distinct_leaves(node: Node | None, *, positive_only: bool = False) -> list[Leaf]:
    """:func:`iter_leaves` without repeats, in first-seen order."""
    return list(dict.fromkeys(iter_leaves(node, positive_only=positive_only)))


def evaluate(
    node: Node,
    leaf_mask: Callable[[Leaf], Mask],
    size: int,
    *,
    top_msm: int | npt.NDArray[np.int64] | None = None,
) -> Mask:
    """Articles (a mask over ``size`` ordinals) that match ``node``; see the module docstring.

    ``leaf_mask(leaf)`` gives the articles matching one leaf. ``top_msm`` overrides the
    minimum-should-match of ``node`` itself (the request's ``match`` for top-level words): one
    number, or one per article (stop words make the number of words differ by language).
    """
    if isinstance(node, Term | Phrase):
        return leaf_mask(node)
    out = np.ones(size, dtype=bool)
    for part in node.must:
        out &= evaluate(part, leaf_mask, size)
    if node.should and not node.must:
        distinct = len(dict.fromkeys(node.should))
        need = 1 if top_msm is None else np.clip(top_msm, 1, max(distinct, 1))
        out &= should_count(node, leaf_mask, size) >= need
    if not node.must and not node.should:
        out[:] = False
    for part in node.must_not:
        out &= ~evaluate(part, leaf_mask, size)
    return out


def should_count(node: Node, leaf_mask: Callable[[Leaf], Mask], size: int) -> npt.NDArray[np.int64]:
    """Per article, how many of ``node``'s ``should`` children it matches (a leaf: 0 or 1)."""
    if isinstance(node, Term | Phrase):
        return leaf_mask(node).astype(np.int64)
    counts = np.zeros(size, dtype=np.int64)
    for part in dict.fromkeys(node.should):  # a word typed twice counts once
        counts += evaluate(part, leaf_mask, size)
    return counts


def flat_words(node: Node | None) -> list[Leaf] | None:
    """The distinct words and phrases of a query that is nothing but them (one leaf, or a
    ``Bool`` of ``should`` leaves alone: every plain query), else None. For such a query
    :func:`evaluate` is ``count >= need`` and :func:`should_count` is ``count``, where
    ``count`` is per article how many of these leaves it matches (the engine's fast path:
    one counting pass per leaf, :meth:`~search_api.search.table.ArticleTable.leaf_counts`)."""
    if isinstance(node, Term | Phrase):
        return [node]
    if node is None or node.must or node.must_not:
        return None
    if not all(isinstance(part, Term | Phrase) for part in node.should):
        return None
    return [part for part in dict.fromkeys(node.should) if isinstance(part, Term | Phrase)]


def top_level_words(node: Node | None) -> int:
    """How many top-level ``should`` children the query has (what ``match`` applies to)."""
    if node is None:
        return 0
    if isinstance(node, Term | Phrase):
        return 1
    return len(dict.fromkeys(node.should)) if not node.must else 0


def scoring_tree(node: Node | None) -> Bool | None:
    """The tree ranking candidates are fetched with: any positive leaf, scored by BM25.

    Membership is decided per article (:func:`evaluate`); ranking needs paragraphs that match
    *something* positive, also in articles where ``a AND b`` match in different paragraphs.
    """
    leaves = distinct_leaves(node, positive_only=True)
    return Bool(should=tuple(leaves)) if leaves else None


def ranking_tree(node: Node | None, *, plain: bool = False) -> Bool | None:
    """:func:`scoring_tree` as BM25 ranks by it: a typed word that analyses into several
    tokens (``don't``, ``U.S``) scored as those tokens, each once, as a keyword engine's
    ``match`` query does; in a ``plain`` query (:attr:`~indexer.query.ParsedQuery.is_plain`:
    nothing quoted) its phrases too, which are hyphenated or split words (``COVID-19``,
    ``4,300``). Phrases a user quoted stay phrases; membership and highlighting match every
    word exactly either way.

    Why: a plain query then is a flat union of terms, which the backends prune by block-max
    WAND; one phrase among them makes tantivy score every matching paragraph of every word
    (a claim's BM25 top 500 at 1M paragraphs, mean ~10.5 -> ~6 ms, p99 ~35 -> ~14 ms;
    docs/benchmarks.md). Its effect on ranking quality: docs/evaluation.md.
    """
    tree = scoring_tree(node)
    if tree is None:
        return None
    out: list[Node] = []
    for leaf in tree.should:
        parts: list[str] = []
        if isinstance(leaf, Term):
            parts = words_of(leaf.text)
        elif isinstance(leaf, Phrase) and plain:
            parts = words_of(" ".join(leaf.words))
        if len(parts) > 1:
            assert isinstance(leaf, Term | Phrase)
            out.extend(Term(part, leaf.field) for part in parts)
        else:
            out.append(leaf)
    return Bool(should=tuple(dict.fromkeys(out)))
