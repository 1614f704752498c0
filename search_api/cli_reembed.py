"""``newssearch reembed``: switch an index to another encoder by re-embedding every paragraph.

Registered on the main app in :mod:`search_api.cli`. The logic and its crash-safety protocol
live in :mod:`indexer.reembed`; this module parses options, shows a progress bar and prints
the summary (default output: json). Exit codes as for every command: 0 success, 2 bad usage
or a failure with a message (e.g. the encoder's optional extra is not installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from indexer.errors import NewsSearchError
from search_api.cli_output import FormatOpt, bar_progress, choose, emit
from search_api.rows import object_row

if TYPE_CHECKING:
    from rich.progress import TaskID

    from indexer.settings import Settings

_err = Console(stderr=True)


def reembed_command(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="The new primary encoder: use-multilingual-v3, or a sentence-transformers "
            "name or path.",
        ),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="Add an extra encoder (repeatable): every paragraph embedded."),
    ] = None,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="Remove an extra encoder and its vectors (repeatable)."),
    ] = None,
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
    """Re-embed every paragraph of an index with another primary encoder (--model) and switch
    the index to it, or add / drop extra encoders (--add / --drop; docs/evaluation.md,
    "Several encoders at once"). Crash-safe; texts embedded before by an encoder come from
    the embedding cache. Search it afterwards with the same NEWSSEARCH_MODEL."""
    from indexer.catalog import Catalog
    from indexer.embedder import CachedEmbedder
    from indexer.reembed import reembed
    from indexer.stores import make_embedder
    from search_api.cli import fail, make_settings

    shown = choose(fmt, False, default="json")
    if model is None and not add and not drop:
        fail("give --model NAME, --add NAME or --drop NAME")
    if model is not None and (add or drop):
        fail("switch the primary encoder (--model) and the extras (--add/--drop) separately")
    settings = make_settings(index, None, model=model, model_backend=model_backend)
    if not (settings.index / "catalog.sqlite").exists():
        fail(f"no index at {settings.index}")
    if model is None:
        _extras(settings, add or [], drop or [], shown)
        return
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
    except OSError as exc:  # a model that cannot be loaded (not downloadable here, bad path)
        fail(f"cannot load the encoder: {exc}")
    finally:
        embedder.close()
        catalog.close()
    out = {"index": str(settings.index), **report.as_dict()}
    emit(shown, out, lambda: [object_row(out)])


def _extras(settings: Settings, add: list[str], drop: list[str], shown: str) -> None:
    """``--add`` / ``--drop``: change the index's extra encoders (indexer/spaces.py)."""
    from indexer.catalog import Catalog
    from indexer.embedder import CachedEmbedder
    from indexer.spaces import add_space, drop_space
    from indexer.stores import make_embedder
    from search_api.cli import fail

    catalog = Catalog(settings.index / "catalog.sqlite")
    out: dict[str, object] = {"index": str(settings.index), "added": {}, "dropped": []}
    try:
        for name in drop:
            if not drop_space(catalog, settings.index, name):
                fail(f"index {settings.index} has no extra encoder {name!r}")
            out["dropped"].append(name)  # type: ignore[attr-defined]
        for name in add:
            embedder = CachedEmbedder(make_embedder(settings, model=name), settings.embedding_cache)
            try:
                with bar_progress(_err) as progress:
                    task = progress.add_task(f"embedding with {name}", total=None)

                    def on_progress(done: int, total: int, task: TaskID = task) -> None:
                        progress.update(task, completed=done, total=total)

                    written = add_space(
                        catalog, settings.index, name, embedder, on_progress=on_progress
                    )
                out["added"][name] = {  # type: ignore[index]
                    "paragraphs": written,
                    "embedded": embedder.computed,
                }
            finally:
                embedder.close()
    except (NewsSearchError, ValueError) as exc:
        fail(str(exc))
    except OSError as exc:  # a model that cannot be loaded (not downloadable here, bad path)
        fail(f"cannot load the encoder: {exc}")
    finally:
        catalog.close()
    emit(shown, out, lambda: [object_row(out)])
