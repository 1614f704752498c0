"""The query language: what parses into which tree, and what is a 400."""

from __future__ import annotations

import pytest

from indexer.errors import QuerySyntaxError
from indexer.query import Bool, Phrase, Term, parse_query


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
    assert q.root == Bool(should=(Term("colour"), Term("red"), Term("at"), Term("10"), Term("30")))


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
