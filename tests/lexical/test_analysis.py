"""The shared analysis: token strings give back tantivy's tokens at tantivy's positions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.lexical.analysis import ANALYZER_LANGS, MAX_TOKEN_CHARS, positions, token_stream
from indexer.lexical.elasticsearch import GAP

WORDS = st.one_of(
    st.sampled_from(["Die", "Bundeskanzlerin", "berichtet", "U.S.-based", "Путина", "ẞ", "İ"]),
    st.text(min_size=1, max_size=50),
    st.integers(MAX_TOKEN_CHARS - 2, MAX_TOKEN_CHARS + 2).map(lambda n: "q" * n),
)


def read_back(stream: str) -> list[tuple[int, str]]:
    """What the Elasticsearch analyzer makes of a token string: split on one space, drop GAP
    keeping its position."""
    if not stream:
        return []
    return [(i, t) for i, t in enumerate(stream.split(" ")) if t != GAP]


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=12), st.sampled_from(ANALYZER_LANGS))
def test_token_stream_reads_back_as_the_tokens(words: list[str], lang: str) -> None:
    text = " ".join(words)
    tokens = positions(text, lang)
    stream = token_stream(tokens, GAP)
    assert read_back(stream) == tokens
    assert all(t and " " not in t and t != GAP for _, t in tokens)


def test_dropped_long_tokens_leave_gaps() -> None:
    text = f"{'x' * MAX_TOKEN_CHARS} eins {'y' * 60} zwei"
    assert positions(text, "std") == [(1, "eins"), (3, "zwei")]
    assert token_stream(positions(text, "std"), GAP) == "_ eins _ zwei"
    assert token_stream([], GAP) == ""
