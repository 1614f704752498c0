"""Fusion defaults per index: the value ``newssearch tune`` stores, and which one applies.

``newssearch tune`` (:mod:`search_api.tune`) sweeps the fusion parameters on a user's own
judgments and stores the winner in the index's catalog (meta key :data:`META_KEY`, a JSON
:class:`~search_api.schemas.TunedFusion`). The fusion a hybrid request gets, per field
(``fusion``, ``alpha``, ``normalisation``, ``rrf_k``), is the first of:

1. the request's own parameter (``alpha=0.5`` ...);
2. the operator's explicit setting: a :class:`~indexer.settings.Settings` field set explicitly,
   i.e. from the environment (``NEWSSEARCH_ALPHA`` ...) or a constructor argument (pydantic's
   ``model_fields_set``);
3. the index's tuned value;
4. the built-in default (the ``Settings`` field's default).

Step 1 is the engine's (``SearchEngine._fuse``); :func:`effective_fusion` resolves 2-4. The
tuned record holds the winning method and the best parameters of *each* method, so a request
or setting that names the other method still gets its tuned parameters. The engine reads the
record once per index generation (storing or removing it bumps the generation, so a serving
process picks it up with its next request and cursors of the old order are refused).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from indexer.catalog import Catalog
from indexer.settings import Settings
from search_api.schemas import FusionInEffect, FusionOrigin, TunedFusion

log = logging.getLogger(__name__)

#: Catalog meta key of the tuned fusion (JSON).
META_KEY = "fusion"
#: The fusion fields a tuned record sets.
FIELDS = ("fusion", "alpha", "normalisation", "rrf_k")


def read_tuned(catalog: Catalog) -> TunedFusion | None:
    """The index's tuned fusion, or None (none stored, or a value this release cannot read:
    logged and ignored, so a search never fails on it)."""
    raw = catalog.get_meta(META_KEY)
    if raw is None:
        return None
    try:
        return TunedFusion.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("ignoring the index's tuned fusion (meta %r): %s", META_KEY, exc)
        return None


def write_tuned(catalog: Catalog, tuned: TunedFusion) -> None:
    """Store ``tuned`` as the index's fusion defaults (bumps the index generation)."""
    catalog.replace_meta({META_KEY: tuned.model_dump_json()})


def reset_tuned(catalog: Catalog) -> TunedFusion | None:
    """Remove the index's tuned fusion; returns what was stored (None: nothing was)."""
    previous = read_tuned(catalog)
    if catalog.get_meta(META_KEY) is not None:
        catalog.replace_meta({META_KEY: None})
    return previous


def effective_fusion(settings: Settings, tuned: TunedFusion | None) -> FusionInEffect:
    """The fusion defaults in effect (module docstring, steps 2-4), with each one's origin."""
    explicit = settings.model_fields_set
    values: dict[str, object] = {}
    origin: dict[str, FusionOrigin] = {}
    for name in FIELDS:
        if name in explicit:
            values[name], origin[name] = getattr(settings, name), "setting"
        elif tuned is not None:
            values[name], origin[name] = getattr(tuned, name), "tuned"
        else:
            values[name], origin[name] = getattr(settings, name), "default"
    return FusionInEffect.model_validate({**values, "origin": origin, "tuned": tuned})


def describe(fusion: FusionInEffect) -> str:
    """One line for people: the method, its parameters, where they come from."""
    used: tuple[str, ...]
    if fusion.fusion == "convex":
        text = f"convex alpha={fusion.alpha:g} {fusion.normalisation}"
        used = ("fusion", "alpha", "normalisation")
    else:
        text = f"rrf k={fusion.rrf_k}"
        used = ("fusion", "rrf_k")
    origins = sorted({fusion.origin[name] for name in used})
    text += f" ({', '.join(origins)})"
    tuned = fusion.tuned
    if tuned is not None and "tuned" in origins:
        text += (
            f"; tuned on {tuned.dataset} {tuned.split} ({tuned.queries} queries, "
            f"{tuned.date:%Y-%m-%d}): {tuned.metric} {tuned.value:.4f}"
        )
    elif tuned is not None:
        text += "; the index's tuned fusion is overridden by explicit settings"
    return text
