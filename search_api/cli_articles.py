"""``newssearch show | versions | similar | stats``: one article, its story's other versions,
the articles closest to it, the index.

Registered on the main app in :mod:`search_api.cli`. ``similar``'s options are generated from
:class:`~search_api.schemas.SimilarRequest` as ``search``'s are from ``SearchRequest``
(:func:`search_api.cli_search.with_request`). Output: ``--format table|json|jsonl|csv``
(:mod:`search_api.cli_output`); an unknown article id exits with status 2 and a message.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from search_api.cli_output import FormatOpt, JsonOpt, choose, emit
from search_api.cli_search import BackendOpt, IndexOpt, _run, print_page, with_request
from search_api.rows import PARAGRAPH_COLUMNS, object_row, paragraph_rows
from search_api.schemas import ArticleDetail, SimilarRequest, Stats, Versions
from search_api.search.tuned import describe

ArticleArg = Annotated[str, typer.Argument(help="Article id (as in search results).")]


def show_command(
    article_id: ArticleArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one stored article: its metadata and every paragraph (csv/jsonl: one row each)."""
    out = choose(fmt, json_out)
    article: ArticleDetail = _run(index, backend, lambda e: e.article(article_id))
    emit(
        out,
        article,
        lambda: paragraph_rows(article),
        PARAGRAPH_COLUMNS,
        table=lambda: _article(article),
    )


def _article(a: ArticleDetail) -> None:
    date = a.published_at.isoformat() if a.published_at else "undated"
    typer.echo(a.title or "(no title)")
    typer.echo(f"{a.article_id}  [{a.source or '?'}, {date}, {a.language or '?'}]")
    for label, value in (("section", a.section), ("url", a.url), ("story", a.story)):
        if value:
            typer.echo(f"{label}: {value}")
    if a.authors:
        typer.echo(f"authors: {'; '.join(a.authors)}")
    for p in a.paragraphs:
        typer.echo(f"\n[{p.position}] {p.text}")


def versions_command(
    article_id: ArticleArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The other articles of one article's story (its near-duplicate copies): source, date and
    url, oldest first (csv/jsonl: one row each)."""
    out = choose(fmt, json_out)
    found: Versions = _run(index, backend, lambda e: e.versions(article_id))
    rows = [object_row(v.model_dump(mode="json")) for v in found.versions]
    emit(out, found, lambda: rows, VERSION_COLUMNS, table=lambda: _versions(found))


VERSION_COLUMNS = ("article_id", "title", "source", "url", "published_at", "language")


def _versions(found: Versions) -> None:
    typer.echo(f"story {found.story or '-'}: {len(found.versions)} other version(s)")
    for v in found.versions:
        date = v.published_at.isoformat() if v.published_at else "undated"
        typer.echo(f"{v.article_id}  [{v.source or '?'}, {date}, {v.language or '?'}]  {v.title}")
        if v.url:
            typer.echo(f"    {v.url}")


@with_request(SimilarRequest)
def similar_command(
    article_id: ArticleArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
    *,
    request: SimilarRequest,
) -> None:
    """Articles most similar to one article (semantic threshold, filters, sort and paging as
    in search; the article itself left out)."""
    out = choose(fmt, json_out)
    print_page(out, _run(index, backend, lambda e: e.similar(article_id, request)))


def stats_command(
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What the index holds: articles, paragraphs, languages, store sizes, encoder, generation."""
    out = choose(fmt, json_out)
    stats: Stats = _run(index, backend, lambda e: e.stats())
    data: dict[str, Any] = stats.model_dump(mode="json")
    emit(out, stats, lambda: [object_row(data)], table=lambda: _stats(stats))


def _stats(s: Stats) -> None:
    rows = [
        ("articles", s.articles),
        ("paragraphs", s.paragraphs),
        ("pending", s.pending),
        ("stories", "-" if s.stories is None else s.stories),
        ("unclustered", s.unclustered),
        ("languages", ", ".join(f"{k} {v}" for k, v in s.languages.items()) or "-"),
        ("encoders", ", ".join(s.encoders) or "-"),
        ("lexical backend", s.lexical_backend),
        ("generation", s.index_generation),
        ("min similarity", s.min_similarity),
        ("fusion", describe(s.fusion) if s.fusion else "-"),
        ("last ingest", s.last_ingest.isoformat() if s.last_ingest else "-"),
    ]
    for store in s.stores:
        size = "remote" if store.bytes is None else f"{store.bytes / 2**20:.1f} MiB"
        per = f" ({store.bytes_per_paragraph:.0f} B/paragraph)" if store.bytes_per_paragraph else ""
        rows.append((f"store {store.name}", size + per))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:>{width}}: {value}")
