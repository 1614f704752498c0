"""The Elasticsearch backend against a real node: the shared lexical contract plus ES specifics.

The node comes from ``tests.plugins.es_node`` (``ES_URL`` or ``scripts/es-node``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

from indexer.catalog import vec_id
from indexer.errors import BackendUnavailable, IngestError
from indexer.lexical.analysis import build_analyzer, positions, token_stream
from indexer.lexical.base import LexicalIndexOutdated
from indexer.lexical.elasticsearch import (
    ANALYZER,
    GAP,
    SCHEMA_VERSION,
    ElasticsearchBackend,
    analysis,
    build_search,
    index_body,
)
from indexer.models import Filters
from indexer.query import Bool, Phrase, Term, parse_query
from tests.contract.lexical_contract import (
    AGREEING_STEMS,
    ANALYSIS_CORPUS,
    CORPUS,
    DIVERGING_STEMS,
    TOKENIZER_TEXTS,
    Factory,
    LexicalBackendContract,
    para,
)

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
def make_backend(es_url: str, es_index_name: str) -> Iterator[Factory]:
    """Fresh backends on one per-test index: each call is a new client on the same index."""
    opened: list[ElasticsearchBackend] = []

    def factory() -> ElasticsearchBackend:
        backend = ElasticsearchBackend([es_url], es_index_name)
        opened.append(backend)
        return backend

    yield factory
    for backend in opened:
        backend.close()


class TestElasticsearchContract(LexicalBackendContract):
    """Every contract test, on a real Elasticsearch index (the current Snowball stems
    included: the tokens are tantivy's, whatever stemmer Lucene ships)."""


@pytest.fixture
def loaded(make_backend: Factory) -> ElasticsearchBackend:
    backend = make_backend()
    assert isinstance(backend, ElasticsearchBackend)
    backend.upsert(CORPUS)
    backend.commit()
    return backend


def test_mapping_is_explicit_with_per_language_analyzers(
    loaded: ElasticsearchBackend, es_client: Elasticsearch, es_index_name: str
) -> None:
    mapping = es_client.indices.get_mapping(index=es_index_name)[es_index_name]["mappings"]
    assert mapping["dynamic"] == "strict"
    props = mapping["properties"]
    assert mapping["_meta"] == {"newssearch_schema": SCHEMA_VERSION}
    for lang in ("de", "en", "ru", "std"):
        for prefix in ("text", "title"):
            field = props[f"{prefix}_{lang}"]
            assert field == {"type": "text", "analyzer": ANALYZER, "similarity": "newssearch_bm25"}
    # The text as it is, kept but not indexed; the token strings left out of _source.
    assert props["text"] == props["title"] == {"type": "text", "index": False}
    assert mapping["_source"] == {"excludes": ["text_*", "title_*"]}
    for key in ("paragraph_id", "article_id", "source", "language", "section", "authors"):
        assert props[key]["type"] == "keyword"
    assert props["published_at"]["type"] == "date"
    assert {props[k]["type"] for k in ("position", "start", "end")} == {"integer"}
    assert props["vec_id"] == {"type": "long"}  # doc values on, the default
    settings = es_client.indices.get_settings(index=es_index_name)[es_index_name]["settings"]
    bm25 = settings["index"]["similarity"]["newssearch_bm25"]
    assert (bm25["type"], float(bm25["k1"]), float(bm25["b"])) == ("BM25", 1.2, 0.75)
    # The analysis settings as given (the node echoes every value as a string).
    assert settings["index"]["analysis"] == _as_strings(analysis())


def _as_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _analyze(es: Elasticsearch, index: str, text: str, **how: Any) -> list[tuple[int, str]]:
    resp = es.indices.analyze(index=index, text=text, **how)
    return [(t["position"], t["token"]) for t in resp["tokens"]]


def test_analyzers_are_built_from_standard_types_only() -> None:
    """What a distribution's analysis-common (and the dev node) provides, nothing custom."""
    body = analysis()
    assert {t["type"] for t in body["tokenizer"].values()} == {"pattern"}
    assert {f["type"] for f in body["filter"].values()} == {"stop"}
    assert list(body["analyzer"]) == [ANALYZER]
    for analyzer in body["analyzer"].values():
        assert analyzer["type"] == "custom"
        assert set(analyzer["filter"]) <= set(body["filter"])


def test_indexed_tokens_are_the_embedded_backends_token_for_token(
    loaded: ElasticsearchBackend, es_client: Elasticsearch, es_index_name: str
) -> None:
    """Each token field indexes a token string as exactly tantivy's tokens at tantivy's
    positions, for every analyser, on text that exercises the tokenizer (punctuation, digits,
    scripts, emoji, marks), the byte-length limit (ASCII, 2-, 3- and 4-byte characters either
    side of 40 bytes, so gaps in positions, leading ones too), lowercasing (İ, ẞ, Σ) and the
    stemmers (words on which Lucene's Snowball agrees with tantivy's, and words on which it
    does not)."""
    texts = [
        *TOKENIZER_TEXTS,
        f"{'x' * 45} {'y' * 41} first",
        " ".join(w for words in AGREEING_STEMS.values() for w in words),
        " ".join(w for words in DIVERGING_STEMS.values() for w in words),
        " ".join(p.text for p in ANALYSIS_CORPUS),
    ]
    for lang in ("de", "en", "ru", "std"):
        for text in texts:
            expected = positions(text, lang)
            assert [pos for pos, _ in expected] == sorted({pos for pos, _ in expected})
            stream = token_stream(expected, GAP)
            got = _analyze(es_client, es_index_name, stream, field=f"text_{lang}")
            assert got == expected, (lang, text)
            assert got == _analyze(es_client, es_index_name, stream, analyzer=ANALYZER)
    assert positions("x" * 45 + " first", "de") == [(1, "first")]  # the gap is there to keep


def test_lucenes_snowball_differs_on_words_the_index_still_stems_as_tantivy(
    loaded: ElasticsearchBackend, es_client: Elasticsearch, es_index_name: str
) -> None:
    """Why the index takes tantivy's tokens: Lucene 9.10's Snowball (Elasticsearch 8.14's own
    ``snowball`` filter) stems these words unlike tantivy's current Snowball
    (docs/elasticsearch.md). When this fails, the two agree on a word now: move it to
    ``AGREEING_STEMS``. The backend matches the tantivy stem all the same."""
    lucene = {"de": "German2", "en": "English", "ru": "Russian"}
    for lang, words in DIVERGING_STEMS.items():
        analyzer = build_analyzer(lang)
        for word in words:
            ours = analyzer.analyze(word)
            theirs = [
                t
                for _, t in _analyze(
                    es_client,
                    es_index_name,
                    word,
                    tokenizer="standard",
                    filter=["lowercase", {"type": "snowball", "language": lucene[lang]}],
                )
            ]
            assert ours != theirs, (lang, word, ours)
    backend = loaded
    backend.upsert([para("d1:0", "Die Bundeskanzlerin berichtet.", lang="de")])
    backend.commit()
    for word in ("Bundeskanzler", "Bericht"):
        root = parse_query(word).root
        assert root is not None
        assert "d1:0" in {h.paragraph_id for h in backend.search(root, Filters(), 10)}


def test_dev_node_building_blocks_honour_their_settings(
    es_client: Elasticsearch, es_index_name: str
) -> None:
    """tools/es-runner registers analysis-common's ``pattern`` tokenizer and ``length``,
    ``pattern_replace`` and ``snowball`` filters with the same settings keys and defaults."""
    es_client.indices.create(
        index=es_index_name,
        settings={
            "analysis": {
                "tokenizer": {
                    "default_pattern": {"type": "pattern"},
                    "spaces": {"type": "pattern", "pattern": "\\s+"},
                    "commas": {"type": "pattern", "pattern": ",\\s*"},
                    "quoted": {"type": "pattern", "pattern": "'([^']+)'", "group": 1},
                    "caseless": {"type": "pattern", "pattern": "x", "flags": "CASE_INSENSITIVE"},
                },
                "filter": {
                    "short": {"type": "length", "min": 2, "max": 3},
                    "at_least_4": {"type": "length", "min": 4},
                    "first_a": {
                        "type": "pattern_replace",
                        "pattern": "a",
                        "replacement": "_",
                        "all": False,
                    },
                    "every_a": {"type": "pattern_replace", "pattern": "a", "replacement": "($0)"},
                    "drop_vowels": {"type": "pattern_replace", "pattern": "[aeiou]"},
                    "default_snowball": {"type": "snowball"},
                    "german_name": {"type": "snowball", "name": "german"},
                    "russian": {"type": "snowball", "language": "russian"},
                },
            }
        },
    )

    def tokens(text: str, **how: Any) -> list[str]:
        return [t for _, t in _analyze(es_client, es_index_name, text, **how)]

    assert tokens("don't stop-me now", tokenizer="default_pattern") == [
        "don",
        "t",
        "stop",
        "me",
        "now",
    ]
    assert tokens("a, b,c", tokenizer="commas") == ["a", "b", "c"]
    assert tokens("say 'one' and 'two'", tokenizer="quoted") == ["one", "two"]
    assert tokens("aXbxc", tokenizer="caseless") == ["a", "b", "c"]
    text = "a bb ccc dddd"
    assert tokens(text, tokenizer="spaces", filter=["short"]) == ["bb", "ccc"]
    assert tokens(text, tokenizer="spaces", filter=["at_least_4"]) == ["dddd"]
    assert tokens("banana", tokenizer="spaces", filter=["first_a"]) == ["b_nana"]
    assert tokens("banana", tokenizer="spaces", filter=["every_a"]) == ["b(a)n(a)n(a)"]
    assert tokens("banana", tokenizer="spaces", filter=["drop_vowels"]) == ["bnn"]
    assert tokens("running", tokenizer="spaces", filter=["default_snowball"]) == ["run"]
    assert tokens("Gespräche", tokenizer="spaces", filter=["lowercase", "german_name"]) == [
        "gesprach"
    ]
    assert tokens("переговоры", tokenizer="spaces", filter=["russian"]) == ["переговор"]
    # Removed tokens leave their position empty, as tantivy's remove_long does.
    assert _analyze(es_client, es_index_name, text, tokenizer="spaces", filter=["short"]) == [
        (1, "bb"),
        (2, "ccc"),
    ]
    for bad, message in (
        ({"type": "pattern_replace"}, "pattern is missing"),
        ({"type": "length", "enable_position_increments": True}, "not supported anymore"),
    ):
        with pytest.raises(ApiError, match=message):
            es_client.indices.create(
                index=f"{es_index_name}-bad",
                settings={"analysis": {"filter": {"bad": bad}}},
            )


def test_language_analyzers_honour_the_stopwords_setting(
    es_client: Elasticsearch, es_index_name: str
) -> None:
    """The dev node's LanguageAnalyzersPlugin parses ``stopwords`` as analysis-common does
    (indices of schema 2 use these analyzers until they are rebuilt)."""
    es_client.indices.create(
        index=es_index_name,
        settings={
            "analysis": {
                "analyzer": {
                    "none": {"type": "german", "stopwords": "_none_"},
                    "default": {"type": "german"},
                    "listed": {"type": "english", "stopwords": ["war", "worlds"]},
                    "named": {"type": "russian", "stopwords": "_english_"},
                }
            }
        },
    )

    def tokens(analyzer: str, text: str) -> list[str]:
        resp = es_client.indices.analyze(index=es_index_name, analyzer=analyzer, text=text)
        return [t["token"] for t in resp["tokens"]]

    assert tokens("none", "Die Linke und nur") == ["die", "link", "und", "nur"]
    assert tokens("default", "Die Linke und nur") == ["link"]
    assert tokens("german", "Die Linke und nur") == ["link"]  # the built-in name: defaults
    assert tokens("listed", "The war of the worlds") == ["the", "of", "the"]
    assert tokens("named", "the и переговоры") == ["и", "переговор"]


def test_paragraph_lands_in_its_language_field(
    loaded: ElasticsearchBackend, es_client: Elasticsearch, es_index_name: str
) -> None:
    src = es_client.get(index=es_index_name, id="a3:0")["_source"]
    assert src["text"] == CORPUS[3].text and not any(k.startswith("text_") for k in src)

    def hits(field: str, token: str) -> set[str]:
        resp = es_client.search(index=es_index_name, query={"term": {field: token}})
        return {str(h["_id"]) for h in resp["hits"]["hits"]}

    german, std = positions(CORPUS[3].text, "de")[-1][1], positions(CORPUS[6].text, "std")[0][1]
    assert "a3:0" in hits("text_de", german) and "a3:0" not in hits("text_en", german)
    assert "a6:0" in hits("text_std", std)  # Italian: standard analyser
    assert loaded.fetch(["a3:0"])["a3:0"] == CORPUS[3]


def test_bulk_failures_raise_with_summary_and_keep_good_rows(loaded: ElasticsearchBackend) -> None:
    bad = replace(para("b1:0", "An integer field cannot hold this position."), position=2**40)
    good = para("b2:0", "A perfectly fine paragraph about tariffs.")
    with pytest.raises(IngestError) as info:
        loaded.upsert([bad, good])
    message = str(info.value)
    assert "1 of 2 operations" in message and "b1:0" in message and "HTTP 400" in message
    loaded.commit()
    assert set(loaded.fetch(["b1:0", "b2:0"])) == {"b2:0"}


def test_version_conflicts_are_sorted_out_not_raised(
    loaded: ElasticsearchBackend, caplog: pytest.LogCaptureFixture
) -> None:
    # A "create" of an existing id is the one conflict a plain upsert flow can meet.
    action: dict[str, Any] = {
        "_op_type": "create",
        "_index": loaded.index,
        "_id": "a1:0",
        "_source": {"paragraph_id": "a1:0", "article_id": "a1", "position": 0},
    }
    with caplog.at_level(logging.WARNING, logger="indexer.lexical.elasticsearch"):
        loaded._bulk([action], "create paragraphs")
    assert "1 version conflicts" in caplog.text
    assert loaded.fetch(["a1:0"])["a1:0"] == CORPUS[0]


def test_deleting_unknown_paragraphs_is_not_an_error(loaded: ElasticsearchBackend) -> None:
    loaded.delete_paragraphs(["nope:1", "nope:2"])
    loaded.delete_articles(["nope"])
    loaded.commit()
    assert loaded.count() == len(CORPUS)


def test_delete_articles_also_removes_uncommitted_paragraphs(
    make_backend: Factory,
) -> None:
    backend = make_backend()
    backend.upsert([para("c1:0", "fresh text"), para("c1:1", "more fresh text")])
    backend.delete_articles(["c1"])
    backend.commit()
    assert backend.count() == 0


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_node_raises_backend_unavailable_quickly() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    backend = ElasticsearchBackend([url], "newssearch-nowhere")
    root = parse_query("talks").root
    assert root is not None
    calls: list[Callable[[], object]] = [
        lambda: backend.search(root, Filters(), 5),
        lambda: backend.upsert([CORPUS[0]]),
        backend.count,
        backend.commit,
        lambda: backend.fetch(["a1:0"]),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"cannot reach Elasticsearch at http://127"):
            call()
        assert time.monotonic() - started < 5
    backend.close()


def test_client_and_index_are_created_lazily(
    es_client: Elasticsearch, es_index_name: str, es_url: str
) -> None:
    backend = ElasticsearchBackend([es_url], es_index_name)
    assert not es_client.indices.exists(index=es_index_name)
    assert backend.count() == 0
    assert es_client.indices.exists(index=es_index_name)
    backend.close()
    backend.close()  # idempotent


def test_an_index_of_an_older_schema_refuses_to_answer_until_reset(
    es_client: Elasticsearch, es_index_name: str, es_url: str
) -> None:
    body = index_body()
    body["mappings"]["_meta"]["newssearch_schema"] = SCHEMA_VERSION - 1
    es_client.indices.create(index=es_index_name, **body)
    backend = ElasticsearchBackend([es_url], es_index_name)
    assert backend.count() == 0  # counting (check) still works
    root = parse_query("talks").root
    assert root is not None
    for call in (
        lambda: backend.search(root, Filters(), 5),
        lambda: backend.highlight(root, ["a1:0"]),
        lambda: backend.matching_vec_ids([Term("talks")]),
        lambda: backend.upsert([CORPUS[0]]),
    ):
        with pytest.raises(LexicalIndexOutdated, match=r"older NewsSearch.*repair --lexical"):
            call()
    backend.reset()
    backend.upsert(CORPUS)
    backend.commit()
    assert [h.paragraph_id for h in backend.search(root, Filters(), 1)] == ["a5:0"]
    backend.close()
    mapping = es_client.indices.get_mapping(index=es_index_name)[es_index_name]["mappings"]
    assert mapping["_meta"]["newssearch_schema"] == SCHEMA_VERSION


def test_matching_vec_ids_pages_through_every_match(loaded: ElasticsearchBackend) -> None:
    """Pages of 2: leaves that finish after one, two and several rounds of one _msearch."""
    loaded.upsert([para(f"p{i}:0", f"More talks, round {i}.") for i in range(7)])
    loaded.commit()
    loaded._match_page = 2
    leaves = [Term("talks"), Term("budget"), Term("round"), Term("nothing"), Term("Putin")]
    got = loaded.matching_vec_ids(leaves)
    expected = [
        {"a1:0", "a5:0", *(f"p{i}:0" for i in range(7))},
        {"a2:0"},
        {f"p{i}:0" for i in range(7)},
        set(),
        {"a1:0", "a3:0"},
    ]
    for vec_ids, pids in zip(got, expected, strict=True):
        assert sorted(vec_ids.tolist()) == sorted(vec_id(p) for p in pids)


def test_vec_id_is_stored_with_each_paragraph(
    loaded: ElasticsearchBackend, es_client: Elasticsearch, es_index_name: str
) -> None:
    src = es_client.get(index=es_index_name, id="a3:0")["_source"]
    assert src["vec_id"] == vec_id("a3:0")


def test_foreign_index_is_refused(
    es_client: Elasticsearch, es_index_name: str, es_url: str
) -> None:
    es_client.indices.create(index=es_index_name, mappings={"properties": {"x": {"type": "text"}}})
    backend = ElasticsearchBackend([es_url], es_index_name)
    with pytest.raises(BackendUnavailable, match="not created by NewsSearch"):
        backend.upsert([CORPUS[0]])
    backend.close()


NASTY = [
    'title:"a: b" {x} (y OR "z:w") -q',
    "a+b && c || d ~ * ? ^ [ ] / \\\\ !",
    '{"query": {"query_string": {}}} "a:b"',
    "x OR (query_string AND *:*)",
]


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_query_dsl_never_uses_query_string(loaded: ElasticsearchBackend) -> None:
    trees: list[Any] = [
        Term('*:{"x"}'),
        Phrase(("a:b", "{c}", "d~2")),
        Bool(must=(Term("x:y"),), should=(Phrase(('"q"', "r")),), must_not=(Term("AND"),)),
    ]
    for text in NASTY:
        root = parse_query(text).root
        assert root is not None
        trees.append(root)
    for tree in trees:
        body = build_search(tree, Filters(sources=("a:b",)), 10)
        keys = _keys(body)
        assert "query_string" not in keys and "simple_query_string" not in keys
        _assert_only_token_leaves(body["query"])
        loaded.search(tree, Filters(), 10)  # the node accepts it: no 400 from user text


def _assert_only_token_leaves(node: Any) -> None:
    """Every leaf is term / match_phrase / terms / range / match_none: nothing parses syntax,
    and text reaches a token field only as analysed tokens."""
    assert isinstance(node, dict) and len(node) == 1
    kind, body = next(iter(node.items()))
    if kind == "bool":
        for occur in ("must", "should", "must_not", "filter"):
            for child in body.get(occur, []):
                _assert_only_token_leaves(child)
        return
    assert kind in {"term", "match_phrase", "terms", "range", "match_none"}
    if kind in {"term", "match_phrase"}:
        [(field, value)] = body.items()
        assert field.split("_")[0] in {"text", "title"} and isinstance(value, str)
        assert value.split(" ") == [t for t in value.split(" ") if t == GAP or t.isalnum()]


def test_highlight_marks_positive_terms_and_phrases_only(loaded: ElasticsearchBackend) -> None:
    root = parse_query('"Putin and Tokayev" security -Moscow').root
    assert root is not None
    spans = loaded.highlight(root, ["a1:0", "a2:0", "missing:0"])
    text = CORPUS[0].text
    marked = [text[s:e] for s, e in spans["a1:0"]]
    assert "security" in marked and "Moscow" not in marked
    assert "".join(marked).startswith("Putin") and "Tokayev" in " ".join(marked)
    assert spans["a2:0"] == [] and spans["missing:0"] == []
