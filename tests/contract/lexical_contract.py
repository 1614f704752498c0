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

from indexer.catalog import vec_id
from indexer.lexical.base import LexicalBackend
from indexer.models import Filters, Paragraph
from indexer.query import Phrase, Term, leaves, parse_query

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


#: Stop words inside names and phrases: each must match only where its words stand together.
STOP_WORD_CORPUS = [
    para("s1:0", "Sultan Qabus regierte Oman fast fünfzig Jahre.", lang="de"),
    para("s2:0", "Sultan Qabus ruled Oman for almost fifty years."),
    para("s3:0", "Nur-Sultan ist seit 2019 der Name der Hauptstadt.", lang="de"),
    para("s4:0", "Astana was called Nur-Sultan from 2019 to 2022."),
    para("s5:0", "Die Linke stellt in Thüringen den Ministerpräsidenten.", lang="de"),
    para("s6:0", "Die Partei verlor, Linke und Grüne gewannen.", lang="de"),
    para("s7:0", "Die Alternative für Deutschland zog in den Landtag ein.", lang="de"),
    para("s8:0", "Eine Alternative gegen Deutschland gab es nicht.", lang="de"),
    para("s9:0", "A U.S.-based group sued the agency."),
    para("s10:0", "The group is based in the U.K., not the U.S."),
]


#: Words whose analysis the two backends must share: stems (Snowball German, English, Russian),
#: words the tokenizer splits ("U.S.-based", "don't", "Nur-Sultan"), case (İ, ẞ) and stop words.
ANALYSIS_CORPUS = [
    para("t1:0", "Die Sicherheit Europas hat für die Regierung Vorrang.", lang="de"),
    para("t2:0", "Die regierenden Parteien stellten sich hinter den Kanzler.", lang="de"),
    para(
        "t3:0", "Der ukrainischen Armee fehlt Munition, sagte der Präsident der Ukraine.", lang="de"
    ),
    para(
        "t4:0",
        "Der österreichischen Regierung zufolge reist der Bundeskanzler nach Europa.",
        lang="de",
    ),
    para(
        "t5:0", "Die Präsidenten Österreichs und der Ukraine trafen sich in Nur-Sultan.", lang="de"
    ),
    para(
        "t6:0", "Israel und die Vereinigten Staaten; aktuell: Michael Müller, İstanbul.", lang="de"
    ),
    para("e1:0", "A U.S.-based group said it doesn't know, and don't ask why."),
    para("e2:0", "The president's visit ended the presidents' talks on the countries' debts."),
    para("e3:0", "Children played with the child's toys in a country of parks."),
    para("e4:0", "She was running, he runs; the ruling parties ruled."),
    para(
        "r1:0",
        "Президентом Казахстана избран Токаев, Президент России поздравил Токаева в Москве.",
        lang="ru",
    ),
    para("r2:0", "Переговоры президентов длились три часа, сообщили из Москвы.", lang="ru"),
    para("r3:0", "Москва ещё не ответила на переговорах про безопасность.", lang="ru"),
    para("x1:0", "La sicurezza dell'Europa e il presidente: U.S.-based, Nur-Sultan.", lang="it"),
    # A token of 40 UTF-8 bytes or more is dropped and leaves its position empty.
    para("x2:0", f"inizio {'z' * 45} fine, {'й' * 20} fine, {'й' * 19} ende", lang="it"),
]

