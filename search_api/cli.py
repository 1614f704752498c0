"""The ``newssearch`` command: ingest, search, serve, demo, check, repair, delete, ...

Every command takes ``--index DIR`` (else ``NEWSSEARCH_INDEX``, else
``~/.local/share/newssearch/index``) and ``--backend embedded|elasticsearch`` (else
``NEWSSEARCH_LEXICAL``, else ``embedded``). Exit codes: 0 success (an ingest that skipped
records too: they are listed in its error report), 1 a check found divergence, 2 bad usage or a
failure with a message.

After ``newssearch demo`` (or ``scripts/demo``) the reading commands (search, facets,
timeline, export, serve) find the demo index by themselves as long as no other index exists:
without ``--index`` or ``NEWSSEARCH_INDEX``, when the default index directory holds no index but
the demo's does, they use the demo's and say so on stderr.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from indexer.errors import NewsSearchError
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.cli_output import FormatOpt, JsonOpt, choose, emit
from search_api.rows import object_row

app = typer.Typer(
    name="newssearch",
    help="Hybrid BM25 + dense search over political news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (env NEWSSEARCH_INDEX).")
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend", help="Lexical backend: embedded or elasticsearch (env NEWSSEARCH_LEXICAL)."
    ),
]


def make_settings(index: Path | None, backend: str | None, **extra: Any) -> Settings:
    """Settings from the environment, overridden by the given command-line values."""
    values: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if index is not None:
        values["index"] = index
    if backend is not None:
        if backend not in ("embedded", "elasticsearch"):
            raise typer.BadParameter("--backend must be embedded or elasticsearch")
        values["lexical"] = backend
    return Settings(**values)


def demo_index() -> Path:
    """Where ``newssearch demo`` keeps its index (beside the default index)."""
    return Settings().index.parent / "demo"


def reading_settings(index: Path | None, backend: str | None, quiet: bool = False) -> Settings:
    """:func:`make_settings` for commands that read an index: without ``--index`` and
    ``NEWSSEARCH_INDEX``, when the default directory holds no index but the demo's does, the
    demo index (said on stderr), so the commands after ``scripts/demo`` just work."""
    settings = make_settings(index, backend)
    demo = demo_index()
    if (
        index is None
        and "NEWSSEARCH_INDEX" not in os.environ
        and settings.lexical == "embedded"
        and not (settings.index / "catalog.sqlite").exists()
        and (demo / "catalog.sqlite").exists()
    ):
        if not quiet:
            err.print(
                f"no index at {settings.index}: using the demo index at {demo}",
                markup=False,
                soft_wrap=True,
            )
        return settings.model_copy(update={"index": demo})
    return settings


def write_hint(settings: Settings) -> str:
    """One line on whether this server accepts writes, and how to enable them."""
    if settings.api_key:
        return "writes (POST /articles, DELETE /articles/{id}) need the header X-API-Key"
    return (
        "writes (POST /articles, DELETE /articles/{id}) are disabled: start with "
        "NEWSSEARCH_API_KEY=<a secret> set to enable them (sent as the X-API-Key header)"
    )


def fail(message: str) -> None:
    """Print ``message`` and exit with status 2."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def open_index(settings: Settings) -> Stores:
    """:func:`~indexer.stores.open_stores`, with its refusals (e.g. an index built with another
    encoder) printed as a message and exit status 2 instead of a traceback."""
    try:
        return open_stores(settings)
    except NewsSearchError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def parse_fields(fields: list[str]) -> dict[str, str]:
    """``["title=headline", ...]`` -> ``{"title": "headline"}``."""
    out = {}
    for item in fields:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            fail(f"--field takes name=column, got {item!r}")
        out[name.strip()] = column.strip()
    return out


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    index: IndexOpt = None,
    backend: BackendOpt = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="Map a field to a column: title=headline.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Read and chunk only; embed and write nothing.")
    ] = False,
    errors: Annotated[
        Path | None,
        typer.Option(
            help="Write skipped records here (JSONL). Default: ingest-errors-*.jsonl in the index "
            "directory; a --dry-run writes none unless this is given."
        ),
    ] = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest articles (seed text, JSONL, CSV, HTML; directories recursively; .gz ok)."""
    shown = choose(fmt, json_out)
    from indexer.pipeline import write_problems

    for p in paths:
        if not p.exists():
            fail(f"{p} does not exist")
    field_map = parse_fields(field or [])
    settings = make_settings(index, backend)
    try:
        if dry_run:
            from indexer.dryrun import dry_run as run_dry

            summary: dict[str, Any] = run_dry(
                paths, field_map=field_map, max_tokens=settings.max_chunk_tokens
            )
            problems = summary.pop("problems")
        else:
            summary, problems = _ingest(settings, paths, field_map)
    except NewsSearchError as exc:
        fail(str(exc))
    report_path = errors
    if problems and report_path is None and not dry_run:  # a dry run writes nothing unasked
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        settings.index.mkdir(parents=True, exist_ok=True)
        report_path = settings.index / f"ingest-errors-{stamp}.jsonl"
    if report_path is not None:
        write_problems(problems, report_path)
        summary["error_report"] = str(report_path)
    if shown != "table":
        emit(shown, summary, lambda: [object_row(summary)])
    else:
        for key, value in summary.items():
            typer.echo(f"{key:>14}: {value}")
    for p in problems[:10]:
        err.print(
            f"skipped {p.path}:{p.line}: {p.reason}", markup=False, highlight=False, soft_wrap=True
        )
    if len(problems) > 10:
        where = f"in {report_path}" if report_path else "(--errors FILE lists them all)"
        err.print(f"... and {len(problems) - 10} more {where}", markup=False)


def _ingest(
    settings: Settings, paths: list[Path], field_map: dict[str, str]
) -> tuple[dict[str, Any], list[Any]]:
    from indexer.pipeline import ingest as run

    stores = open_index(settings)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("ingesting", total=None)

            def on_progress(articles: int, paragraphs: int) -> None:
                progress.update(
                    task, description=f"{articles} articles read, {paragraphs} paragraphs written"
                )

            report = run(
                stores, [str(p) for p in paths], field_map=field_map, on_progress=on_progress
            )
    finally:
        stores.close()
    summary = report.as_dict()
    summary["index"] = str(settings.index)
    summary["backend"] = settings.lexical
    return summary, report.problems


@app.command()
def serve(
    index: IndexOpt = None,
    backend: BackendOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the web UI and the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from search_api.app import create_app

    settings = reading_settings(index, backend)
    err.print(
        f"index {settings.index} ({settings.lexical}); {write_hint(settings)}",
        markup=False,
        soft_wrap=True,
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def demo(
    index: IndexOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Ingest the sample only.")] = False,
) -> None:
    """Ingest the bundled demo sample (only what changed) and serve it on the embedded backend."""
    if not SAMPLE_DIR.is_dir():
        fail(f"demo sample not found at {SAMPLE_DIR} (run from a source checkout)")
    target = index or demo_index()
    settings = make_settings(target, "embedded")
    summary, _problems = _ingest(settings, [SAMPLE_DIR], {})
    typer.echo(json.dumps(summary))
    here = "" if reading_settings(None, None, quiet=True).index == target else f" --index {target}"
    err.print(
        f"demo index: {target}\nnext, from another shell:\n"
        f"  newssearch search Regierung{here}\n"
        f"  newssearch facets Regierung{here}\n"
        f"  curl 'http://{host}:{port}/search?q=Regierung'\n{write_hint(settings)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if no_serve:
        return
    typer.echo(f"serving the demo on http://{host}:{port}/ (API docs at /docs)")
    serve(index=target, backend="embedded", host=host, port=port)


@app.command()
def check(
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Verify that the catalog, the lexical backend and FAISS hold the same paragraphs
    (default output: json)."""
    shown = choose(fmt, False, default="json")
    from indexer.pipeline import check as run_check

    stores = open_index(make_settings(index, backend))
    try:
        div = run_check(stores)
        out = {**div.as_dict(), **stores.catalog.counts()}
    except NewsSearchError as exc:
        fail(str(exc))
    finally:
        stores.close()
    emit(shown, out, lambda: [object_row(out)])
    if not div.ok:
        raise typer.Exit(1)


