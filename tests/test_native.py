"""``newssearch_native`` (native/) lists every word's matches exactly as tantivy-py does.

On real news (German, English and Russian articles of the shared corpora, written to a tantivy
index on disk) for every distinct word of sampled paragraphs, phrases cut from them, title
words and a query's stop words; after deletes and replaced paragraphs; after another process
commits (seen only after ``refresh``) and after the index is rebuilt (``reset``); and as a
property over generated corpora. The reference is the tantivy-py path
(``EmbeddedBackend(native=False)``) and, on real data, a plain BM25 search with a limit
above the number of paragraphs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.catalog import vec_id
from indexer.lexical.embedded import EmbeddedBackend
from indexer.models import Filters, Paragraph
from indexer.query import Phrase, Term, parse_query
from search_api.search.table import VecIdIndex
from tests.conftest import SHARED_DATA, jsonl_head, require_shared_data
from tests.contract.lexical_contract import para
from tests.native import INSTALLED, REASON

pytestmark = [pytest.mark.native, pytest.mark.skipif(not INSTALLED, reason=REASON)]

Leaf = Term | Phrase
WORD = re.compile(r"\w+")


def real_paragraphs() -> list[Paragraph]:
    """Up to 10 sentences each of 60 real articles (German, English and Russian news), one
    paragraph per sentence."""
    require_shared_data()
    corpora = SHARED_DATA / "corpora"
    out: list[Paragraph] = []
    for name, lang in (
        ("gnad10k_test.de.jsonl", "de"),
        ("bbc_news.en.jsonl", "en"),
        ("ru_news_samples.ru.jsonl", "ru"),
    ):
        for n, rec in enumerate(jsonl_head(corpora / name, 20)):
            blocks = [b for b in re.split(r"(?<=[.!?])\s+", rec["text"]) if b.strip()]
            for i, block in enumerate(blocks[:10]):
                out.append(
                    para(f"{lang}{n}:{i}", block.strip(), lang=lang, title=rec.get("title") or "")
                )
    return out


def leaves_of(paragraphs: list[Paragraph], rng: random.Random) -> list[Leaf]:
    """Every word of 40 sampled paragraphs, 60 phrases cut from them, 30 title words and the
    leaves of a few queries with stop words (``Term.stop_in``)."""
    sample = rng.sample(paragraphs, 40)
    words = sorted({w for p in sample for w in WORD.findall(p.text)})
    out: list[Leaf] = [Term(w) for w in words]
    for p in rng.sample(sample, 30):
        tokens = WORD.findall(p.text)
        for length in (2, 3):
            if len(tokens) > length:
                at = rng.randrange(len(tokens) - length)
                out.append(Phrase(tuple(tokens[at : at + length])))
    titles = sorted({w for p in sample for w in WORD.findall(p.title)})
    out += [Term(w, "title") for w in rng.sample(titles, min(30, len(titles)))]
    for q in ("die Regierung und the government", '"in der" "of the" и в', "U.S.-based Nur-Sultan"):
        root = parse_query(q).root
        assert root is not None
        out += [leaf for leaf in (*root.must, *root.should) if isinstance(leaf, Term | Phrase)]
    return out


def as_sets(arrays: list[np.ndarray]) -> list[set[int]]:
    for a in arrays:
        assert a.dtype == np.int64 and len(np.unique(a)) == len(a)  # no repeats
    return [set(a.tolist()) for a in arrays]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[EmbeddedBackend, EmbeddedBackend]]:
    """A native writer and a tantivy-py reader over one index directory on disk."""
    native = EmbeddedBackend(tmp_path / "lexical", native=True)
    python = EmbeddedBackend(tmp_path / "lexical", native=False)
    assert native.native and not python.native
    yield native, python
    native.close()
    python.close()


def test_every_word_of_real_news_matches_alike(
    pair: tuple[EmbeddedBackend, EmbeddedBackend],
) -> None:
    native, python = pair
    paragraphs = real_paragraphs()
    assert len(paragraphs) > 300
    native.upsert(paragraphs)
    native.commit()
    python.refresh()
    leaves = leaves_of(paragraphs, random.Random(7))
    assert len(leaves) > 500
    got = as_sets(native.matching_vec_ids(leaves))
    want = as_sets(python.matching_vec_ids(leaves))
    assert got == want
    assert sum(map(len, got)) > 2 * len(leaves)  # the words match: not a comparison of empties
    # As table positions (matching_positions): what the numpy mapping of the vec_ids gives,
    # over a map that leaves some paragraphs out (not committed) and permutes the rest.
    kept = np.unique(np.asarray([vec_id(p.paragraph_id) for p in paragraphs[::3]]))
    values = np.random.default_rng(3).permutation(len(kept)).astype(np.int64)
    index = VecIdIndex.of(kept, values)
    direct = native.matching_positions(leaves, index.native())
    assert direct is not None
    for ids, pos in zip(want, direct, strict=True):
        mapped = index.positions(np.asarray(sorted(ids), dtype=np.int64), native=False)
        assert pos.dtype == np.int32
        assert pos.tolist() == sorted(mapped[mapped >= 0].tolist())  # ascending, each once
    assert python.matching_positions(leaves, index.native()) is None  # tantivy-py: no
    # And both are every match a BM25 search finds (a sample: it is slow per leaf).
    for leaf, ids in list(zip(leaves, got, strict=True))[::25]:
        brute = {vec_id(h.paragraph_id) for h in python.search(leaf, Filters(), 10_000)}
        assert ids == brute, leaf

    # Deletes and replacements: the native reader sees exactly the committed state.
    gone = sorted({p.article_id for p in paragraphs})[::4]
    native.delete_articles(gone)
    kept = [p for p in paragraphs if p.article_id not in gone]
    replaced = [replace(p, text="Ersetzt: Haushalt") for p in kept[1::9]]
    native.upsert(replaced)
    native.commit()
    python.refresh()
    again = as_sets(native.matching_vec_ids(leaves))
    assert again == as_sets(python.matching_vec_ids(leaves))
    assert again != got
    dropped = {vec_id(p.paragraph_id) for p in paragraphs if p.article_id in gone}
    assert not any(ids & dropped for ids in again)
    (haushalt,) = native.matching_vec_ids([Term("Haushalt")])
    assert {vec_id(p.paragraph_id) for p in replaced} <= set(haushalt.tolist())


def test_another_process_commit_is_seen_after_refresh(tmp_path: Path) -> None:
    path = tmp_path / "lexical"
    writer = EmbeddedBackend(path, native=False)
    writer.upsert([para("a1:0", "Talks began in Astana.")])
    writer.commit()
    reader = EmbeddedBackend(path, native=True)
    (before,) = reader.matching_vec_ids([Term("talks")])
    assert before.tolist() == [vec_id("a1:0")]
    writer.upsert([para("a2:0", "New talks.")])
    writer.delete_articles(["a1"])
    writer.commit()
    (stale,) = reader.matching_vec_ids([Term("talks")])
    assert stale.tolist() == [vec_id("a1:0")]  # its snapshot, until it refreshes
    reader.refresh()
    (now,) = reader.matching_vec_ids([Term("talks")])
    assert now.tolist() == [vec_id("a2:0")]
    # A rebuilt index (what `newssearch repair --lexical` does) is reopened by refresh.
    writer.reset()
    writer.upsert([para("b1:0", "Talks again.")])
    writer.commit()
    reader.refresh()
    (rebuilt,) = reader.matching_vec_ids([Term("talks")])
    assert rebuilt.tolist() == [vec_id("b1:0")]
    writer.close()
    reader.close()


def test_native_is_required_or_refused_as_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert EmbeddedBackend(tmp_path / "a").native  # installed: used by default
    assert not EmbeddedBackend(tmp_path / "b", native=False).native
    # A directory the native reader cannot open: by default tantivy-py answers (with a
    # warning); required, the error is raised.
    import newssearch_native

    def unreadable(path: str) -> None:
        raise RuntimeError(f"cannot read {path}")

    monkeypatch.setattr(newssearch_native, "Matcher", unreadable)
    fallback = EmbeddedBackend(tmp_path / "c")
    assert not fallback.native and "using tantivy-py" in caplog.text
    fallback.upsert([para("a1:0", "Talks began.")])
    fallback.commit()
    (talks,) = fallback.matching_vec_ids([Term("talks")])
    assert talks.tolist() == [vec_id("a1:0")]
    with pytest.raises(RuntimeError, match="cannot read"):
        EmbeddedBackend(tmp_path / "d", native=True)


VOCAB = ["putin", "merkel", "budget", "talks", "die", "the", "und", "haus", "steuer", "wahl"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    docs=st.lists(
        st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12), min_size=1, max_size=30
    ),
    deleted=st.sets(st.integers(0, 29), max_size=8),
    phrases=st.lists(st.lists(st.sampled_from(VOCAB), min_size=2, max_size=3), max_size=6),
)
def test_generated_corpora_match_alike(
    tmp_path_factory: pytest.TempPathFactory,
    docs: list[list[str]],
    deleted: set[int],
    phrases: list[list[str]],
) -> None:
    path = tmp_path_factory.mktemp("gen") / "lexical"
    native = EmbeddedBackend(path, native=True)
    python = EmbeddedBackend(path, native=False)
    langs = ("de", "en", "ru", "xx")
    native.upsert(
        [para(f"a{i}:0", " ".join(words), lang=langs[i % 4]) for i, words in enumerate(docs)]
    )
    native.commit()
    native.delete_articles([f"a{i}" for i in deleted])
    native.commit()
    python.refresh()
    leaves: list[Leaf] = [Term(w) for w in VOCAB] + [Phrase(tuple(p)) for p in phrases]
    leaves += [Term(w, stop_in=("de", "en")) for w in ("die", "the")]
    got = as_sets(native.matching_vec_ids(leaves))
    assert got == as_sets(python.matching_vec_ids(leaves))
    live = {vec_id(f"a{i}:0") for i in range(len(docs)) if i not in deleted}
    for leaf, ids in zip(leaves, got, strict=True):
        assert ids <= live
        if isinstance(leaf, Term) and not leaf.stop_in:
            expect = {
                vec_id(f"a{i}:0")
                for i, words in enumerate(docs)
                if i not in deleted and leaf.text in words
            }
            assert ids == expect, leaf
    native.close()
    python.close()