#: Query -> the paragraphs of ``ANALYSIS_CORPUS`` it matches, on either backend.
ANALYSIS_MATCHES: dict[str, set[str]] = {
    # Snowball German stems "Sicherheit" to "sich": it matches the reflexive "sich" too.
    "Sicherheit": {"t1:0", "t2:0", "t5:0"},
    "Regierung": {"t1:0", "t2:0", "t4:0"},  # regier: regierenden too
    "regierenden": {"t1:0", "t2:0", "t4:0"},
    "ukrainischen": {"t3:0", "t5:0"},  # ukrain: Ukraine too
    "Ukraine": {"t3:0", "t5:0"},
    "Europa": {"t4:0", "x1:0"},  # Snowball keeps the s of "Europas" (not after a/e/i/o/u)
    "Europas": {"t1:0"},
    "österreichischen": {"t4:0", "t5:0"},  # osterreich: Österreichs
    "Österreich": {"t4:0", "t5:0"},
    "Präsident": {"t3:0", "t5:0"},  # prasident: Präsidenten
    "Bundeskanzler": {"t4:0"},
    "Israel": {"t6:0"},
    "aktuelle": {"t6:0"},
    "Mueller": {"t6:0"},  # ue read as ü, like "Müller"
    "istanbul": set(),  # "İstanbul" lowercases to "i̇stanbul" (with U+0307) on both
    "İstanbul": {"t6:0"},
    "U.S.-based": {"e1:0", "x1:0"},
    '"U.S."': {"e1:0", "x1:0"},
    "based": {"e1:0", "x1:0"},
    "don't": {"e1:0"},
    "doesn't": {"e1:0"},
    "Nur-Sultan": {"t5:0", "x1:0"},
    "president": {"e2:0"},  # president's, presidents'
    "presidents": {"e2:0"},
    "country": {"e2:0", "e3:0"},  # countries'
    "child": {"e3:0"},  # child's; "Children" is another word
    "children": {"e3:0"},
    "run": {"e4:0"},  # running, runs
    "rule": {"e4:0"},  # ruling, ruled
    "президент": {"r1:0", "r2:0"},  # президентом, президентов
    "Москва": {"r1:0", "r2:0", "r3:0"},  # Москве, Москвы
    "переговоры": {"r2:0", "r3:0"},  # переговорах
    "ещё": {"r3:0"},
    "sicurezza": {"x1:0"},  # Italian: standard analyser, no stemming
    "presidente": {"x1:0"},
    '"inizio fine"': set(),
    f'"inizio {"q" * 41} fine"': {"x2:0"},  # the long words leave the same gap
    "z" * 45: set(),
    "й" * 20: set(),  # 40 bytes in UTF-8, though 20 characters
    "й" * 19: {"x2:0"},
    f'"{"й" * 19} ende"': {"x2:0"},
}

#: Pairs of paragraphs that tantivy's current Snowball stemmers conflate and Lucene 9.10's
#: (Elasticsearch 8.14's own) do not: query -> what it matches on every backend.
SNOWBALL_UPDATES_CORPUS = [
    para("u1:0", "Die Bundeskanzlerin sprach.", lang="de"),
    para("u2:0", "Der Bundeskanzler sprach.", lang="de"),
    para("u3:0", "Die Zeitung berichtet heute.", lang="de"),
    para("u4:0", "Der Bericht erschien gestern.", lang="de"),
    para("u5:0", "Die neuen Regeln gelten.", lang="de"),
    para("u6:0", "Eine Regel gilt.", lang="de"),
    para("u7:0", "He added a note."),
    para("u8:0", "They add notes."),
]
SNOWBALL_UPDATES = {
    "Bundeskanzlerin": {"u1:0", "u2:0"},  # -erin
    "berichtet": {"u3:0", "u4:0"},  # -et
    "Regeln": {"u5:0", "u6:0"},  # -ln
    "added": {"u7:0", "u8:0"},  # Lucene: "ad"
}

