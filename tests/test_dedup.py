"""indexer/dedup.py: signatures, the near-duplicate graph and its components, and stories kept
right by two processes writing one index (real catalog, tantivy and FAISS on disk; the fake
word-hash embedder of the property tests, since meaning plays no part here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH

from indexer.catalog import Catalog
from indexer.dedup import Banding, Signature, StoryIndex, decode, shingles, signature, similarity
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


def _lsh_and_catalog_agree(
    catalog: Catalog, sigs: dict[str, Signature], threshold: float, num_perm: int
) -> int:
    """For every signature: the articles sharing a bucket with it in ``catalog``'s
    ``story_buckets`` are exactly those an in-memory datasketch ``MinHashLSH`` of the same
    threshold and ``num_perm`` proposes; returns the candidates seen beyond the article."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    banding = Banding.for_threshold(threshold, num_perm)
    assert (banding.bands, banding.rows) == (lsh.b, lsh.r)
    for article_id, sig in sigs.items():
        lsh.insert(article_id, LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64)))
    extra = 0
    for article_id, sig in sigs.items():
        want = set(lsh.query(LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64))))
        got = catalog.bucket_candidates(banding.buckets(sig))
        assert got == want, article_id
        extra += len(got) - 1
    return extra


def _generated(n: int, num_perm: int, seed: int = 3) -> dict[str, Signature]:
    """``n`` random signatures, every other one a copy of an earlier one with 0-80 % of its
    values replaced (estimated Jaccard from 1.0 down to ~0.2: all sides of any threshold)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Signature] = {}
    for i in range(n):
        sig = rng.integers(0, 2**32, num_perm, dtype=np.uint64).astype(np.uint32)
        if i % 2 and out:
            base = out[f"g{rng.integers(0, len(out)):05d}"].copy()
            replaced = rng.random(num_perm) < rng.uniform(0.0, 0.8)
            base[replaced] = sig[replaced]
            sig = base
        out[f"g{i:05d}"] = sig
    return out


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.6, 128), (0.8, 64), (0.4, 128)])
def test_sqlite_buckets_propose_the_candidates_datasketch_does(
    tmp_path: Path, threshold: float, num_perm: int
) -> None:
    sigs = _generated(1500, num_perm)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    banding = Banding.for_threshold(threshold, num_perm)
    try:
        with catalog.transaction():
            for article_id, sig in sigs.items():
                catalog.put_buckets(article_id, banding.buckets(sig))
        assert catalog.bucket_rows() == len(sigs) * banding.bands
        assert _lsh_and_catalog_agree(catalog, sigs, threshold, num_perm) > 100
        # Replaced and removed articles: their old rows are gone.
        for i, article_id in enumerate(list(sigs)[:300]):
            if i % 2:
                catalog.put_buckets(article_id, [])
                del sigs[article_id]
            else:
                sigs[article_id] = _generated(1, num_perm, seed=i)["g00000"]
                catalog.put_buckets(article_id, banding.buckets(sigs[article_id]))
        assert catalog.bucket_rows() == len(sigs) * banding.bands
        _lsh_and_catalog_agree(catalog, sigs, threshold, num_perm)
    finally:
        catalog.close()


def test_a_failed_write_leaves_no_bucket_behind(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    banding = Banding.for_threshold(0.6, 128)
    sig = _generated(1, 128)["g00000"]
    try:
        catalog.put_buckets("kept", banding.buckets(sig))
        with pytest.raises(RuntimeError), catalog.transaction():
            catalog.put_buckets("lost", banding.buckets(sig))
            catalog.put_buckets("kept", [])
            raise RuntimeError("crash before the commit")
        assert catalog.bucket_candidates(banding.buckets(sig)) == {"kept"}
    finally:
        catalog.close()


def test_a_new_process_writes_without_loading_anything(tmp_path: Path) -> None:
    """Stories need no in-memory index: a process's first write reads only the buckets it
    touches (here: ingest, delete and a re-ingest each from a freshly opened index)."""
    settings = Settings(index=tmp_path / "idx", embedding_cache=None)
    for step in range(3):
        stores = open_stores(settings, EMBEDDER)
        try:
            if step == 0:
                ingest_articles(stores, [_article("b1"), _article("b2")])
            elif step == 1:
                ingest_articles(stores, [_article("b0")])
            else:
                delete(stores, ["b0"])
            banding = Banding.for_threshold(settings.story_threshold, settings.story_num_perm)
            assert stores.catalog.bucket_rows() == (2 + (step == 1)) * banding.bands
        finally:
            stores.close()
    stores = open_stores(settings, EMBEDDER)
    try:
        assert stores.catalog.stories_of(["b1", "b2"]) == {"b1": "b1", "b2": "b1"}
    finally:
        stores.close()
