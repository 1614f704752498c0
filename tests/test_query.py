"""The query language: what parses into which tree, and what is a 400."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.errors import QuerySyntaxError
from indexer.languages import is_stop_word, stop_word_languages
from indexer.query import Bool, Phrase, Term, leaves, parse_query, sub_words


def test_plain_words_are_optional_terms() -> None:
    q = parse_query("Putin Tokajew Gespräche")
    assert q.root == Bool(should=(Term("Putin"), Term("Tokajew"), Term("Gespräche")))
    assert q.is_plain
    assert q.free_text == "Putin Tokajew Gespräche"


def test_operators_phrases_and_fields() -> None:
    q = parse_query('"Nur Sultan" +Putin -Biden title:Kasachstan')
    assert q.root == Bool(
        must=(Term("Putin"),),
        should=(Phrase(("Nur", "Sultan")), Term("Kasachstan", "title")),
        must_not=(Term("Biden"),),
    )
    assert not q.is_plain
    assert q.free_text == "Nur Sultan Putin Kasachstan"


def test_and_or_not_and_groups() -> None:
    q = parse_query("(budget OR tax) AND NOT Trump")
    assert q.root == Bool(
        should=(
            Bool(must=(Bool(should=(Term("budget"), Term("tax"))),), must_not=(Term("Trump"),)),
        )
    )


def test_filter_fields_become_filters() -> None:
    q = parse_query('Putin source:"Der Standard" lang:de section:Inland author:Ann')
    assert q.root == Bool(should=(Term("Putin"),))
    assert q.filters == {
        "sources": ("Der Standard",),
        "languages": ("de",),
        "sections": ("Inland",),
        "authors": ("Ann",),
    }


def test_special_characters_never_reach_backends() -> None:
    q = parse_query('{"query": {"match_all": {}}} a:b* ~2 ^3 \\ /regex/')
    words = []

    def walk(node: object) -> None:
        if isinstance(node, Term):
            words.append(node.text)
        elif isinstance(node, Phrase):
            words.extend(node.words)
        elif isinstance(node, Bool):
            for part in (*node.must, *node.should, *node.must_not):
                walk(part)

    walk(q.root)
    assert all(w.replace("_", "").isalnum() for w in words), words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unterminated', "unterminated quote"),
        ("(a OR b", "missing closing parenthesis"),
        ("a)", "unexpected closing parenthesis"),
        ("-only", "cannot only exclude"),
        ("AND a", "AND needs a term"),
        ("a AND", "AND must be followed"),
        ("x" * 1001, "longer than 1000"),
        (" ".join(["w"] * 65), "too many terms"),
    ],
)
def test_syntax_errors_have_messages(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)


def test_unknown_field_prefix_is_just_words() -> None:
    q = parse_query("colour:red at 10:30")
    assert q.root == Bool(
        should=(Term("colour"), Term("red"), Term("at", stop_in=("en",)), Term("10"), Term("30"))
    )
    assert q.stop_words == ("at",)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("a b", True),
        ('"a"', False),
        ("+a b", False),
        ("a -b", False),
        ("title:a", False),
        ("a OR b", True),
        ("a AND b", False),
        ("(a b)", False),
        ("a source:x", True),
    ],
)
def test_plain_versus_constrained(text: str, plain: bool) -> None:
    assert parse_query(text).is_plain is plain


def test_empty_and_punctuation_only_queries() -> None:
    assert parse_query("").root is None
    assert parse_query("?!").root is None
    assert parse_query("source:x").root is None


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("Nur-Sultan", Phrase(("Nur", "Sultan"))),
        ('"Nur-Sultan"', Phrase(("Nur", "Sultan"))),
        ("U.S.-based", Phrase(("U.S", "based"))),
        ("Baden-Württemberg-Tag", Phrase(("Baden", "Württemberg", "Tag"))),
        ('"die Nur-Sultan-Frage"', Phrase(("die", "Nur", "Sultan", "Frage"))),
        ("title:Nur-Sultan", Phrase(("Nur", "Sultan"), "title")),
        ("don't", Term("don't")),  # one token for Elasticsearch; a phrase inside tantivy
        ("U.S", Term("U.S")),
    ],
)
def test_hyphenated_words_become_phrases_of_their_parts(text: str, node: Term | Phrase) -> None:
    assert parse_query(text).root == Bool(should=(node,))


def test_hyphenated_words_stay_whole_for_the_dense_retriever() -> None:
    q = parse_query("Nur-Sultan U.S.-based talks")
    assert q.root == Bool(
        should=(Phrase(("Nur", "Sultan")), Phrase(("U.S", "based")), Term("talks"))
    )
    assert q.is_plain  # no quotes or operators were typed
    assert q.free_text == "Nur-Sultan U.S based talks"
    assert parse_query("Putin -Nur-Sultan").free_text == "Putin"
    assert sub_words("U.S.-based Nur-Sultan") == ["U.S", "based", "Nur", "Sultan"]


def test_plain_queries_skip_stop_words_per_language_but_keep_them_for_dense() -> None:
    q = parse_query("Putin und die Gespräche in Moskau")
    assert q.root == Bool(
        should=(
            Term("Putin"),
            Term("und", stop_in=("de",)),
            Term("die", stop_in=("de",)),
            Term("Gespräche"),
            Term("in", stop_in=("de", "en")),
            Term("Moskau"),
        )
    )
    assert q.stop_words == ("und", "die", "in")
    assert q.free_text == "Putin und die Gespräche in Moskau"
    assert q.is_plain
    q = parse_query("переговоры и санкции")
    assert q.root == Bool(should=(Term("переговоры"), Term("и", stop_in=("ru",)), Term("санкции")))
    assert q.stop_words == ("и",)
    # "war" is a German stop word but an English word: skipped in German fields only.
    assert parse_query("war Ukraine").root == Bool(
        should=(Term("war", stop_in=("de",)), Term("Ukraine"))
    )
    # A hyphenated word keeps its stop words: it is a phrase.
    q = parse_query("the Nur-Sultan talks source:x")
    assert q.root == Bool(
        should=(Term("the", stop_in=("en",)), Phrase(("Nur", "Sultan")), Term("talks"))
    )
    assert q.filters == {"sources": ("x",)}


@pytest.mark.parametrize("text", ["the", "Die", "to be or not to be", "a OR the", "und?"])
def test_a_query_of_stop_words_only_keeps_them(text: str) -> None:
    q = parse_query(text)
    assert q.stop_words == ()
    typed = set(text.replace(" OR ", " ").strip("?").split())
    assert {leaf.text for leaf in leaves(q.root)} == typed


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ('"die Linke"', Bool(should=(Phrase(("die", "Linke")),))),
        ("+die Linke", Bool(must=(Term("die"),), should=(Term("Linke"),))),
        ("die AND Linke", Bool(should=(Bool(must=(Term("die"), Term("Linke"))),))),
        ("title:die Linke", Bool(should=(Term("die", "title"), Term("Linke")))),
        ("(die Linke)", Bool(should=(Bool(should=(Term("die"), Term("Linke"))),))),
        ("die Linke -CDU", Bool(should=(Term("die"), Term("Linke")), must_not=(Term("CDU"),))),
    ],
)
def test_constrained_queries_keep_every_word(text: str, root: Bool) -> None:
    q = parse_query(text)
    assert q.root == root
    assert q.stop_words == ()


def test_stop_words_come_from_tantivys_lists() -> None:
    assert stop_word_languages("the") == ("en",)
    assert stop_word_languages("nur") == ("de",)
    assert stop_word_languages("и") == ("ru",)
    assert set(stop_word_languages("in")) == {"de", "en"}
    assert is_stop_word("Die") and is_stop_word("FÜR") and is_stop_word("Для")
    # German stop words are dropped from any plain query, English "war" included.
    assert is_stop_word("war")
    for word in ("Putin", "Linke", "Sultan", "talks", "", "?!", "don't"):
        assert not is_stop_word(word), word


def test_leaves_are_distinct_and_include_excluded_ones() -> None:
    q = parse_query('(talks OR "Nur-Sultan") AND NOT budget talks title:x')
    assert leaves(q.root) == [
        Term("talks"),
        Phrase(("Nur", "Sultan")),
        Term("budget"),
        Term("x", "title"),
    ]
    assert leaves(None) == []
    assert leaves(Term("a")) == [Term("a")]


def test_a_word_typed_twice_counts_once_for_match() -> None:
    """``match`` counts *distinct* top-level words: a word repeated 60 times is one word, so
    ``all`` needs the three words (not 62) and ``auto`` still reads it as a 3-word keyword
    query (all of them), not a long one where any word would do."""
    import numpy as np

    from search_api.search import membership

    root = parse_query("measles vaccination " + "campaign " * 60).root
    assert membership.top_level_words(root) == 3
    masks = {
        "measles": np.array([True, False, True]),
        "vaccination": np.array([True, False, False]),
        "campaign": np.array([True, True, True]),
    }
    for match in ("all", "auto"):
        need = membership.minimum_should_match(match, membership.top_level_words(root))
        got = membership.evaluate(root, lambda leaf: masks[leaf.text], 3, top_msm=need)
        assert got.tolist() == [True, False, False], match
    need = membership.minimum_should_match("any", membership.top_level_words(root))
    got = membership.evaluate(root, lambda leaf: masks[leaf.text], 3, top_msm=need)
    assert got.tolist() == [True, True, True]


@pytest.mark.parametrize(
    ("text", "flat"),
    [
        ("Putin", ["Putin"]),
        ('"Nur-Sultan"', ["Nur Sultan"]),
        ("measles vaccination campaign measles", ["measles", "vaccination", "campaign"]),
        ('Merkel "Die Linke" title:Wahl', ["Merkel", "Die Linke", "Wahl"]),
        ("Putin -Tokajew", None),
        ("Putin AND Merkel", None),
        ("(Putin OR Merkel) Wahl", None),
        ("", None),
    ],
)
def test_flat_words_are_the_plain_queries_whose_membership_is_one_count(
    text: str, flat: list[str] | None
) -> None:
    """membership.flat_words names the distinct leaves of a query that is nothing but words
    and phrases, and for those evaluate / should_count are what counting them per article
    gives (the engine's fast path); every other query gets None (the general evaluation)."""
    import numpy as np

    from search_api.search import membership

    root = parse_query(text).root
    words = membership.flat_words(root)
    if flat is None:
        assert words is None
        return
    assert words is not None
    assert [w.text if isinstance(w, Term) else " ".join(w.words) for w in words] == flat
    rng = np.random.default_rng(len(text))
    masks = {leaf: rng.random(9) < 0.5 for leaf in words}
    count = sum(masks[leaf].astype(np.int64) for leaf in words)
    assert membership.should_count(root, masks.__getitem__, 9).tolist() == count.tolist()
    for need in range(1, len(words) + 1):
        got = membership.evaluate(root, masks.__getitem__, 9, top_msm=need)
        assert got.tolist() == (count >= need).tolist()


@pytest.mark.parametrize(
    ("text", "ranked"),
    [
        # a word tantivy splits, a hyphenated one, a split number: their tokens, each once
        ("don't COVID-19 4,300 covid", ["don", "t", "covid", "19", "4", "300"]),
        ("U.S U.S", ["u", "s"]),
        ("Putin -Tokajew", ["Putin"]),  # excluded words do not rank
        ('"Nur-Sultan" U.S', [("Nur", "Sultan"), "u", "s"]),  # a typed phrase stays whole
        ("title:Nur-Sultan", [("Nur", "Sultan")]),  # constrained: its phrases are kept
    ],
)
def test_bm25_ranks_a_split_word_by_its_tokens(text: str, ranked: list[Any]) -> None:
    """membership.ranking_tree: what the BM25 candidates are fetched with. A word that
    analyses into several tokens is scored as those tokens (a flat union of terms, which
    block-max WAND prunes); in a plain query its hyphenated words too; quoted phrases and
    every leaf of a constrained query that is a phrase stay phrases. Membership keeps the
    exact leaves (scoring_tree, flat_words)."""
    from search_api.search import membership

    parsed = parse_query(text)
    tree = membership.ranking_tree(parsed.root, plain=parsed.is_plain)
    assert tree is not None and not tree.must and not tree.must_not
    got = [leaf.text if isinstance(leaf, Term) else leaf.words for leaf in tree.should]
    assert got == ranked
    field = "title" if text.startswith("title:") else "text"
    assert all(leaf.field == field for leaf in tree.should)  # type: ignore[union-attr]
    # membership still sees the typed leaves
    assert membership.scoring_tree(parsed.root) == Bool(
        should=tuple(membership.distinct_leaves(parsed.root, positive_only=True))
    )
    assert membership.ranking_tree(None) is None
