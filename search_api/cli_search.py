"""``newssearch search | facets | timeline | export``: the result set from the shell.

The options of these commands are generated from :class:`~search_api.schemas.SearchRequest`
(and :class:`~search_api.schemas.ExportRequest`): each model field is one option with the
field's description as help (``date_from`` -> ``--date-from``; booleans as ``--x/--no-x``;
lists repeat the option), so REST, CLI and the engine share one declaration and validation.
Dates without a zone are taken as UTC. Errors exit with status 2 and a message. Output:
``--format table|json|jsonl|csv`` (:mod:`search_api.cli_output`).
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from indexer.errors import NewsSearchError
from search_api.cli_output import FormatOpt, JsonOpt, choose, emit
from search_api.rows import (
    ARTICLE_COLUMNS,
    FACET_COLUMNS,
    TIMELINE_COLUMNS,
    article_rows,
    facet_rows,
    timeline_rows,
)
from search_api.schemas import ExportRequest, SearchRequest, SearchResponse

err = Console(stderr=True)
#: Fields that are positional arguments or fixed by the command, not options.
_NOT_OPTIONS = {"q"}


def _option_type(annotation: Any) -> tuple[Any, bool]:
    """The typer type for a model field annotation, and whether it is a list."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _option_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _option_type(inner[0])
    if origin is list:
        return str, True
    if origin is Literal:
        return str, False
    if annotation is bool or annotation is int or annotation is float:
        return annotation, False
    return str, False


def model_options(model: type[BaseModel]) -> list[inspect.Parameter]:
    """One keyword parameter with a ``typer.Option`` per field of ``model`` (module docstring)."""
    params = []
    for name, field in model.model_fields.items():
        if name in _NOT_OPTIONS:
            continue
        kind, many = _option_type(field.annotation)
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        choices = [a for a in get_args(_literal(field.annotation)) if isinstance(a, str)]
        if choices:
            help_text += f" (one of: {', '.join(choices)})"
        if kind is bool:
            option = typer.Option(f"{flag}/--no-{name.replace('_', '-')}", help=help_text)
            default: Any = field.default
            annotation: Any = bool
        else:
            option = typer.Option(flag, help=help_text)
            default = None
            annotation = list[str] | None if many else _optional(kind)
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[annotation, option],
            )
        )
    return params


def _optional(kind: Any) -> Any:
    return kind | None


def _literal(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        return annotation
    if origin in (Union, types.UnionType, Annotated):
        for arg in get_args(annotation):
            found = _literal(arg)
            if found is not None:
                return found
    return None


def with_request(
    model: type[BaseModel],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add ``model``'s options to a command; the command receives ``request=<model>`` (with
    the command's ``query`` argument as ``q`` when the model has one)."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.name != "request"
        ]
        fields = [p.name for p in model_options(model)]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> None:
            values = {k: kwargs.pop(k) for k in fields}
            values = {k: v for k, v in values.items() if v is not None}
            for key in ("date_from", "date_to"):
                if key in values:
                    values[key] = _utc(values[key])
            if "q" in model.model_fields:
                values["q"] = kwargs.get("query", "")
            try:
                request = model(**values)
            except ValidationError as exc:
                _fail("; ".join(_problem(e) for e in exc.errors()))
            func(request=request, **kwargs)

        wrapper.__signature__ = inspect.Signature([*own, *model_options(model)])  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _utc(value: Any) -> Any:
    """A date string without a zone is taken as UTC (the REST API insists on a zone)."""
    if isinstance(value, str) and value[:4].isdigit() and "-" in value[:8]:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value  # the model's validation reports it
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return value


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "request"
    return f"--{where.replace('_', '-')}: {error['msg']}"


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def _engine(index: Path | None, backend: str | None) -> Any:
    from search_api.cli import open_index, reading_settings
    from search_api.engine import SearchEngine

    settings = reading_settings(index, backend)
    if not (settings.index / "catalog.sqlite").exists():
        _fail(
            f"no index at {settings.index}; "
            f"run `newssearch ingest PATH --index {settings.index}` first"
        )
    stores = open_index(settings)
    return stores, SearchEngine(stores)


QueryArg = Annotated[
    str, typer.Argument(help="Query text (phrases, AND/OR/NOT, fields); '' for every article.")
]
IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (env NEWSSEARCH_INDEX).")
]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", help="Lexical backend: embedded or elasticsearch."),
]


