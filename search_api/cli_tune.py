"""``newssearch tune``: sweep the fusion parameters on BEIR judgments, store the winner.

Registered on the main app in :mod:`search_api.cli` (``app.command("tune")(tune_command)``).
The sweep lives in :mod:`search_api.tune`, the stored value and its precedence in
:mod:`search_api.search.tuned`; this module parses options and prints. Exit codes: 0 success,
2 bad usage or a failure with a message. Output: ``--format table|json|jsonl|csv`` (csv/jsonl:
one row per configuration, best first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from search_api.cli_output import FormatOpt, JsonOpt, bar_progress, choose, emit

_err = Console(stderr=True)


def tune_command(
    dataset: Annotated[
        Path | None,
        typer.Argument(
            help="BEIR data set directory whose corpus is in the index (corpus.jsonl[.gz], "
            "queries.jsonl, qrels/<split>.tsv). Not with --reset.",
            show_default=False,
        ),
    ] = None,
    index: Annotated[
        Path | None, typer.Option("--index", help="Index directory (env NEWSSEARCH_INDEX).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", help="Lexical backend: embedded or elasticsearch (env NEWSSEARCH_LEXICAL)."
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help="Qrels split: qrels/<split>.tsv.")
    ] = "train",
    metric: Annotated[
        str, typer.Option("--metric", help="What to maximise: nDCG@10, MAP, MRR@10, Recall@100.")
    ] = "nDCG@10",
    top: Annotated[
        int, typer.Option("--top", min=1, help="Configurations shown in the table.")
    ] = 10,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Sweep and print; write nothing into the index.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Remove the index's tuned fusion (back to the built-in defaults)."
        ),
    ] = False,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Choose the index's fusion defaults on your own relevance judgments.

    Sweeps convex fusion (alpha 0.0-1.0 by 0.1 x minmax|zscore) and RRF (k 10, 30, 60, 100)
    over every judged query of the split, prints the best configurations, the current
    default's figure and bm25 / dense alone, and stores the winner in the index: every later
    search of it uses it unless the request or an explicit setting (NEWSSEARCH_FUSION,
    NEWSSEARCH_ALPHA, NEWSSEARCH_NORMALISATION, NEWSSEARCH_RRF_K) says otherwise. The corpus
    must already be ingested (newssearch eval DATASET --index DIR does it).
    """
    from indexer.errors import NewsSearchError
    from search_api.cli import fail, make_settings

    shown = choose(fmt, json_out)
    settings = make_settings(index, backend)
    catalog_path = settings.index / "catalog.sqlite"
    if reset:
        if dataset is not None:
            fail("--reset takes no DATASET")
        if dry_run:
            fail("--reset and --dry-run contradict each other")
        _reset(catalog_path, shown)
        return
    if dataset is None:
        fail("give a BEIR DATASET directory to tune on (or --reset)")
        return
    if not dataset.is_dir():
        fail(f"{dataset} is not a directory")
    if not catalog_path.exists():
        fail(
            f"no index at {settings.index}: ingest the data set's corpus first "
            f"(newssearch eval {dataset} --index {settings.index} does)"
        )
    from search_api.evaluation import MEASURES

    wanted = {key.lower(): key for key in MEASURES}.get(metric.lower())
    if wanted is None:
        fail(f"--metric must be one of {', '.join(MEASURES)}")
        return
    from search_api.cli import open_index
    from search_api.search.tuned import write_tuned
    from search_api.tune import overriding_settings, tune

    _err.print(f"index: {settings.index}", markup=False, highlight=False)
    stores = open_index(settings)
    try:
        with bar_progress(_err) as progress:
            tasks: dict[str, Any] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    label = "hybrid, every grid point" if stage == "hybrid" else stage
                    tasks[stage] = progress.add_task(label, total=total)
                progress.update(tasks[stage], completed=done)

            result = tune(stores, dataset, split=split, metric=wanted, on_progress=on_progress)
        if not dry_run:
            write_tuned(stores.catalog, result.record)
    except (NewsSearchError, ValueError) as exc:
        fail(str(exc))
        return
    finally:
        stores.close()
    document = {**result.as_dict(), "written": not dry_run, "index": str(settings.index)}
    if result.missing_judged:
        _err.print(
            f"warning: {result.missing_judged} of {result.judged} judged articles are not in the "
            "index (they count as not found)",
            markup=False,
        )
    overridden = overriding_settings(settings)
    if overridden and not dry_run:
        names = ", ".join(f"NEWSSEARCH_{n.upper()}" for n in overridden)
        _err.print(
            f"note: {names} set explicitly: it still overrides the tuned value in searches",
            markup=False,
        )
    if shown != "table":
        rows = [{"label": s.point.label, **s.point.request(), **s.metrics} for s in result.ranked]
        emit(shown, document, lambda: rows)
        return
    _print_table(result, top)
    if dry_run:
        typer.echo("dry run: nothing written")
    else:
        typer.echo(f"written: the index's fusion defaults are now {result.winner.point.label}")


def _print_table(result: Any, top: int) -> None:
    metric = result.metric
    table = Table(title=f"{result.dataset} / {result.split}: {result.queries} queries, by {metric}")
    table.add_column("#", justify="right")
    table.add_column("configuration", no_wrap=True)
    for key in result.winner.metrics:
        table.add_column(key, justify="right")
    table.add_column("", no_wrap=True)
    shown = result.ranked[:top]
    if result.current not in shown:
        shown = [*shown, result.current]
    for scored in shown:
        notes = []
        if scored is result.winner:
            notes.append("winner")
        if scored.point == result.current.point:
            notes.append("current default")
        table.add_row(
            str(result.ranked.index(scored) + 1),
            scored.point.label,
            *(f"{v:.4f}" for v in scored.metrics.values()),
            ", ".join(notes),
        )
    for mode in ("bm25", "dense"):
        scores = result.bm25 if mode == "bm25" else result.dense
        table.add_row("", f"{mode} alone", *(f"{v:.4f}" for v in scores.values()), "")
    Console().print(table)
    single = result.better_single
    typer.echo(
        f"winner: {result.winner.point.label}, {metric} {result.winner.metrics[metric]:.4f}; "
        f"current default {result.current.point.label}: {result.current.metrics[metric]:.4f}; "
        f"margin over {single} alone (the better single retriever): {result.margin:+.4f}"
    )


def _reset(catalog_path: Path, shown: str) -> None:
    """``--reset``: remove the tuned fusion (the catalog alone: no model is loaded)."""
    from indexer.catalog import Catalog
    from search_api.cli import fail
    from search_api.search.tuned import reset_tuned

    if not catalog_path.exists():
        fail(f"no index at {catalog_path.parent}")
    catalog = Catalog(catalog_path)
    try:
        removed = reset_tuned(catalog)
    finally:
        catalog.close()
    document: dict[str, Any] = {
        "index": str(catalog_path.parent),
        "removed": removed is not None,
        "previous": removed.model_dump(mode="json") if removed is not None else None,
    }
    if shown != "table":
        row = {"index": document["index"], "removed": removed is not None}
        emit(shown, document, lambda: [row])
    elif removed is None:
        typer.echo(f"{catalog_path.parent} has no tuned fusion: nothing to remove")
    else:
        typer.echo(
            f"removed the tuned fusion ({removed.fusion}, {removed.metric} {removed.value:.4f} on "
            f"{removed.dataset} {removed.split}); searches use the settings' defaults again"
        )
