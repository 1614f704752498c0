"""The contract every :class:`~indexer.lexical.base.LexicalBackend` must honour.

Written once; each backend's test module subclasses :class:`LexicalBackendContract` and provides
a ``make_backend`` fixture returning a zero-argument factory. The factory must return a *fresh,
empty* backend the first time and, when called again in the same test, a new handle on the
*same* store (a reopened embedded index, a new client on the same Elasticsearch index): that is
how persistence is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from indexer.lexical.base import LexicalBackend
from indexer.models import Filters, Paragraph
from indexer.query import parse_query

Factory = Callable[[], LexicalBackend]


def para(
    pid: str,
    text: str,
    *,
    lang: str = "en",
    source: str = "wire",
    section: str | None = "politics",
    title: str = "",
    authors: tuple[str, ...] = (),
    day: int | None = None,
) -> Paragraph:
    """A paragraph for contract tests; ``pid`` is ``article:n``."""
    article, n = pid.split(":")
    return Paragraph(
        paragraph_id=pid,
        article_id=article,
        position=int(n),
        text=text,
        start=0,
        end=len(text),
        title=title,
        source=source,
        language=lang,
        section=section,
        authors=authors,
        published_at=datetime(2022, 2, day, 12, tzinfo=UTC) if day else None,
    )


CORPUS = [
    para("a1:0", "Putin and Tokayev held talks in Moscow about security.", day=10, title="Talks"),
    para("a1:1", "The presidents discussed trade, space and the economy.", day=10, title="Talks"),
    para(
        "a2:0",
        "Parliament passed the budget after a long debate.",
        day=12,
        source="gazette",
        section="economy",
        authors=("Ann Lee",),
    ),
    para(
        "a3:0",
        "Die Gespräche zwischen Putin und Tokajew dauerten drei Stunden.",
        lang="de",
        source="bbabo",
        day=11,
        title="Weltraum, Waffen und Proteste",
    ),
    para(
        "a4:0", "Переговоры Путина и Токаева длились три часа.", lang="ru", source="gazeta", day=9
    ),
    para(
        "a5:0",
        "Talks talks talks: the summit was about talks and more talks.",
        day=14,
        authors=("Bo Chen", "Ann Lee"),
    ),
    para("a6:0", "A paragraph in Italian: il presidente ha parlato.", lang="it", source="ansa"),
]


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.paragraph_id for h in hits]


class LexicalBackendContract:
    """Inherit and provide ``make_backend``; every test here then runs against that backend."""

    @pytest.fixture
    def backend(self, make_backend: Factory) -> LexicalBackend:
        b = make_backend()
        b.upsert(CORPUS)
        b.commit()
        return b

    def search(self, b: LexicalBackend, q: str, limit: int = 10, **filters: object) -> list[str]:
        return ids(b.search(parse_query(q).root, Filters(**filters), limit))  # type: ignore[arg-type]

    def test_is_a_lexical_backend(self, backend: LexicalBackend) -> None:
        assert isinstance(backend, LexicalBackend)
        assert backend.count() == len(CORPUS)
        assert set(backend.paragraph_ids()) == {p.paragraph_id for p in CORPUS}

    def test_scores_descend_and_ids_are_unique(self, backend: LexicalBackend) -> None:
        hits = backend.search(parse_query("talks Putin budget").root, Filters(), 10)
        assert len(hits) >= 4
        assert len({h.paragraph_id for h in hits}) == len(hits)
        keys = [(-h.score, h.paragraph_id) for h in hits]
        assert keys == sorted(keys)
        assert all(h.score > 0 for h in hits)

    def test_bm25_term_frequency_ranks_first(self, backend: LexicalBackend) -> None:
        assert self.search(backend, "talks")[0] == "a5:0"

    def test_only_matching_paragraphs_and_limit(self, backend: LexicalBackend) -> None:
        assert self.search(backend, "budget") == ["a2:0"]
        assert self.search(backend, "nonexistentword") == []
        assert len(self.search(backend, "talks Putin the", limit=2)) == 2

    def test_stemming_per_language(self, backend: LexicalBackend) -> None:
        assert "a3:0" in self.search(backend, "Gespräch")  # German: Gespräche -> gespräch
        assert "a4:0" in self.search(backend, "переговор")  # Russian: Переговоры
        assert "a2:0" in self.search(backend, "debating")  # English: debate/debating
        assert "a6:0" in self.search(backend, "presidente")  # standard analyser, no stemming

    def test_phrase_and_boolean(self, backend: LexicalBackend) -> None:
        assert self.search(backend, '"Putin and Tokayev"') == ["a1:0"]
        assert self.search(backend, '"Tokayev and Putin"') == []
        assert set(self.search(backend, "Putin -Moscow")) == {"a3:0"}
        assert set(self.search(backend, "Putin AND Moscow")) == {"a1:0"}
        assert set(self.search(backend, "+talks +summit")) == {"a5:0"}
        assert set(self.search(backend, "budget OR summit")) == {"a2:0", "a5:0"}

    def test_title_field(self, backend: LexicalBackend) -> None:
        assert set(self.search(backend, "title:Waffen")) == {"a3:0"}
        assert set(self.search(backend, "title:talks")) == {"a1:0", "a1:1"}

    def test_filters(self, backend: LexicalBackend) -> None:
        q = "talks Putin budget Gespräche"
        assert set(self.search(backend, q, sources=("gazette",))) == {"a2:0"}
        assert set(self.search(backend, q, languages=("de",))) == {"a3:0"}
        assert set(self.search(backend, q, sections=("economy",))) == {"a2:0"}
        assert set(self.search(backend, q, authors=("Ann Lee",))) == {"a2:0", "a5:0"}
        assert set(self.search(backend, q, article_ids=("a1",))) == {"a1:0"}
        day = datetime(2022, 2, 11, tzinfo=UTC)
        late = set(self.search(backend, q, date_from=day))
        assert late == {"a3:0", "a2:0", "a5:0"}
        early = set(self.search(backend, q, date_to=day))
        assert early == {"a1:0"}

    def test_filters_do_not_change_scores(self, backend: LexicalBackend) -> None:
        q = parse_query("talks").root
        assert q is not None
        plain = {h.paragraph_id: h.score for h in backend.search(q, Filters(), 10)}
        filtered = backend.search(q, Filters(sources=("wire",)), 10)
        for h in filtered:
            assert h.score == pytest.approx(plain[h.paragraph_id], rel=1e-6)

    def test_upsert_replaces(self, backend: LexicalBackend) -> None:
        backend.upsert([para("a2:0", "The senate rejected the tariff bill.", day=12)])
        backend.commit()
        assert backend.count() == len(CORPUS)
        assert self.search(backend, "budget") == []
        assert self.search(backend, "tariff") == ["a2:0"]
        assert backend.fetch(["a2:0"])["a2:0"].text == "The senate rejected the tariff bill."

    def test_delete_articles_and_paragraphs(self, backend: LexicalBackend) -> None:
        backend.delete_articles(["a1", "unknown"])
        backend.delete_paragraphs(["a5:0", "zz:9"])
        backend.commit()
        assert backend.count() == len(CORPUS) - 3
        assert self.search(backend, "talks Tokayev") == []

    def test_fetch_round_trips_fields(self, backend: LexicalBackend) -> None:
        got = backend.fetch(["a2:0", "a3:0", "missing:0"])
        assert set(got) == {"a2:0", "a3:0"}
        assert got["a2:0"] == CORPUS[2]
        assert got["a3:0"] == CORPUS[3]

    def test_highlight_spans(self, backend: LexicalBackend) -> None:
        q = parse_query("Gespräch Putin").root
        assert q is not None
        spans = backend.highlight(q, ["a3:0", "a2:0"])
        text = CORPUS[3].text
        assert [text[s:e] for s, e in spans["a3:0"]] == ["Gespräche", "Putin"]
        assert spans["a2:0"] == []

    def test_stop_words_keep_phrase_positions(self, make_backend: Factory) -> None:
        b = make_backend()
        b.upsert(
            [
                para("w1:0", "Orson Welles read The War of the Worlds on the radio."),
                para("w2:0", "A war between worlds is science fiction."),
                para("w3:0", "The war the worlds feared never came."),
            ]
        )
        b.commit()
        # Stop words are not indexed, but their positions are: the phrase matches only the
        # paragraph with the same gap between "war" and "worlds".
        assert self.search(b, '"war of the worlds"') == ["w1:0"]
        assert set(self.search(b, "war worlds")) == {"w1:0", "w2:0", "w3:0"}
        # A stop word alone matches nothing in English text (it is not a term there).
        assert self.search(b, "the") == []

    def test_highlight_uses_known_paragraphs(self, backend: LexicalBackend) -> None:
        q = parse_query("budget").root
        assert q is not None
        known = {"a2:0": CORPUS[2]}
        spans = backend.highlight(q, ["a2:0", "a1:0"], known)
        assert [CORPUS[2].text[s:e] for s, e in spans["a2:0"]] == ["budget"]
        assert spans["a1:0"] == []

    def test_reset_empties_the_store_and_it_keeps_working(
        self, backend: LexicalBackend, make_backend: Factory
    ) -> None:
        backend.reset()
        assert backend.count() == 0
        assert self.search(backend, "budget") == []
        backend.upsert([CORPUS[2]])
        backend.commit()
        assert self.search(backend, "budget") == ["a2:0"]
        backend.close()
        assert make_backend().count() == 1

    def test_persists_across_reopen(self, backend: LexicalBackend, make_backend: Factory) -> None:
        backend.close()
        again = make_backend()
        assert again.count() == len(CORPUS)
        assert self.search(again, "budget") == ["a2:0"]
