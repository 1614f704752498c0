"""indexer/dedup.py: signatures, the near-duplicate graph and its components, and stories kept
right by two processes writing one index (real catalog, tantivy and FAISS on disk; the fake
word-hash embedder of the property tests, since meaning plays no part here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.dedup import StoryIndex, decode, shingles, signature, similarity
from indexer.models import Article
from indexer.pipeline import delete, ingest_articles
from indexer.settings import Settings
from indexer.stores import open_stores
from tests.test_result_set_properties import EMBEDDER

TEXT = (
    "The finance minister presented the budget on Tuesday and the opposition criticised "
    "the plan for higher taxes on fuel while unions called for a strike next month"
)


def test_shingles_and_signatures() -> None:
    assert shingles("Ein  Satz, ein SATZ!", 3) == {b"ein satz ein", b"satz ein satz"}
    assert shingles("two words", 3) == {b"two words"}
    assert shingles(" -- ", 3) == set() and signature("", [" ... "], shingle=3, num_perm=64) is None
    a = decode(signature("Budget", [TEXT], shingle=3, num_perm=128) or b"")
    same = decode(signature("budget", [TEXT.upper()], shingle=3, num_perm=128) or b"")
    other = decode(signature("Sport", ["The match ended in a draw " * 3], shingle=3, num_perm=128))
    assert len(a) == 128 and similarity(a, same) == 1.0 and similarity(a, other) < 0.2


class _Memory:
    def __init__(self, sigs: dict[str, bytes | None]) -> None:
        self.sigs = sigs

    def signatures(self, article_ids: list[str]) -> dict[str, bytes | None]:
        return {a: self.sigs[a] for a in article_ids if a in self.sigs}

    def clustered_signatures(self) -> list[tuple[str, bytes]]:
        return [(a, b) for a, b in self.sigs.items() if b is not None]

    def story_members(self, article_ids: list[str]) -> list[str]:
        return []


def test_components_are_single_linkage_named_after_the_smallest_id() -> None:
    words = TEXT.split()
    # b shares most of a's text, c most of b's: a - b - c is one story though a and c differ more.
    a = " ".join(words)
    b = " ".join([*words[6:], "and", "the", "talks", "went", "on", "late"])
    c = " ".join([*words[12:], "and", "the", "talks", "went", "on", "late", "into", "night"])
    sigs = {
        k: signature("", [t], shingle=3, num_perm=128)
        for k, t in zip("abc", (a, b, c), strict=True)
    }
    sigs["z"] = signature(
        "", ["Nothing like the others at all, a sports report."], shingle=3, num_perm=128
    )
    sigs["empty"] = None
    est = {k: decode(v) for k, v in sigs.items() if v}
    t = min(similarity(est["a"], est["b"]), similarity(est["b"], est["c"])) - 0.01
    assert similarity(est["a"], est["c"]) < t  # a and c are linked only through b
    index = StoryIndex.load(_Memory(sigs), t, 128)
    got = index.cluster_all(["a", "b", "c", "z", "empty"])
    assert got == {"a": "a", "b": "a", "c": "a", "z": "z", "empty": "empty"}
    # b removed: a and c fall apart.
    index.put("b", None)
    assert index.cluster_all(["a", "c"]) == {"a": "a", "c": "c"}
    with pytest.raises(ValueError, match="threshold"):
        StoryIndex(0.0, 128)


def _article(article_id: str, body: str = TEXT) -> Article:
    return Article(article_id=article_id, title="Budget", body=body, source=article_id[:1])


def test_two_writers_on_one_index_keep_one_story(tmp_path: Path) -> None:
    """A process's LSH index is rebuilt when another process wrote since its own last write,
    so a copy one process added is seen by the other's next commit and delete."""
    settings = Settings(index=tmp_path / "idx", embedding_cache=None)
    first, second = open_stores(settings, EMBEDDER), open_stores(settings, EMBEDDER)
    try:
        ingest_articles(first, [_article("a1")])
        ingest_articles(second, [_article("a0")])  # a copy, from the other process
        ingest_articles(first, [_article("a2")])  # another copy, the first process again
        ids = ["a0", "a1", "a2"]
        assert first.catalog.stories_of(ids) == dict.fromkeys(ids, "a0")
        delete(second, ["a0"])
        ingest_articles(first, [_article("a3", TEXT + " Sources said more talks would follow.")])
        stories = first.catalog.stories_of(["a1", "a2", "a3"])
        assert stories == dict.fromkeys(["a1", "a2", "a3"], "a1")
    finally:
        first.close()
        second.close()