@app.command()
def repair(
    index: IndexOpt = None,
    backend: BackendOpt = None,
    lexical: Annotated[
        bool,
        typer.Option(
            "--lexical",
            help="First rebuild the whole lexical store from the catalog (after an upgrade that "
            "changed its analysers or schema); nothing is embedded.",
        ),
    ] = False,
    fmt: FormatOpt = None,
) -> None:
    """Rewrite or remove paragraphs until both stores match the catalog (default output:
    json)."""
    shown = choose(fmt, False, default="json")
    from indexer.pipeline import rebuild_lexical
    from indexer.pipeline import repair as run_repair

    stores = open_index(make_settings(index, backend))
    out: dict[str, int] = {}
    try:
        if lexical:
            out["lexical_rebuilt"] = rebuild_lexical(
                stores.catalog, stores.lexical, articles=stores.articles
            )
        out["rewritten"] = run_repair(stores)
    except NewsSearchError as exc:
        fail(str(exc))
    finally:
        stores.close()
    emit(shown, out, lambda: [object_row(out)])


@app.command()
def delete(
    article_ids: Annotated[list[str], typer.Argument(help="Article ids to remove.")],
    index: IndexOpt = None,
    backend: BackendOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Remove articles from the catalog and both stores (default output: json)."""
    shown = choose(fmt, False, default="json")
    from indexer.pipeline import delete as run_delete

    stores = open_index(make_settings(index, backend))
    try:
        n = run_delete(stores, article_ids)
    finally:
        stores.close()
    result = {"deleted_paragraphs": n}
    emit(shown, result, lambda: [object_row(result)])


@app.command()
def stories(
    index: IndexOpt = None,
    backend: BackendOpt = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=1.0,
            help="Jaccard similarity near-duplicates need (default: the story_threshold "
            "setting, NEWSSEARCH_STORY_THRESHOLD).",
        ),
    ] = None,
    fmt: FormatOpt = None,
) -> None:
    """Cluster every article into stories afresh: signs the articles of an index from before
    stories, then re-links near-duplicates with the threshold (default output: json)."""
    shown = choose(fmt, False, default="json")
    from indexer.pipeline import recluster

    settings = make_settings(index, backend)
    if threshold is not None:
        settings = settings.model_copy(update={"story_threshold": threshold})
    stores = open_index(settings)
    try:
        out = recluster(stores)
    except NewsSearchError as exc:
        fail(str(exc))
    finally:
        stores.close()
    emit(shown, out, lambda: [object_row(out)])


@app.command()
def calibrate(
    dataset: Annotated[Path, typer.Argument(help="BEIR data set whose corpus is in the index.")],
    index: IndexOpt = None,
    backend: BackendOpt = None,
    split: Annotated[str, typer.Option(help="Qrels split to calibrate on.")] = "train",
    precision: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Long queries: share of semantic matches relevant."),
    ] = 0.5,
    encoder: Annotated[
        str | None,
        typer.Option(help="The index's encoder to calibrate (model name; default: the primary)."),
    ] = None,
    short: Annotated[
        bool,
        typer.Option(
            "--short", help="Calibrate the short-query threshold on known items (see --recall)."
        ),
    ] = False,
    recall: Annotated[
        float,
        typer.Option(
            min=0.01, max=1.0, help="Short queries: share of known items the threshold keeps."
        ),
    ] = 0.75,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Store the threshold in the index (min_similarity[_short][@encoder]).",
        ),
    ] = False,
    fmt: FormatOpt = None,
) -> None:
    """Choose a semantic threshold (min_similarity) of an index's encoder on relevance
    judgments: for long queries by precision, with --short for search-box queries by the
    share of known items kept (default output: json; csv/jsonl: one row per threshold of the
    curve)."""
    shown = choose(fmt, False, default="json")
    from search_api.calibrate import UnknownEncoder
    from search_api.calibrate import calibrate as run
    from search_api.search.calibration import meta_key

    stores = open_index(make_settings(index, backend))
    key = ""
    try:
        result = run(
            stores,
            dataset,
            split=split,
            precision=precision,
            encoder=encoder,
            short=short,
            recall=recall,
        )
        key = meta_key(stores, result.encoder, short=short)
        if write:
            stores.catalog.set_meta(key, str(result.threshold))
    except (NewsSearchError, UnknownEncoder) as exc:
        fail(str(exc))
    finally:
        stores.close()
    summary = {
        "threshold": result.threshold,
        "encoder": result.encoder,
        "queries_kind": "short" if short else "long",
        "rule": f"known items kept >= {recall}" if short else f"precision >= {precision}",
        "precision": None if short else result.precision,
        "recall": result.recall,
        "queries": result.queries,
        "key": key,
        "written": write,
        "curve": result.curve,
    }
    emit(shown, summary, lambda: [dict(point) for point in result.curve])


# Registered after the others (they import helpers from this module).
from search_api.cli_articles import (  # noqa: E402
    show_command,
    similar_command,
    stats_command,
    versions_command,
)
from search_api.cli_eval import eval_command  # noqa: E402
from search_api.cli_reembed import reembed_command  # noqa: E402
from search_api.cli_search import (  # noqa: E402
    export_command,
    facets_command,
    search_command,
    timeline_command,
)
from search_api.cli_tune import tune_command  # noqa: E402

app.command("search")(search_command)
app.command("facets")(facets_command)
app.command("timeline")(timeline_command)
app.command("export")(export_command)
app.command("eval")(eval_command)
app.command("tune")(tune_command)
app.command("reembed")(reembed_command)
app.command("show")(show_command)
app.command("similar")(similar_command)
app.command("versions")(versions_command)
app.command("stats")(stats_command)
