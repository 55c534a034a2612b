"""Assessment of a Measurement: its footprint at a site and its rating under a standard.

One room below both the meter and the Measurement's reader: a live meter, a journal's
recovery, a merge of ranks and a result file loaded without a footprint all assess a
Measurement the same way. It never imports them back: it reads the Measurement's fields
and returns a copy (``dataclasses.replace``) with ``site``, ``footprint``, ``rating`` and
``embodied`` (greenai/embodied.py: the hardware's share, operational + embodied totals, SCI).
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from greenai.errors import DisclosureError, GreenAIWarning, SiteError, StandardError

M = TypeVar("M")  # a greenai.measurement.Measurement (not imported: it sits above this room)

SITE_ENV = (
    "GREENAI_SITE",
    "GREENAI_GRID",
    "GREENAI_PUE",
    "GREENAI_WUE",
    "GREENAI_HYDRO_EVAPORATION",
)


ASSESSED = ("site", "footprint", "rating", "embodied")  # the Measurement fields assessed


def assess(m: M, site: Any = None, standard: Any = None, *, stacklevel: int = 2) -> M:
    """Return m with its site, footprint, rating and embodied block (None: the defaults).

    Never raises for a site or standard that cannot be resolved: it warns, and the run is
    kept with a not-computed footprint or rating None. One copy of m is made.
    ``stacklevel``: where warnings point (2: the caller of assess).
    """
    return replace(m, **assessment(m, site, standard, stacklevel=stacklevel + 1))  # type: ignore[type-var]


def assessment(
    m: Any, site: Any = None, standard: Any = None, *, stacklevel: int = 2
) -> dict[str, Any]:
    """Return the values of m's assessed fields (``ASSESSED``), computed from its other
    fields; warns as ``assess`` does (it never reads m's own site, footprint or rating)."""
    from greenai.embodied import assess as embodied_of

    resolved, fp = _footprint(m, site, stacklevel + 1)
    std, rating = _rating(m, fp, standard, stacklevel + 1)
    # embodied impacts join the footprint here (totals, SCI, a standard's lifecycle indices)
    emb = embodied_of(m, site, standard, fp, rating, stacklevel + 1, std=std)
    return {"site": resolved, "footprint": fp, "rating": rating, "embodied": emb}


def attach_footprint(m: M, site: Any, stacklevel: int = 3) -> M:
    """Return m with its site and footprint at `site`; never raises SiteError (it warns)."""
    resolved, fp = _footprint(m, site, stacklevel + 1)
    return replace(m, site=resolved, footprint=fp)  # type: ignore[type-var]


def attach_rating(m: M, standard: Any = None, stacklevel: int = 3) -> M:
    """Return m with its rating under a standard (None: the default).

    A standard that cannot be loaded is reported (warned), never raised: the run is kept,
    with rating None.
    """
    rating = _rating(m, m.footprint, standard, stacklevel + 1)[1]  # type: ignore[attr-defined]
    return replace(m, rating=rating)  # type: ignore[type-var]


def _footprint(m: Any, site: Any, stacklevel: int) -> tuple[Any, Any]:
    from greenai.footprint import Footprint, compute
    from greenai.site import Site

    try:
        if isinstance(site, Site):
            resolved = site
        else:
            key = site_env() + ((_mtime(site),) if isinstance(site, str | Path) else ())
            resolved = _resolve_site(site, key)
        return resolved, compute(m.energy_j, resolved, m.units_done or None, m.unit)
    except (SiteError, ValueError) as exc:
        warnings.warn(
            f"greenai: footprint not computed: {exc}", GreenAIWarning, stacklevel=stacklevel
        )
        return None, Footprint.not_computed(str(exc), m.energy_j)


def _rating(m: Any, footprint: Any, standard: Any, stacklevel: int) -> tuple[Any, Any]:
    """Return (the standard, m's rating under it); (None, None) where it cannot be rated."""
    from greenai.scoring import RatingInput, rate

    try:
        std = _standard(standard)
        return std, rate(RatingInput.from_disclosure(rating_view(m, footprint)), std)
    except (StandardError, DisclosureError) as exc:
        warnings.warn(f"greenai: run not rated: {exc}", GreenAIWarning, stacklevel=stacklevel)
        return None, None


def _standard(spec: Any) -> Any:
    """Return the standard `spec` names, its file found once and re-read when it changes."""
    from greenai.standard import _load_cached, load_standard

    try:
        path = _standard_path(spec)
        stat = os.stat(path)
    except (OSError, TypeError):  # moved since it was found, or a spec that is not a key
        return load_standard(spec)
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _standard_path(spec: Any) -> Path:
    from greenai.standard import resolve_standard

    return resolve_standard(spec)


def rating_view(m: Any, footprint: Any = ...) -> dict[str, Any]:
    """Return the fields of the disclosure that rating reads, without serialising the rest
    (``footprint``: the one to rate with, if not yet on m)."""
    if footprint is ...:
        footprint = m.footprint
    return {
        "task": m.task,
        "unit": m.unit,
        "units_done": m.units_done,
        "energy_j": m.energy_j,
        "duration_s": m.duration_s,
        "status": m.status,
        "domains": {
            k: {"energy_j": d.energy_j, "provenance": d.provenance, "complete": d.complete}
            for k, d in m.domains.items()
        },
        "sampling": m.sampling,
        "idle": m.idle is not None,
        "repetitions": m.extra.get("repetitions", 1),
        "footprint": footprint.to_dict() if footprint is not None else None,
        "work": m.extra.get("work"),  # what the run did: the class checks what it holds fixed
    }


def site_env() -> tuple[Any, ...]:
    """Return what a site resolution depends on besides its spec: env, and site file mtimes."""
    env = tuple(os.environ.get(k) for k in SITE_ENV)
    paths = [p for p in (os.environ.get("GREENAI_SITE"),) if p and p.endswith(".toml")]
    return env + tuple(_mtime(p) for p in paths)


def _mtime(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=16)
def _resolve_site(spec: str | os.PathLike[str] | None, key: tuple[Any, ...]) -> Any:
    # cached per (site spec, environment): the factor tables are read once per process
    from greenai.site import Site

    return Site.resolve(spec)
