"""Dense spaces: the encoders an index embeds every paragraph with, one vector store each.

An index has a *primary* encoder (catalog meta ``model_key`` / ``dim``, vectors in
``vectors.faiss``; :mod:`indexer.reembed` switches it) and any number of *extra* encoders
(catalog meta ``extra_models``: a JSON list of ``{"name", "key", "dim"}``, vectors in
``vectors.<slug>.faiss``), e.g. the default pair: all-MiniLM-L6-v2 (English) first and the
multilingual USE beside it. Every space holds a vector for every committed paragraph (ingest,
delete, ``check`` and ``repair`` treat them alike); search runs one dense retriever per space
and fuses them with BM25 (:mod:`search_api.fusion`), each weighted by
:data:`DEFAULT_SHARES` and used only where it understands the language
(:meth:`Space.applies`).

Contracts:
- A space's vectors are never mixed with another encoder's: its file is named after the
  encoder and its ``model_key`` is recorded; opening an index whose recorded extras differ
  from ones the operator *explicitly* asked for is refused (:class:`ExtrasMismatch`);
  otherwise an existing index is opened with the extras it records (an index from before
  extras records none), and a new index records the settings' ones.
- :func:`add_space` embeds every paragraph through the embedding cache into the new space's
  file (saved atomically) *before* the catalog records it, and :func:`drop_space` forgets it
  in the catalog before deleting the file: a crash leaves the index with the space wholly
  present or wholly absent (an unrecorded file is overwritten by the next :func:`add_space`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.catalog import Catalog, vec_id
from indexer.embedder import DEFAULT_MODEL, CachedEmbedder
from indexer.errors import NewsSearchError
from indexer.use_embedder import USE_LANGUAGES, is_use_model
from indexer.vectors import VectorStore

EXTRAS_KEY = "extra_models"
#: Paragraphs embedded per step of :func:`add_space`.
BATCH = 512
#: Languages an encoder was trained on, by model name (``None``: every language). An encoder
#: ranks and admits only paragraphs in its languages, and only for queries in them.
LANGUAGES: dict[str, frozenset[str]] = {DEFAULT_MODEL: frozenset({"en"})}
#: Each encoder's share of the dense weight ``1 - alpha`` in hybrid fusion (an encoder not
#: listed: 1), renormalised per paragraph over the encoders that apply to it (a German
#: paragraph's dense weight goes wholly to USE). Chosen on PolitiFact-1k *train*, the one
#: split where both apply: MiniLM share 0.6 / 0.7 / 0.8 / 0.9 gave nDCG@10 0.8053 / 0.8087 /
#: 0.8094 / 0.8103 (docs/evaluation.md, "Several encoders at once").
DEFAULT_SHARES: dict[str, float] = {DEFAULT_MODEL: 0.9, "use-multilingual-v3": 0.1}


def base_name(name_or_key: str) -> str:
    """The model name of a ``model_key`` or name (``sentence-transformers/`` and paths cut)."""
    return name_or_key.split("|", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def same_encoder(a: str, b: str) -> bool:
    """Whether two model names or keys name the same encoder (USE's aliases included)."""
    x, y = base_name(a), base_name(b)
    return x == y or (is_use_model(x) and is_use_model(y))


def languages_of(name: str) -> frozenset[str] | None:
    """The languages encoder ``name`` understands (``None``: all)."""
    if is_use_model(base_name(name)):
        return USE_LANGUAGES
    return LANGUAGES.get(base_name(name))


def share_of(name: str, shares: dict[str, float] | None = None) -> float:
    """Encoder ``name``'s share of the dense weight (``shares`` first, then the defaults)."""
    for table in (shares or {}, DEFAULT_SHARES):
        for key, value in table.items():
            if same_encoder(key, name):
                return value
    return 1.0


def space_file(index: Path, name: str) -> Path:
    """Where the vectors of extra encoder ``name`` live inside ``index``."""
    slug = re.sub(r"[^a-z0-9]+", "-", base_name(name).lower()).strip("-") or "encoder"
    return index / f"vectors.{slug}.faiss"


@dataclass
class Space:
    """One encoder of an index and its vector store."""

    name: str
    embedder: CachedEmbedder
    vectors: VectorStore
    languages: frozenset[str] | None

    def applies(self, language: str | None) -> bool:
        """Whether this encoder understands text in ``language`` (unknown: yes)."""
        return self.languages is None or language is None or language in self.languages


class ExtrasMismatch(NewsSearchError, ValueError):
    """The operator asked for other extra encoders than the index records."""

    def __init__(self, index: Path, recorded: Sequence[str], requested: Sequence[str]) -> None:
        self.recorded, self.requested = list(recorded), list(requested)
        add = [r for r in requested if not any(same_encoder(r, x) for x in recorded)]
        drop = [r for r in recorded if not any(same_encoder(r, x) for x in requested)]
        how = (
            " ".join([*(f"--add {a}" for a in add), *(f"--drop {d}" for d in drop)])
            or "(nothing to change)"
        )
        super().__init__(
            f"index {index} has the extra encoders {list(recorded)}, not {list(requested)}; "
            f"search it without NEWSSEARCH_EXTRA_MODELS, or change it: "
            f"newssearch reembed {how} --index {index}"
        )


def recorded_extras(catalog: Catalog) -> list[dict[str, str | int]] | None:
    """The extras the catalog records (``None``: nothing recorded yet)."""
    raw = catalog.get_meta(EXTRAS_KEY)
    if raw is None:
        return None
    value: list[dict[str, str | int]] = json.loads(raw)
    return value


def record_extras(catalog: Catalog, spaces: Sequence[Space]) -> None:
    """Record ``spaces`` (the extras, primary excluded) as the index's extra encoders."""
    catalog.set_meta(
        EXTRAS_KEY,
        json.dumps(
            [{"name": s.name, "key": s.embedder.model_key, "dim": s.embedder.dim} for s in spaces]
        ),
    )


def add_space(
    catalog: Catalog,
    index: Path,
    name: str,
    embedder: CachedEmbedder,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every paragraph of the index with ``embedder`` into a new extra space ``name``
    and record it (module docstring); returns the paragraphs written. Writers must not run
    meanwhile. An encoder the index already has (primary or extra) is refused."""
    extras = recorded_extras(catalog) or []
    if base_name(name) in {base_name(str(e["name"])) for e in extras} or base_name(
        catalog.get_meta("model_key") or ""
    ) == base_name(embedder.model_key):
        raise ValueError(f"index {index} already has the encoder {name!r}")
    path = space_file(index, name)
    for leftover in (path, path.with_suffix(path.suffix + ".tmp")):
        leftover.unlink(missing_ok=True)
    store = VectorStore(path, embedder.dim)
    ids = [pid for pid, _ in catalog.iter_paragraph_ids(include_pending=True)]
    written = 0
    for start in range(0, len(ids), BATCH):
        found = catalog.paragraphs(ids[start : start + BATCH])
        paragraphs = [found[pid] for pid in ids[start : start + BATCH] if pid in found]
        store.add(
            [vec_id(p.paragraph_id) for p in paragraphs],
            embedder.embed_passages([p.text for p in paragraphs]),
        )
        written += len(paragraphs)
        if on_progress is not None:
            on_progress(min(start + BATCH, len(ids)), len(ids))
    store.save()
    extras.append({"name": name, "key": embedder.model_key, "dim": embedder.dim})
    catalog.replace_meta({EXTRAS_KEY: json.dumps(extras), _threshold_key(name): None})
    return written


def drop_space(catalog: Catalog, index: Path, name: str) -> bool:
    """Forget extra encoder ``name`` and delete its vectors; False if the index has none."""
    extras = recorded_extras(catalog) or []
    kept = [e for e in extras if base_name(str(e["name"])) != base_name(name)]
    if len(kept) == len(extras):
        return False
    catalog.replace_meta({EXTRAS_KEY: json.dumps(kept), _threshold_key(name): None})
    space_file(index, name).unlink(missing_ok=True)
    return True


def _threshold_key(name: str) -> str:
    # A threshold belongs to its encoder (search_api/search/calibration.py's meta_key).
    return f"min_similarity@{base_name(name)}"
