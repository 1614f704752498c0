"""Changing an index's encoder: every paragraph re-embedded into a new vector store, switched in
crash-safely (``newssearch reembed --model NAME --index DIR``).

An index records its encoder (catalog meta ``model_key`` and ``dim``, :mod:`indexer.stores`)
and never mixes vector spaces: opening it with another encoder is refused. This module is the
explicit way to change it. Contracts of :func:`reembed`:

- Every paragraph the catalog holds (committed and pending) is embedded with the new encoder,
  through the :class:`~indexer.embedder.CachedEmbedder` cache (a text embedded before by the
  same encoder is never embedded again), into a new FAISS file ``vectors.faiss.reembed``
  beside the index's ``vectors.faiss``. Nothing of the index changes meanwhile; a crash or an
  error here leaves it as it was (the staged file is removed by the next :func:`reembed`).
  Paragraph texts, ids and the lexical store stay as they are (chunk boundaries were drawn
  with the old encoder's token counter; articles ingested later are chunked with the new one).
- The switch is a roll-forward protocol, like ingest's pending -> committed: (1) the staged
  file is fsynced and the catalog records ``reembed_pending = <model_key>\\x1f<dim>``; (2) the
  staged file is ``os.replace``-d onto ``vectors.faiss``; (3) one catalog transaction sets
  ``model_key`` and ``dim``, deletes ``min_similarity`` (a threshold belongs to its encoder;
  the new one's calibrated value is recorded at the next search) and ``reembed_pending``, and
  bumps the generation (open cursors become stale). :func:`finish_reembed`, called by
  :func:`indexer.stores.open_stores` before the encoder check, completes steps 2-3 after a
  crash between them, so an index is always wholly in the old or wholly in the new space.
- Writers must not run during a re-embed (as for ``repair``); a serving process must be
  restarted with the new ``NEWSSEARCH_MODEL`` afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexer.catalog import Catalog, vec_id
from indexer.embedder import CachedEmbedder
from indexer.vectors import VectorStore

PENDING_KEY = "reembed_pending"
STAGED_SUFFIX = ".reembed"
VECTORS_FILE = "vectors.faiss"
#: Paragraphs read from the catalog and embedded per step (one progress update each).
BATCH = 512


@dataclass
class ReembedReport:
    """What a re-embed did: paragraphs written, of which really embedded (not cached)."""

    previous: str | None
    model_key: str
    dim: int
    paragraphs: int = 0
    embedded: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (``newssearch reembed --json``)."""
        return {
            "previous": self.previous,
            "model_key": self.model_key,
            "dim": self.dim,
            "paragraphs": self.paragraphs,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 2),
        }


def staged_path(index: Path) -> Path:
    """Where :func:`reembed` builds the new vector store before the switch."""
    return index / (VECTORS_FILE + STAGED_SUFFIX)


def finish_reembed(catalog: Catalog, index: Path) -> bool:
    """Complete a switch interrupted after step 1 (module docstring); True if one was."""
    pending = catalog.get_meta(PENDING_KEY)
    if pending is None:
        return False
    model_key, dim = pending.split("\x1f")
    staged = staged_path(index)
    if staged.exists():
        os.replace(staged, index / VECTORS_FILE)
        _fsync_dir(index)
    catalog.replace_meta(
        {"model_key": model_key, "dim": dim, "min_similarity": None, PENDING_KEY: None}
    )
    return True


def reembed(
    catalog: Catalog,
    index: Path,
    embedder: CachedEmbedder,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReembedReport:
    """Re-embed every paragraph of the index at ``index`` with ``embedder`` and switch the
    index to it (module docstring). ``on_progress(done, total)`` after each batch.

    An index already on ``embedder``'s encoder is left as it is (``paragraphs == 0``).
    """
    finish_reembed(catalog, index)
    started = time.perf_counter()
    previous = catalog.get_meta("model_key")
    report = ReembedReport(previous, embedder.model_key, embedder.dim)
    if previous == embedder.model_key:
        return report
    from indexer.spaces import recorded_extras, same_encoder

    for extra in recorded_extras(catalog) or []:
        if same_encoder(str(extra["name"]), embedder.model_key):
            raise ValueError(
                f"{extra['name']} is an extra encoder of index {index}: drop it first "
                f"(newssearch reembed --drop {extra['name']} --index {index})"
            )
    staged = staged_path(index)
    for leftover in (staged, staged.with_suffix(staged.suffix + ".tmp")):
        leftover.unlink(missing_ok=True)
    ids = [pid for pid, _ in catalog.iter_paragraph_ids(include_pending=True)]
    store = VectorStore(staged, embedder.dim)
    computed_before = embedder.computed
    for start in range(0, len(ids), BATCH):
        found = catalog.paragraphs(ids[start : start + BATCH])
        paragraphs = [found[pid] for pid in ids[start : start + BATCH] if pid in found]
        vectors = embedder.embed_passages([p.text for p in paragraphs])
        store.add([vec_id(p.paragraph_id) for p in paragraphs], vectors)
        report.paragraphs += len(paragraphs)
        if on_progress is not None:
            on_progress(min(start + BATCH, len(ids)), len(ids))
    store.save()  # tmp + fsync + rename + fsync dir: the staged file is complete
    report.embedded = embedder.computed - computed_before
    catalog.set_meta(PENDING_KEY, f"{embedder.model_key}\x1f{embedder.dim}")
    finish_reembed(catalog, index)
    report.seconds = time.perf_counter() - started
    return report


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
