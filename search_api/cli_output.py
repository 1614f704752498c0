"""One output option for every ``newssearch`` command that prints results.

``--format table|json|jsonl|csv`` (``--json`` is ``--format json``):

- ``table``: for people; the command's own layout (search results with their passages, facet
  counts, ...) or aligned columns;
- ``json``: the whole answer as one JSON document, the same JSON the REST API returns;
- ``jsonl``: one JSON object per row (articles, facet values, timeline buckets, paragraphs;
  a single row for a summary such as ``stats`` or ``check``);
- ``csv``: the same rows as ``jsonl``, with a header line (lists joined with ``"; "``).

The rows are :mod:`search_api.rows`, which the client's ``to_dataframe()`` uses as well.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from search_api.rows import Row, cell

FORMATS = ("table", "json", "jsonl", "csv")
#: Widest cell of a plain table before it is cut with "...".
MAX_CELL = 60

FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Output: table (for people), json (one document), jsonl (one object per row) or "
        "csv (the rows with a header).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


def choose(fmt: str | None, json_flag: bool, default: str = "table") -> str:
    """The format asked for: ``--format``, else ``json`` for ``--json``, else ``default``."""
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    if json_flag and fmt not in (None, "json"):
        raise typer.BadParameter(f"--json contradicts --format {fmt}", param_hint="--json")
    return fmt or ("json" if json_flag else default)


def emit(
    fmt: str,
    document: BaseModel | Sequence[BaseModel] | dict[str, Any] | list[Any],
    rows: Callable[[], list[Row]],
    columns: Sequence[str] = (),
    table: Callable[[], None] | None = None,
) -> None:
    """Print one answer in ``fmt``: ``document`` for json, ``rows()`` for jsonl / csv (with
    ``columns`` as the header when there are no rows), ``table()`` (else aligned columns of
    the rows) for table."""
    if fmt == "json":
        typer.echo(_json(document))
    elif fmt == "jsonl":
        for row in rows():
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
    elif fmt == "csv":
        write_csv(rows(), columns)
    elif table is not None:
        table()
    else:
        print_table(rows(), columns)


def _json(document: Any) -> str:
    if isinstance(document, BaseModel):
        return document.model_dump_json()
    if isinstance(document, list | tuple):
        items = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in document]
        return json.dumps(items, ensure_ascii=False, default=str)
    return json.dumps(document, ensure_ascii=False, default=str)


def write_csv(rows: list[Row], columns: Sequence[str] = ()) -> None:
    """The rows as CSV on stdout: a header (the first row's keys, else ``columns``), then one
    line per row."""
    header = list(rows[0]) if rows else list(columns)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in header])
    sys.stdout.flush()


def print_table(rows: list[Row], columns: Sequence[str] = ()) -> None:
    """Rows as aligned plain-text columns (cells cut at :data:`MAX_CELL` characters); a single
    row as ``key: value`` lines."""
    header = list(rows[0]) if rows else list(columns)
    if len(rows) == 1 and len(header) > 4:
        width = max(len(k) for k in header)
        for key in header:
            typer.echo(f"{key:>{width}}: {_short(rows[0][key])}")
        return
    cells = [[_short(row.get(c)) for c in header] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _short(value: Any) -> str:
    text = " ".join(cell(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def bar_progress(console: Console) -> Progress:
    """A progress bar of counted work (description, bar, done/total, elapsed) on ``console``,
    shown only when it is a terminal and cleared when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
