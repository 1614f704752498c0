"""``newssearch reembed``: switch an index to another encoder by re-embedding every paragraph.

Registered on the main app in :mod:`search_api.cli`. The logic and its crash-safety protocol
live in :mod:`indexer.reembed`; this module parses options, shows a progress bar and prints
the summary (default output: json). Exit codes as for every command: 0 success, 2 bad usage
or a failure with a message (e.g. the encoder's optional extra is not installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from indexer.errors import NewsSearchError
from search_api.cli_output import FormatOpt, bar_progress, choose, emit
from search_api.rows import object_row

_err = Console(stderr=True)


def reembed_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="The new encoder: use-multilingual-v3, or a sentence-transformers name or path.",
        ),
    ],
    index: Annotated[
        Path | None, typer.Option("--index", help="Index directory (env NEWSSEARCH_INDEX).")
    ] = None,
    model_backend: Annotated[
        str | None,
        typer.Option(
            "--model-backend",
            help="onnx-int8 or torch, for sentence-transformers models (env "
            "NEWSSEARCH_MODEL_BACKEND).",
        ),
    ] = None,
    fmt: FormatOpt = None,
) -> None:
    """Re-embed every paragraph of an index with another encoder and switch the index to it
    (crash-safe; texts embedded before by that encoder come from the embedding cache). Search
    it afterwards with the same NEWSSEARCH_MODEL."""
    from indexer.catalog import Catalog
    from indexer.embedder import CachedEmbedder
    from indexer.reembed import reembed
    from indexer.stores import make_embedder
    from search_api.cli import fail, make_settings

    shown = choose(fmt, False, default="json")
    settings = make_settings(index, None, model=model, model_backend=model_backend)
    if not (settings.index / "catalog.sqlite").exists():
        fail(f"no index at {settings.index}")
    catalog = Catalog(settings.index / "catalog.sqlite")
    embedder = CachedEmbedder(make_embedder(settings), settings.embedding_cache)
    try:
        with bar_progress(_err) as progress:
            task = progress.add_task("re-embedding", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = reembed(catalog, settings.index, embedder, on_progress=on_progress)
    except (NewsSearchError, ValueError) as exc:
        fail(str(exc))
    finally:
        embedder.close()
        catalog.close()
    out = {"index": str(settings.index), **report.as_dict()}
    emit(shown, out, lambda: [object_row(out)])
