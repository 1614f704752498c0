"""``newssearch eval``: relevance of each search mode on a BEIR-format data set.

Registered on the main app in :mod:`search_api.cli` (``app.command("eval")(eval_command)``).
The logic lives in :mod:`search_api.evaluation`; this module only parses options and prints.
Exit codes as for every command: 0 success, 2 bad usage or a failure with a message. Output:
``--format table|json|jsonl|csv`` (csv/jsonl: one row per mode).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from search_api.cli_output import FormatOpt, JsonOpt, bar_progress, choose, emit

_err = Console(stderr=True)


def eval_command(
    dataset: Annotated[
        Path,
        typer.Argument(help="BEIR data set directory (corpus.jsonl[.gz], queries.jsonl, qrels/)."),
    ],
    split: Annotated[str, typer.Option("--split", help="Qrels split: qrels/<split>.tsv.")] = "dev",
    modes: Annotated[
        str, typer.Option("--modes", help="Comma-separated modes: bm25,dense,hybrid.")
    ] = "bm25,dense,hybrid",
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="Index directory to build or reuse (default: eval-<dataset name> next to the "
            "configured index directory).",
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="Lexical backend: embedded or elasticsearch."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=10, max=100, help="Articles retrieved per query.")
    ] = 100,
    fusion: Annotated[
        str | None,
        typer.Option("--fusion", help="Hybrid fusion: rrf or convex (default: settings)."),
    ] = None,
    rrf_k: Annotated[int | None, typer.Option("--rrf-k", min=1, help="RRF k for hybrid.")] = None,
    alpha: Annotated[
        float | None, typer.Option("--alpha", min=0.0, max=1.0, help="Convex lexical weight.")
    ] = None,
    normalisation: Annotated[
        str | None,
        typer.Option("--normalisation", help="Convex score normalisation: minmax or zscore."),
    ] = None,
    aggregate: Annotated[
        str | None,
        typer.Option("--aggregate", help="Article score: max, top2, top3 or decay (all modes)."),
    ] = None,
    candidates: Annotated[
        int | None, typer.Option("--candidates", min=10, help="Paragraphs fetched per retriever.")
    ] = None,
    no_ingest: Annotated[
        bool,
        typer.Option("--no-ingest", help="Use the index as it is; do not (re)ingest the corpus."),
    ] = False,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate bm25, dense and hybrid on a BEIR data set: nDCG@10, MAP, MRR@10, Recall@100.

    The corpus is ingested through the normal pipeline (an existing index is reused: unchanged
    articles are skipped); every judged query of the split is searched as plain words.
    """
    from indexer.errors import NewsSearchError
    from search_api.cli import fail, make_settings
    from search_api.evaluation import DEFAULT_MODES, default_eval_index, evaluate
    from search_api.grouping import AGGREGATIONS

    shown = choose(fmt, json_out)
    if not dataset.is_dir():
        fail(f"{dataset} is not a directory")
    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in DEFAULT_MODES]
    if unknown or not wanted:
        fail(f"--modes takes a comma-separated subset of {','.join(DEFAULT_MODES)}")
    if fusion is not None and fusion not in ("rrf", "convex"):
        fail("--fusion must be rrf or convex")
    if normalisation is not None and normalisation not in ("minmax", "zscore"):
        fail("--normalisation must be minmax or zscore")
    if aggregate is not None and aggregate not in AGGREGATIONS:
        fail(f"--aggregate must be one of {', '.join(AGGREGATIONS)}")
    fusion_opts = {"fusion": fusion, "rrf_k": rrf_k, "alpha": alpha, "normalisation": normalisation}
    hybrid: dict[str, Any] = {k: v for k, v in fusion_opts.items() if v is not None}
    common: dict[str, Any] = {"candidates": candidates, "aggregate": aggregate}
    common = {k: v for k, v in common.items() if v is not None}
    settings = make_settings(index, backend)
    if index is None:
        settings = settings.model_copy(update={"index": default_eval_index(dataset, settings)})
    variants: dict[str, dict[str, Any]] = {}
    for mode in wanted:
        request: dict[str, Any] = {"mode": mode, **common}
        if mode == "hybrid":
            request.update(hybrid)
        variants[mode] = request
    _err.print(f"index: {settings.index}")
    try:
        with bar_progress(_err) as progress:
            tasks: dict[str, Any] = {}

            def on_progress(name: str, done: int, total: int) -> None:
                if "ingest" in tasks:
                    progress.remove_task(tasks.pop("ingest"))
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done)

            if not no_ingest:
                tasks["ingest"] = progress.add_task("ingesting corpus (unchanged articles skipped)")
            report = evaluate(
                dataset,
                settings,
                split=split,
                modes=(),
                variants=variants,
                limit=limit,
                ingest_corpus=not no_ingest,
                on_progress=on_progress,
            )
    except (NewsSearchError, ValueError) as exc:
        fail(str(exc))
    if report.ingest is not None:
        _err.print("ingest: " + json.dumps(report.ingest, ensure_ascii=False))
    if shown != "table":
        rows = [{"mode": name, **scores} for name, scores in report.results.items()]
        emit(shown, report.as_dict(), lambda: rows)
        return
    table = Table(title=f"{report.dataset} / {report.split}: {report.queries} queries")
    table.add_column("mode")
    keys = list(next(iter(report.results.values())).keys()) if report.results else []
    for key in keys:
        table.add_column(key, justify="right")
    for name, scores in report.results.items():
        table.add_row(name, *(f"{scores[k]:.4f}" for k in keys))
    Console().print(table)
