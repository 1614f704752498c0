"""Catalog: staging, commit state, stable vec ids, filter semantics for the dense side."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from indexer.catalog import Catalog, vec_id
from indexer.models import Article, Filters, Paragraph


def article(aid: str, body: str, **kw: object) -> tuple[Article, list[Paragraph], str]:
    a = Article(article_id=aid, title=f"T {aid}", body=body, **kw)  # type: ignore[arg-type]
    paras = [
        Paragraph(
            Paragraph.make_id(aid, i),
            aid,
            i,
            t,
            0,
            len(t),
            a.title,
            a.source,
            a.language,
            a.section,
            a.authors,
            a.published_at,
        )
        for i, t in enumerate(body.split("\n\n"))
    ]
    return a, paras, a.content_hash()


def test_vec_id_is_stable_and_positive() -> None:
    assert vec_id("abc:0") == vec_id("abc:0")
    assert vec_id("abc:0") != vec_id("abc:1")
    assert 0 <= vec_id("x:1") < 2**63


def test_stage_commit_replace_delete(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    a, paras, _ = article("a", "one\n\ntwo\n\nthree")
    assert cat.stage([(a, paras, "h1")]) == {"a": []}
    assert cat.pending_articles() == ["a"]
    assert cat.committed_hashes(["a"]) == {}
    cat.mark_committed(["a"])
    assert cat.committed_hashes(["a"]) == {"a": "h1"}
    a2, paras2, _ = article("a", "one\n\nchanged")
    old = cat.stage([(a2, paras2, "h2")])
    assert sorted(old["a"]) == sorted(vec_id(p.paragraph_id) for p in paras)
    assert [p.text for p in cat.paragraphs_of(["a"])] == ["one", "changed"]
    assert cat.counts() == {"articles": 1, "pending": 1, "paragraphs": 2}
    cat.mark_committed(["a"])
    removed = cat.delete_articles(["a", "missing"])
    assert sorted(removed) == sorted(vec_id(p.paragraph_id) for p in paras2)
    assert cat.counts() == {"articles": 0, "pending": 0, "paragraphs": 0}
    cat.close()


def test_persists_and_reopens(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    cat.stage([article("a", "x\n\ny")])
    cat.mark_committed(["a"])
    cat.set_meta("model_key", "m")
    cat.close()
    again = Catalog(tmp_path / "c.sqlite")
    assert again.get_meta("model_key") == "m"
    assert [p for p, _ in again.iter_paragraph_ids()] == ["a:0", "a:1"]
    again.close()


def test_vec_ids_matching_filters(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    d = datetime(2022, 2, 10, tzinfo=UTC)
    cat.stage(
        [
            article("a", "x", source="s1", language="de", published_at=d, authors=("Ann", "Bo")),
            article("b", "y", source="s2", language="en", section="Inland"),
            article("c", "z", source="s1", language="en"),
        ]
    )
    cat.mark_committed(["a", "b"])  # c stays pending: never visible to search
    va, vb = vec_id("a:0"), vec_id("b:0")
    assert set(cat.vec_ids_matching(Filters())) == {va, vb}
    assert cat.vec_ids_matching(Filters(sources=("s1",))) == [va]
    assert cat.vec_ids_matching(Filters(languages=("en",))) == [vb]
    assert cat.vec_ids_matching(Filters(sections=("Inland",))) == [vb]
    assert cat.vec_ids_matching(Filters(authors=("Bo",))) == [va]
    assert cat.vec_ids_matching(Filters(date_from=d)) == [va]
    assert cat.vec_ids_matching(Filters(date_to=datetime(2022, 2, 9, tzinfo=UTC))) == []
    meta = cat.articles(["a"])["a"]
    assert meta["published_at"] == d and meta["authors"] == ["Ann", "Bo"]
    cat.close()


def test_id_map_in_memory_matches_sqlite_and_learns_new_paragraphs(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    cat.stage([article("a", "x\n\ny\n\nz"), article("b", "p\n\nq")])
    cat.mark_committed(["a", "b"])
    pids = ["a:0", "a:1", "a:2", "b:0", "b:1"]
    wanted = [vec_id(p) for p in pids] + [12345]  # the last one is in no catalog
    from_sqlite = cat.paragraph_ids_for_vec_ids(wanted)
    assert from_sqlite == {vec_id(p): p for p in pids}
    assert cat.load_id_map() == 5
    assert cat.paragraph_ids_for_vec_ids(wanted) == from_sqlite
    # A paragraph committed after the map was loaded (e.g. by another process) is still found.
    writer = Catalog(tmp_path / "c.sqlite")
    writer.stage([article("c", "new")])
    writer.mark_committed(["c"])
    writer.close()
    assert cat.paragraph_ids_for_vec_ids([vec_id("c:0"), vec_id("a:1")]) == {
        vec_id("c:0"): "c:0",
        vec_id("a:1"): "a:1",
    }
    assert cat.paragraph_ids_for_vec_ids([]) == {}
    cat.close()


def test_id_map_of_an_empty_catalog(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.load_id_map() == 0
    assert cat.paragraph_ids_for_vec_ids([vec_id("a:0")]) == {}
    cat.stage([article("a", "x")])
    cat.mark_committed(["a"])
    assert cat.paragraph_ids_for_vec_ids([vec_id("a:0")]) == {vec_id("a:0"): "a:0"}
    cat.close()