#: Text that exercises the tokenizer, the byte-length limit and lowercasing.
TOKENIZER_TEXTS = [
    "U.S.-based don't Nur-Sultan O'Neill e-mail x\u00b2y \u00bd \u216b \u2460 \uff13 \u0663 "
    "\U0001d518\U0001d52b\U0001d526 \U0001f600abc\U0001f600 İstanbul İLHAM ΣΑΣ ς ẞ",
    " ".join(["a" * 39, "b" * 40, "д" * 19, "д" * 20, "ä" * 19, "ä" * 20, "中" * 13, "中" * 14]),
    " ".join(
        ["\U0001f600x" * 8, "\U0001f600x" * 9 + "\U0001f600", "\U0001d518" * 9, "\U0001d518" * 10]
    ),
    "ещё Ёлка всё пришёл, Сергей's Путина-Медведева 2022-02-10 10:30 3.5% $100 #tag @user",
    "co\u0301te naïve Zoë cafe\u0301 Straße STRASSE \ufb01nden \u2163 \u210c \u3231 "
    "\uff76\uff80\uff76\uff85 ไทย العربية हिन्दी",
    "soft\u00adhyphen zero\u200bwidth tab\tnew\nline x\u00a0y "
    "\u2039\u203a«»„“”\u201a\u2018\u2019 — \u2013 … • · § \u2032",
]

#: Words on which tantivy's Snowball stemmers and Lucene's (Elasticsearch) agree.
AGREEING_STEMS = {
    "de": [
        "Sicherheit",
        "Regierung",
        "regierenden",
        "ukrainischen",
        "Ukraine",
        "Europa",
        "Europas",
        "österreichischen",
        "Präsident",
        "Präsidenten",
        "Bundeskanzler",
        "Israel",
        "aktuell",
        "Michael",
        "Müller",
        "Mueller",
        "Gespräche",
        "Häuser",
        "Straße",
        "Bundesländer",
        "Wahlen",
        "gewählt",
        "Zeitung",
        "Zeitungen",
        "Koalitionen",
        "Polizisten",
    ],
    "en": [
        "president's",
        "presidents'",
        "presidents",
        "countries",
        "country",
        "running",
        "runs",
        "ruled",
        "ruling",
        "children",
        "child's",
        "debates",
        "debating",
        "generously",
        "relational",
        "agreed",
        "happily",
    ],
    "ru": [
        "президент",
        "президентом",
        "президентов",
        "Москва",
        "Москве",
        "Москвы",
        "переговоры",
        "переговорах",
        "безопасности",
        "ещё",
        "встретился",
        "сообщили",
        "длились",
        "красивая",
        "красивее",
    ],
}

#: Words the current Snowball (tantivy) and Lucene 9.10's Snowball (Elasticsearch 8.14) stem
#: differently: German -erin(nen), -ln, -et, -system; English "added", "international", ...
DIVERGING_STEMS = {
    "de": [
        "Bundeskanzlerin",
        "Sprecherin",
        "regeln",
        "handeln",
        "berichtet",
        "meldete",
        "System",
        "Budget",
    ],
    "en": [
        "added",
        "adding",
        "international",
        "university",
        "emergency",
        "evening",
        "organization",
    ],
}


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.paragraph_id for h in hits]