def _run(index: Path | None, backend: str | None, call: Callable[[Any], Any]) -> Any:
    stores, engine = _engine(index, backend)
    try:
        return call(engine)
    except NewsSearchError as exc:
        _fail(str(exc))
    finally:
        engine.close()
        stores.close()


@with_request(SearchRequest)
def search_command(
    query: QueryArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
    *,
    request: SearchRequest,
) -> None:
    """Search: one page of the result set, grouped by article (`--cursor` for the next)."""
    out = choose(fmt, json_out)
    response: SearchResponse = _run(index, backend, lambda e: e.search(request))
    print_page(out, response)


def print_page(fmt: str, response: SearchResponse) -> None:
    """A page of results in ``fmt`` (table: each article with its passages, then the cursor
    of the next page)."""
    emit(
        fmt,
        response,
        lambda: article_rows(response.results),
        ARTICLE_COLUMNS,
        table=lambda: _page_table(response),
    )


def _page_table(response: SearchResponse) -> None:
    if response.degraded:
        err.print(f"[yellow]degraded:[/yellow] {', '.join(response.degraded)} unavailable")
    shown = f"{response.offset + 1}-{response.offset + len(response.results)}"
    typer.echo(
        f"{response.total} articles, {response.total_paragraphs} matching paragraphs "
        f"({response.mode}, {response.sort}; showing {shown}; {response.took_ms} ms)"
    )
    for r in response.results:
        date = r.published_at.date().isoformat() if r.published_at else "undated"
        score = "-" if r.score is None else f"{r.score:.4f}"
        typer.echo(
            f"\n{r.rank}. {r.title}  [{r.source or '?'}, {date}, {r.language or '?'}]  {score}"
            f"  ({'+'.join(r.matched)})"
        )
        if r.url:
            typer.echo(f"   {r.url}")
        for p in r.passages:
            snippet = p.text if len(p.text) <= 300 else p.text[:297] + "..."
            typer.echo(f"   - {snippet}")
            if p.explanation is not None:
                typer.echo(f"     {p.explanation.model_dump_json()}")
    if response.next:
        typer.echo(f"\nnext page: --cursor {response.next}")


@with_request(SearchRequest)
def facets_command(
    query: QueryArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
    *,
    request: SearchRequest,
) -> None:
    """Facet counts (source, language, section, author, year, month) over the whole set."""
    out = choose(fmt, json_out)
    facets = _run(index, backend, lambda e: e.facets(request))
    emit(out, facets, lambda: facet_rows(facets), FACET_COLUMNS, table=lambda: _facets(facets))


def _facets(facets: list[Any]) -> None:
    for facet in facets:
        typer.echo(f"{facet.field} ({facet.total} articles)")
        for v in facet.values:
            typer.echo(f"  {v.count:>8}  {v.value}")
        if facet.other:
            typer.echo(f"  {facet.other:>8}  (other)")
        if facet.missing:
            typer.echo(f"  {facet.missing:>8}  (none)")


@with_request(SearchRequest)
def timeline_command(
    query: QueryArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
    *,
    request: SearchRequest,
) -> None:
    """Articles of the set per day / week / month / year, with the corpus and their ratio."""
    out = choose(fmt, json_out)
    tl = _run(index, backend, lambda e: e.timeline(request))
    emit(out, tl, lambda: timeline_rows(tl), TIMELINE_COLUMNS, table=lambda: _timeline(tl))


def _timeline(tl: Any) -> None:
    typer.echo(f"{tl.total} articles per {tl.interval} ({tl.undated} undated)")
    typer.echo(f"{'start':<12}{'count':>8}{'corpus':>9}{'ratio':>8}")
    for b in tl.buckets:
        series = f"  {json.dumps(b.series, ensure_ascii=False)}" if b.series else ""
        typer.echo(f"{b.start.isoformat():<12}{b.count:>8}{b.corpus:>9}{b.ratio:>8.3f}{series}")


@with_request(ExportRequest)
def export_command(
    query: QueryArg,
    index: IndexOpt = None,
    backend: BackendOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    *,
    request: SearchRequest,
) -> None:
    """Export the complete set as CSV or JSONL (first line: the manifest), streamed."""
    assert isinstance(request, ExportRequest)
    search = SearchRequest.model_validate(request.model_dump(exclude={"format", "level"}))

    def write(engine: Any) -> int:
        rows = 0
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            for chunk in engine.export(search, request.format, request.level):
                out.write(chunk)
                rows += chunk.count("\n")
        finally:
            if output:
                out.close()
        return rows

    _run(index, backend, write)
    if output:
        err.print(f"wrote {output}")
