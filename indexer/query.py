"""The user query language, parsed into a small tree every backend translates on its own.

Syntax (Lucene-like, deliberately small):
- ``word``: an optional term (scored, BM25 "should"); ``"two words"``: a phrase;
- ``+x`` / ``x AND y``: required; ``-x`` / ``NOT x``: excluded; ``x OR y``: either;
  parentheses group;
- ``title:x`` / ``title:"a b"``: search the title instead of the paragraph text;
- ``source:x``, ``lang:x`` (``language:``), ``section:x``, ``author:x`` become filters
  (quote values with spaces: ``source:"Der Standard"``); any other ``name:`` is just a word,
  so pasted text such as ``10:30`` or ``Note:`` still searches.

Words: a word is letters and digits with inner hyphens, apostrophes or dots (``Nur-Sultan``,
``don't``, ``U.S``). A hyphenated word becomes a :class:`Phrase` of its parts (``Nur-Sultan``
-> ``Phrase(("Nur", "Sultan"))``), so both backends require the parts adjacent and in order;
apostrophes and dots stay inside a part (Elasticsearch's standard tokenizer keeps ``U.S`` and
``don't`` one token, tantivy splits them and matches the pieces as a phrase: exact either way).

Stop words: in a *plain* query (see :attr:`ParsedQuery.is_plain`) an optional term that is a
stop word of German, English or Russian (:func:`indexer.languages.stop_word_languages`) is
skipped *in that language only*: the term carries those languages in ``Term.stop_in``, the
backends leave their fields out of its query, and an article in such a language counts as
containing it (so ``war Ukraine`` needs "war" in English articles, where it is a word, but not
in German ones, where "war" is a stop word). Skipped words are listed in
``ParsedQuery.stop_words``; nothing is skipped when every term is a stop word. Phrases, ``+x``,
fields and every constrained query keep every word; the index keeps stop words, so those match
exactly.

Contract: :func:`parse_query` either returns a :class:`ParsedQuery` or raises
:class:`~indexer.errors.QuerySyntaxError` with a message naming the problem. Terms are reduced
to word characters, so nothing a user types reaches a backend as raw query syntax: backends
receive only :class:`Term`, :class:`Phrase` and :class:`Bool` nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.errors import QuerySyntaxError
from indexer.languages import stop_word_languages

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64

SEARCH_FIELDS = ("text", "title")
FILTER_FIELDS = {
    "source": "sources",
    "lang": "languages",
    "language": "languages",
    "section": "sections",
    "author": "authors",
}
_WORD = re.compile(r"\w+(?:[-'\u2019.]\w+)*", re.UNICODE)
_TOKEN = re.compile(
    r'\s*(?:(?P<lpar>\()|(?P<rpar>\))|(?P<field>\w+):(?=["\w])|(?P<phrase>"[^"]*"?)'
    r"|(?P<op>[+-])(?=[\"(\w])|(?P<word>[^\s()\"]+))",
    re.UNICODE,
)


@dataclass(frozen=True, slots=True)
class Term:
    """One word; ``field`` is ``"text"`` (paragraph body) or ``"title"``.

    ``stop_in`` names the languages in which the word is a stop word that a plain query skips:
    backends leave those languages' fields out of the word's query, and an article in one of
    those languages counts as matching it (see the module docstring).
    """

    text: str
    field: str = "text"
    stop_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear adjacent and in order."""

    words: tuple[str, ...]
    field: str = "text"

    @property
    def text(self) -> str:
        """The phrase as plain text."""
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class Bool:
    """Boolean combination. A document matches when every ``must`` matches, no ``must_not``
    matches, and (when ``must`` is empty) at least one ``should`` matches."""

    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Node = Term | Phrase | Bool


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed query: the tree (``None`` when only filters were given), the field filters it
    named, and ``free_text``: the positive words in order, for the dense retriever."""

    root: Node | None
    free_text: str
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constrained: bool = False
    #: Stop words dropped from ``root`` of a plain query (they are still in ``free_text``).
    stop_words: tuple[str, ...] = ()

    @property
    def is_plain(self) -> bool:
        """True when the query is a bag of optional text terms (no operators, quotes, fields)."""
        return not self.constrained


def words(text: str) -> list[str]:
    """The word tokens of ``text`` (letters, digits, inner hyphens/apostrophes/dots)."""
    return _WORD.findall(text)


def sub_words(text: str) -> list[str]:
    """The words of ``text`` with hyphenated words split into their parts: what a
    :class:`Term` or :class:`Phrase` holds (``"U.S.-based Nur-Sultan"`` ->
    ``["U.S", "based", "Nur", "Sultan"]``)."""
    return [part for word in words(text) for part in word.split("-")]


def leaves(node: Node | None) -> list[Term | Phrase]:
    """The distinct :class:`Term` and :class:`Phrase` nodes of a tree, in order of first
    appearance, including those under ``must_not`` (e.g. for
    :meth:`~indexer.lexical.base.LexicalBackend.matching_vec_ids`)."""
    out: dict[Term | Phrase, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Term | Phrase):
            out.setdefault(n)
            return
        for part in (*n.must, *n.should, *n.must_not):
            walk(part)

    if node is not None:
        walk(node)
    return list(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                break
            pos = m.end()
            kind = m.lastgroup
            if kind is None:
                continue
            self.tokens.append((kind, m.group(kind)))
        self.i = 0
        self.filters: dict[str, list[str]] = {}
        self.positive: list[str] = []
        self.clauses = 0
        self.constrained = False

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_op(self, name: str) -> bool:
        tok = self.peek()
        return tok is not None and tok == ("word", name)

    def parse_or(self, depth: int) -> Node | None:
        must: list[Node] = []
        should: list[Node] = []
        must_not: list[Node] = []
        while (tok := self.peek()) is not None and tok[0] != "rpar":
            if self.at_op("OR"):
                self.next()
                continue
            occur, node = self.parse_and(depth)
            if node is None:
                continue
            {"must": must, "should": should, "must_not": must_not}[occur].append(node)
        if not (must or should or must_not):
            return None
        if len(should) == 1 and not must and not must_not and depth > 0:
            return should[0]
        return Bool(tuple(must), tuple(should), tuple(must_not))

    def parse_and(self, depth: int) -> tuple[str, Node | None]:
        occur, node = self.parse_unary(depth)
        if not self.at_op("AND"):
            return occur, node
        parts: list[tuple[str, Node | None]] = [(occur, node)]
        while self.at_op("AND"):
            self.next()
            self.constrained = True
            if self.peek() is None or self.peek() == ("rpar", ")"):
                raise QuerySyntaxError("AND must be followed by a term")
            parts.append(self.parse_unary(depth))
        must = tuple(n for o, n in parts if n is not None and o != "must_not")
        must_not = tuple(n for o, n in parts if n is not None and o == "must_not")
        return "should", Bool(must=must, must_not=must_not)

    def parse_unary(self, depth: int) -> tuple[str, Node | None]:
        kind, value = self.next()
        if kind in ("op", "lpar", "phrase") or (kind == "word" and value in ("NOT", "AND")):
            self.constrained = True
        if kind == "op" or (kind == "word" and value == "NOT"):
            occur = "must" if value == "+" else "must_not"
            if self.peek() is None:
                raise QuerySyntaxError(f"'{value}' must be followed by a term")
            start = len(self.positive)
            _, node = self.parse_unary(depth)
            if occur == "must_not":
                del self.positive[start:]  # excluded words are not looked for
            return occur, node
        if kind == "lpar":
            if depth >= 8:
                raise QuerySyntaxError("parentheses nested too deeply")
            node = self.parse_or(depth + 1)
            if self.peek() is None:
                raise QuerySyntaxError("missing closing parenthesis")
            self.next()
            return "should", node
        if kind == "rpar":
            raise QuerySyntaxError("unexpected closing parenthesis")
        if kind == "field":
            return "should", self.parse_field(value.lower())
        if kind == "phrase":
            return "should", self.make_phrase(value, "text")
        if value in ("AND", "OR"):
            raise QuerySyntaxError(f"{value} needs a term on both sides")
        return "should", self.make_terms(value, "text")

    def parse_field(self, name: str) -> Node | None:
        if self.peek() is None:
            raise QuerySyntaxError(f"field '{name}:' needs a value")
        kind, value = self.next()
        if name in FILTER_FIELDS:
            raw = value.strip('"') if kind == "phrase" else value
            if not raw.strip():
                raise QuerySyntaxError(f"field '{name}:' needs a value")
            self.filters.setdefault(FILTER_FIELDS[name], []).append(raw.strip())
            return None
        if name not in SEARCH_FIELDS:
            # Not a field we know ("10:30", "Note:x" in pasted text): keep the words.
            self.i -= 1
            return self.make_terms(name, "text")
        self.constrained = True
        if kind == "phrase":
            return self.make_phrase(value, name)
        if kind != "word":
            raise QuerySyntaxError(f"field '{name}:' needs a word or a quoted phrase")
        return self.make_terms(value, name)

    def make_phrase(self, raw: str, fld: str) -> Node | None:
        if len(raw) < 2 or not raw.endswith('"'):
            raise QuerySyntaxError("unterminated quote")
        return self.make_terms(raw[1:-1], fld)

    def make_terms(self, raw: str, fld: str) -> Node | None:
        """One word -> Term; several (a quoted phrase, or a hyphenated word such as
        "Nur-Sultan" or "U.S.-based" splitting into its parts) -> Phrase, so they stay
        together."""
        toks = sub_words(raw)
        self.positive.extend(words(raw))  # the dense retriever reads "Nur-Sultan" as typed
        self.count()
        if not toks:
            return None
        if len(toks) == 1:
            return Term(toks[0], fld)
        return Phrase(tuple(toks), fld)

    def count(self) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QuerySyntaxError(f"too many terms (at most {MAX_CLAUSES})")


def parse_query(text: str) -> ParsedQuery:
    """Parse ``text`` (see module docstring); raises ``QuerySyntaxError`` on bad syntax."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY_CHARS} characters")
    if text.count('"') % 2:
        raise QuerySyntaxError("unterminated quote")
    parser = _Parser(text)
    root = parser.parse_or(0)
    if parser.peek() is not None:
        raise QuerySyntaxError("unexpected closing parenthesis")
    if isinstance(root, Bool) and not root.must and not root.should and root.must_not:
        raise QuerySyntaxError("a query cannot only exclude terms; add a term to search for")
    filters = {k: tuple(v) for k, v in parser.filters.items()}
    dropped: tuple[str, ...] = ()
    if not parser.constrained and isinstance(root, Bool):
        root, dropped = _mark_stop_words(root)
    return ParsedQuery(
        root=root,
        free_text=" ".join(parser.positive),
        filters=filters,
        constrained=parser.constrained,
        stop_words=dropped,
    )


def _mark_stop_words(root: Bool) -> tuple[Bool, tuple[str, ...]]:
    """A plain query's root with each stop-word term marked with its languages, and the words
    marked; unchanged when every term is a stop word."""

    def langs(node: Node) -> tuple[str, ...]:
        return stop_word_languages(node.text.lower()) if isinstance(node, Term) else ()

    stop = [n for n in root.should if langs(n)]
    if not stop or len(stop) == len(root.should):
        return root, ()
    marked = tuple(
        Term(n.text, n.field, langs(n)) if isinstance(n, Term) and langs(n) else n
        for n in root.should
    )
    return Bool(root.must, marked, root.must_not), tuple(
        n.text for n in stop if isinstance(n, Term)
    )