def marked_words(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The words inside highlight spans (one span may cover several adjacent words)."""
    return [w for s, e in spans for w in text[s:e].split()]


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
        root = parse_query("talks Putin budget").root
        assert root is not None
        hits = backend.search(root, Filters(), 10)
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

    def test_phrases_with_stop_words_match_exactly(self, make_backend: Factory) -> None:
        b = make_backend()
        b.upsert(
            [
                para("w1:0", "Orson Welles read The War of the Worlds on the radio."),
                para("w2:0", "A war between worlds is science fiction."),
                para("w3:0", "The war the worlds feared never came."),
            ]
        )
        b.commit()
        # Stop words are indexed: the phrase needs exactly these words in this order.
        assert self.search(b, '"war of the worlds"') == ["w1:0"]
        assert self.search(b, '"war the worlds"') == ["w3:0"]
        assert set(self.search(b, "war worlds")) == {"w1:0", "w2:0", "w3:0"}
        # A query of stop words only keeps them, and they match like any word.
        assert set(self.search(b, "the")) == {"w1:0", "w3:0"}
        assert set(self.search(b, "+the +war")) == {"w1:0", "w3:0"}

    @pytest.fixture
    def stop_words(self, make_backend: Factory) -> LexicalBackend:
        b = make_backend()
        b.upsert(STOP_WORD_CORPUS)
        b.commit()
        return b

    def test_hyphenated_names_match_only_together(self, stop_words: LexicalBackend) -> None:
        # "nur" is a German stop word: "Nur-Sultan" must not shrink to "Sultan".
        assert set(self.search(stop_words, '"Nur-Sultan"')) == {"s3:0", "s4:0"}
        assert set(self.search(stop_words, "Nur-Sultan")) == {"s3:0", "s4:0"}
        assert set(self.search(stop_words, '"Nur Sultan"')) == {"s3:0", "s4:0"}
        assert set(self.search(stop_words, "Sultan")) == {"s1:0", "s2:0", "s3:0", "s4:0"}
        assert self.search(stop_words, "U.S.-based") == ["s9:0"]
        assert self.search(stop_words, "title:Nur-Sultan") == []

    def test_stop_word_phrases_match_only_where_adjacent(self, stop_words: LexicalBackend) -> None:
        assert self.search(stop_words, '"die Linke"') == ["s5:0"]
        assert self.search(stop_words, '"Die Linke" Thüringen') == ["s5:0"]
        assert self.search(stop_words, '"Alternative für Deutschland"') == ["s7:0"]
        assert self.search(stop_words, '"Alternative gegen Deutschland"') == ["s8:0"]
        assert set(self.search(stop_words, "+Linke")) == {"s5:0", "s6:0"}

    def test_plain_query_with_stop_words_finds_content_words(
        self, backend: LexicalBackend, stop_words: LexicalBackend
    ) -> None:
        parsed = parse_query("the talks in Moscow")
        assert parsed.stop_words == ("the", "in")
        assert self.search(backend, "the talks in Moscow")[0] == "a1:0"
        assert "a3:0" in self.search(backend, "die Gespräche und drei Stunden")
        assert set(self.search(stop_words, "Die Linke")) == {"s5:0", "s6:0"}

    def test_highlight_marks_phrases_where_they_match(self, stop_words: LexicalBackend) -> None:
        text = {p.paragraph_id: p.text for p in STOP_WORD_CORPUS}
        q = parse_query('"die Linke"').root
        assert q is not None
        spans = stop_words.highlight(q, ["s5:0", "s6:0"])
        assert marked_words(text["s5:0"], spans["s5:0"]) == ["Die", "Linke"]
        assert spans["s6:0"] == []
        q = parse_query("Die Linke Thüringen").root  # plain: "Die" is left out
        assert q is not None
        spans = stop_words.highlight(q, ["s5:0"])
        assert marked_words(text["s5:0"], spans["s5:0"]) == ["Linke", "Thüringen"]
        q = parse_query("Nur-Sultan").root
        assert q is not None
        spans = stop_words.highlight(q, ["s3:0", "s1:0"])
        assert marked_words(text["s3:0"], spans["s3:0"]) in (["Nur-Sultan"], ["Nur", "Sultan"])
        assert spans["s1:0"] == []

    @pytest.fixture
    def analysed(self, make_backend: Factory) -> LexicalBackend:
        b = make_backend()
        b.upsert(ANALYSIS_CORPUS)
        b.commit()
        return b

    def test_words_are_analysed_alike(self, analysed: LexicalBackend) -> None:
        """The same paragraphs match each word on every backend: Snowball stems (German,
        English, Russian), tokens split at every non-alphanumeric character, the byte-length
        limit, lowercasing; and every match is listed by ``matching_vec_ids`` too."""
        wrong = {
            q: got
            for q, expected in ANALYSIS_MATCHES.items()
            if (got := set(self.search(analysed, q, limit=100))) != expected
        }
        assert wrong == {}
        for q, expected in ANALYSIS_MATCHES.items():
            tree = leaves(parse_query(q).root)
            if len(tree) == 1:
                (vec_ids,) = analysed.matching_vec_ids(tree)
                assert set(vec_ids.tolist()) == {vec_id(p) for p in expected}, q

    def test_highlights_follow_the_tokens(self, analysed: LexicalBackend) -> None:
        """The words a match marks (Elasticsearch may join adjacent tokens into one span:
        only letters and digits are compared)."""
        text = {p.paragraph_id: p.text for p in ANALYSIS_CORPUS}
        for q, pid, words in (
            ("U.S.-based", "e1:0", "U S based"),
            ("Sicherheit", "t2:0", "sich"),
            ("ukrainischen", "t5:0", "Ukraine"),
            ("Präsident", "t5:0", "Präsidenten"),
            ("президент", "r1:0", "Президентом Президент"),
        ):
            root = parse_query(q).root
            assert root is not None
            spans = analysed.highlight(root, [pid])[pid]
            marked = [c for s, e in spans for c in text[pid][s:e] if c.isalnum()]
            assert "".join(marked) == words.replace(" ", ""), q

    def test_current_snowball_stems(self, make_backend: Factory) -> None:
        """Words the current Snowball algorithms (tantivy's) conflate with their base form, on
        every backend: Elasticsearch 8.14's Lucene 9.10 ships older ones, but indexes
        tantivy's tokens (docs/elasticsearch.md)."""
        b = make_backend()
        b.upsert(SNOWBALL_UPDATES_CORPUS)
        b.commit()
        got = {q: set(self.search(b, q)) for q in SNOWBALL_UPDATES}
        assert got == SNOWBALL_UPDATES

    def test_matching_vec_ids_is_every_match(
        self, backend: LexicalBackend, stop_words: LexicalBackend
    ) -> None:
        cases: list[tuple[LexicalBackend, list[Term | Phrase]]] = [
            (
                backend,
                [
                    Term("talks"),
                    Term("Putin"),
                    Term("Gespräch"),
                    Term("переговор"),
                    Phrase(("Putin", "and", "Tokayev")),
                    Phrase(("Tokayev", "and", "Putin")),
                    Term("Waffen", "title"),
                    Term("talks", "title"),
                    Term("the"),
                    Phrase(("the", "presidents")),
                    Term("nonexistentword"),
                    Term("talks"),  # repeated: same answer
                ],
            ),
            (
                stop_words,
                [
                    *leaves(parse_query('"die Linke" Nur-Sultan "U.S.-based" Sultan').root),
                    Phrase(("Alternative", "für", "Deutschland")),
                    Term("die"),
                ],
            ),
        ]
        for b, tree in cases:
            got = b.matching_vec_ids(tree)
            assert len(got) == len(tree)
            for leaf, vec_ids in zip(tree, got, strict=True):
                assert vec_ids.dtype.name == "int64"
                assert len(set(vec_ids.tolist())) == len(vec_ids), leaf
                brute = {vec_id(h.paragraph_id) for h in b.search(leaf, Filters(), 10_000)}
                assert set(vec_ids.tolist()) == brute, leaf
        got = backend.matching_vec_ids([Term("talks"), Term("?!"), Phrase(("", ""))])
        assert [len(a) for a in got] == [2, 0, 0]
        assert backend.matching_vec_ids([]) == []

    def test_matching_vec_ids_sees_committed_state(self, backend: LexicalBackend) -> None:
        backend.delete_articles(["a5"])
        backend.upsert([para("n1:0", "New talks began.")])
        backend.commit()
        (talks,) = backend.matching_vec_ids([Term("talks")])
        assert set(talks.tolist()) == {vec_id("a1:0"), vec_id("n1:0")}

    def test_matching_vec_ids_refuses_other_nodes(self, backend: LexicalBackend) -> None:
        with pytest.raises(ValueError, match="Term or Phrase"):
            backend.matching_vec_ids([parse_query("a OR b").root])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="Term or Phrase"):
            backend.matching_vec_ids([Term("talks", "source")])

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
