"""Efficiency indices, grades and conformance, for one run or a whole population.

    inp = RatingInput.from_disclosure(doc)      # doc: a result JSON (Measurement.to_dict())
    rating = rate(inp, load_standard())         # Rating: energy and water index, grade, verdict
    doc["rating"] = rating.to_dict()            # the disclosure's rating block
    table = rate_many(population, std)          # numpy: 10^5 runs in well under a second

    energy index = IT energy per counted unit / the task's reference energy per unit
    water index  = water consumption per counted unit / the task's reference water per unit

A run that misses a measurement requirement keeps its index but gets no grade, and every
missed requirement is listed. Pure functions of values: no clock, no files. numpy is
imported only by the functions that work on populations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from greenai.errors import DisclosureError
from greenai.sampler import EDGE_READS
from greenai.standard import DOMAINS, GRADES, Standard, TaskClass
from greenai.work import Work, format_params

if TYPE_CHECKING:
    import numpy as np

PROVENANCES = ("measured", "modelled", "mixed", "third-party")
# Provenance of a domain in a population column: 0 = not in the run.
PROVENANCE_CODES = {"measured": 1, "modelled": 2, "mixed": 3, "third-party": 4}
_THIRD_PARTY_CODE = PROVENANCE_CODES["third-party"]

# Reasons a run is not graded, as bits: rate_many keeps one integer per run and per index,
# and both rate() and rate_many() turn bits into the same sentences (_reason_texts).
UNKNOWN_TASK = 1 << 0
UNIT_MISMATCH = 1 << 1
NO_UNITS = 1 << 2
STATUS_NOT_OK = 1 << 3
TOO_SHORT = 1 << 4
INTERVAL_TOO_LONG = 1 << 5
INTERVAL_UNKNOWN = 1 << 6
NO_IDLE_BASELINE = 1 << 7
TOO_FEW_REPETITIONS = 1 << 8
NO_WATER = 1 << 9
_DOMAIN_BASE = 10  # then 3 bits per domain: not in the run, not measured, incomplete
_DOMAIN_MISSING, _DOMAIN_NOT_MEASURED, _DOMAIN_INCOMPLETE = 0, 1, 2
# A figure taken from a published table (interop.table), under a class that does not grade
# such figures; kept clear of the domain bits.
THIRD_PARTY = 1 << 30
# The run did not do the work the class holds fixed (standard.Workload, Quality, size
# classes, phase), or its index is outside the class's plausible range: index, no grade.
NOT_SAME_WORKLOAD = 1 << 22  # workload, dataset or split not disclosed or different
QUALITY_NOT_MET = 1 << 23  # quality not disclosed, another metric, or below the target
SIZE_NOT_DISCLOSED = 1 << 24  # a sized class, and the run gives no parameter count
SIZE_OUTSIDE = 1 << 25  # the model's parameter count is in no (or another) size class
PHASE_MISMATCH = 1 << 26  # phase not disclosed, or training under an inference class
IMPLAUSIBLE = 1 << 27  # index outside the class's plausible range: not the same kind of work
WORK_BITS = NOT_SAME_WORKLOAD | QUALITY_NOT_MET | SIZE_NOT_DISCLOSED | SIZE_OUTSIDE | PHASE_MISMATCH


def domain_bit(domain: str, problem: int) -> int:
    """Return the reason bit for `problem` (0 missing, 1 not measured, 2 incomplete) of a domain."""
    return 1 << (_DOMAIN_BASE + 3 * DOMAINS.index(domain) + problem)


# ----------------------------------------------------------------------- input
@dataclass(frozen=True)
class DomainState:
    """How one domain's energy was obtained in a run."""

    provenance: str  # measured | modelled | mixed
    complete: bool = True  # False when a probe of the domain failed during the window


@dataclass(frozen=True)
class RatingInput:
    """What scoring needs of a run: task, units, energy, water, and how it was measured.

    energy_j and units_done cover all repetitions together; water_l is the run's water
    consumption (on-site + off-site) in litres, None when no footprint was computed.
    """

    task: str | None
    unit: str | None
    units_done: float
    energy_j: float
    duration_s: float
    domains: Mapping[str, DomainState] = field(default_factory=dict)
    # the interval at which the energy's sampled power was read (None: not disclosed; 0: none
    # was sampled, every figure is a hardware counter read at the window's edges)
    sampling_interval_s: float | None = None
    idle_baseline: bool = False
    repetitions: int = 1
    status: str = "ok"
    water_l: float | None = None
    water_reason: str | None = None  # why water_l is None
    work: Work = Work()  # what the run did: workload, dataset, model, params, quality, phase
    energy_ci_rel: float | None = None  # relative 95 % CI of energy per unit (bench results)

    def with_energy(self, energy_j: float) -> RatingInput:
        """Return the same run with another energy (J); water scales with it."""
        water = None if self.water_l is None else self.water_l * (energy_j / self.energy_j)
        return replace(self, energy_j=energy_j, water_l=water)

    @classmethod
    def from_disclosure(cls, doc: Mapping[str, Any], source: str = "disclosure") -> RatingInput:
        """Return the rating input of a result JSON document; DisclosureError names a bad field."""
        row = _read_disclosure(doc, source)
        domains = {name: DomainState(*state) for name, state in row[5].items()}
        return cls(*row[:5], domains, *row[6:])


# RatingInput's fields in order: a row of a population before it becomes columns.
_ROW_FIELDS = (
    "task",
    "unit",
    "units_done",
    "energy_j",
    "duration_s",
    "domains",
    "sampling_interval_s",
    "idle_baseline",
    "repetitions",
    "status",
    "water_l",
    "water_reason",
    "work",
    "energy_ci_rel",
)


def _read_disclosure(doc: Any, source: str) -> tuple[Any, ...]:
    """Return RatingInput's fields of a result document, domains as {name: (provenance, complete)}.

    One reader for RatingInput.from_disclosure and Population.from_disclosures, so a
    population is read with exactly the checks a single run is.
    """
    if not isinstance(doc, dict) and not isinstance(doc, Mapping):
        raise DisclosureError(f"{source}: expected a JSON object, got {type(doc).__name__}")
    domains_doc = doc.get("domains") or {}
    if not isinstance(domains_doc, (dict, Mapping)):
        raise DisclosureError(f"{source}: domains: expected an object")
    domains = {}
    for name, body in domains_doc.items():
        prov = body.get("provenance") if isinstance(body, (dict, Mapping)) else None
        if prov not in PROVENANCE_CODES:
            raise DisclosureError(
                f"{source}: domains.{name}.provenance: {prov!r} is not one of {PROVENANCES}"
            )
        domains[name] = (prov, bool(body.get("complete", True)))
        if isinstance(body, (dict, Mapping)) and body.get("energy_j") is not None:
            _number(source, f"domains.{name}.energy_j", body["energy_j"])  # >= 0, finite
    version = doc.get("schema_version")
    if version is not None:
        from greenai.disclosure import READABLE_VERSIONS

        if version not in READABLE_VERSIONS:
            raise DisclosureError(
                f"{source}: schema_version {version!r} is not readable by greenai "
                f"(reads {', '.join(READABLE_VERSIONS)})"
            )
    if "energy_j" in doc:
        energy_j = _number(source, "energy_j", doc["energy_j"])
    elif domains_doc:
        energy_j = math.fsum(
            _number(source, f"domains.{k}.energy_j", v.get("energy_j"))
            for k, v in domains_doc.items()
        )
    else:
        raise DisclosureError(f"{source}: energy_j: missing (and no domains to add up)")
    for key in ("units_done", "duration_s"):
        if key not in doc:
            raise DisclosureError(f"{source}: {key}: missing (required field)")
    sampling = doc.get("sampling") or {}
    interval = sampling.get("interval_s") if isinstance(sampling, (dict, Mapping)) else None
    if counters_at_edges(doc):
        interval = 0.0  # every figure from hardware counters: no sampled power to bound
    repetitions = doc.get("repetitions")
    if repetitions is None:
        repetitions = 1
    if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 1:
        raise DisclosureError(f"{source}: repetitions: expected a whole number >= 1")
    water_l, water_reason = _water_of(doc.get("footprint"), source)
    return (
        _optional_str(doc.get("task"), "task", source),
        _optional_str(doc.get("unit"), "unit", source),
        _number(source, "units_done", doc["units_done"]),
        energy_j,
        _number(source, "duration_s", doc["duration_s"]),
        domains,
        None if interval is None else _number(source, "sampling.interval_s", interval),
        bool(doc.get("idle")),
        repetitions,
        str(doc.get("status", "ok")),
        water_l,
        water_reason,
        Work.from_dict(doc.get("work"), source),
        _ci_rel(doc.get("benchmark")),
    )


def counters_at_edges(doc: Mapping[str, Any]) -> bool:
    """Return True where the run says every energy figure is a hardware counter read at
    window edges, and every device it lists agrees (a device sampled for power, or modelled,
    makes the sampling interval count again)."""
    sampling = doc.get("sampling")
    if not isinstance(sampling, (dict, Mapping)) or sampling.get("energy_reads") != EDGE_READS:
        return False
    devices = doc.get("devices")
    if not isinstance(devices, list):
        return devices is None
    return all(isinstance(d, (dict, Mapping)) and d.get("method") == "counter" for d in devices)


MAX_FIGURE = 1e18  # J, s, units: the disclosure schema's bound on a physical figure


def _ci_rel(block: Any) -> float | None:
    """Return the relative 95 % CI half-width of a bench result's energy per unit, if any."""
    summary = block.get("energy_per_unit_j") if isinstance(block, Mapping) else None
    if not isinstance(summary, Mapping):
        return None
    try:
        mean, low, high = (float(summary[k]) for k in ("mean", "ci95_low", "ci95_high"))
    except (KeyError, TypeError, ValueError):
        return None
    if not (mean > 0 and math.isfinite(low) and math.isfinite(high)):
        return None
    return max(high - mean, mean - low) / mean


def _number(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DisclosureError(f"{source}: {key}: expected a number, got {value!r:.60}")
    try:
        number = float(value)
    except OverflowError:  # an integer of 400 digits
        raise DisclosureError(f"{source}: {key}: {str(value)[:20]}... is out of range") from None
    if not (math.isfinite(number) and number >= 0):
        raise DisclosureError(f"{source}: {key}: expected a finite number >= 0, got {value!r}")
    if number > MAX_FIGURE:
        raise DisclosureError(
            f"{source}: {key}: {value!r} is beyond any real run (the bound is {MAX_FIGURE:g})"
        )
    return number


def _optional_str(value: Any, key: str, source: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise DisclosureError(f"{source}: {key}: expected a string, got {value!r:.60}")


def _water_of(block: Any, source: str) -> tuple[float | None, str | None]:
    if block is None:
        return None, "the disclosure has no footprint block"
    if not isinstance(block, (dict, Mapping)):
        raise DisclosureError(f"{source}: footprint: expected an object")
    if not block.get("computed"):
        return None, f"footprint not computed ({block.get('reason') or 'no reason given'})"
    water = block.get("water_l")
    is_table = isinstance(water, (dict, Mapping))
    total = water.get("total") if is_table else water
    if is_table and total is None:
        total = (water.get("onsite") or 0.0) + (water.get("offsite") or 0.0)
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        raise DisclosureError(f"{source}: footprint.water_l.total: expected a number")
    return float(total), None


# ----------------------------------------------------------------------- result
@dataclass(frozen=True)
class IndexRating:
    """One efficiency index (energy or water): index, grade, conformance and why not.

    measured and reference are per functional unit (e.g. per 1000 queries): J for energy,
    L for water.
    """

    index: float | None
    grade: str | None
    conformant: bool
    reasons: tuple[str, ...]
    measured: float | None = None
    reference: float | None = None

    @property
    def verdict(self) -> str:
        """Return 'conformant' or 'not conformant: <every reason>'."""
        return "conformant" if self.conformant else "not conformant: " + "; ".join(self.reasons)

    def to_dict(self, unit: str) -> dict[str, Any]:
        """Return the JSON form; `unit` (j or l) suffixes the per-functional-unit figures."""
        return {
            "index": _finite_or_none(self.index),
            "grade": self.grade,
            "conformant": self.conformant,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            f"measured_{unit}": _finite_or_none(self.measured),
            f"reference_{unit}": _finite_or_none(self.reference),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], unit: str, where: str = "rating") -> IndexRating:
        """Return the IndexRating that to_dict() wrote; DisclosureError naming a bad field."""
        if not isinstance(data, Mapping):
            raise DisclosureError(f"{where}: expected an object")
        grade = _typed(data, "grade", str, where)
        if grade is not None and grade not in GRADES:
            raise DisclosureError(f"{where}.grade: {grade!r} is not one of {', '.join(GRADES)}")
        conformant = data.get("conformant")
        if not isinstance(conformant, bool):
            raise DisclosureError(f"{where}.conformant: expected true or false")
        reasons = _strings(data, "reasons", where)
        return cls(
            index=_typed(data, "index", float, where),
            grade=grade,
            conformant=conformant,
            reasons=tuple(reasons),
            measured=_typed(data, f"measured_{unit}", float, where),
            reference=_typed(data, f"reference_{unit}", float, where),
        )


def _strings(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    """Return data[key] as a list of strings (empty when absent); DisclosureError if not."""
    value = data.get(key) or []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise DisclosureError(f"{where}.{key}: expected a list of strings")
    return list(value)


def _typed(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    """Return data[key] (None when absent) if it is of `kind`; DisclosureError otherwise."""
    value = data.get(key)
    if value is None:
        return None
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DisclosureError(f"{where}.{key}: expected a number, got {value!r:.40}")
        return float(value)
    if not isinstance(value, kind):
        raise DisclosureError(f"{where}.{key}: expected {kind.__name__}, got {value!r:.40}")
    return value


@dataclass(frozen=True)
class Rating:
    """A run rated under one standard: energy and water indices, grades and verdicts."""

    standard_id: str
    standard_version: str
    standard_status: str
    task: str | None  # the task class id (None when the run's task is unknown)
    functional_unit: str | None  # e.g. "1000 query"
    energy: IndexRating
    water: IndexRating
    notes: tuple[str, ...] = ()  # what a reader must know even when graded (third-party data)

    @property
    def conformant(self) -> bool:
        """Return True when the run meets every measurement requirement (energy)."""
        return self.energy.conformant

    def to_dict(self) -> dict[str, Any]:
        """Return the disclosure's `rating` block."""
        block = {
            "standard": {
                "id": self.standard_id,
                "version": self.standard_version,
                "status": self.standard_status,
            },
            "task": self.task,
            "functional_unit": self.functional_unit,
            "energy": self.energy.to_dict("j"),
            "water": self.water.to_dict("l"),
        }
        if self.notes:
            block["notes"] = list(self.notes)
        return block

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "rating") -> Rating:
        """Return the Rating that to_dict() wrote; DisclosureError naming a bad field."""
        if not isinstance(data, Mapping):
            raise DisclosureError(f"{where}: expected an object")
        std = data.get("standard")
        if not isinstance(std, Mapping):
            raise DisclosureError(f"{where}.standard: expected an object with id and version")
        ident = {k: _typed(std, k, str, f"{where}.standard") for k in ("id", "version", "status")}
        missing = [k for k, v in ident.items() if v is None]
        if missing:
            raise DisclosureError(f"{where}.standard: missing {', '.join(missing)}")
        return cls(
            standard_id=ident["id"],
            standard_version=ident["version"],
            standard_status=ident["status"],
            task=_typed(data, "task", str, where),
            functional_unit=_typed(data, "functional_unit", str, where),
            energy=IndexRating.from_dict(data.get("energy"), "j", f"{where}.energy"),
            water=IndexRating.from_dict(data.get("water"), "l", f"{where}.water"),
            notes=tuple(_strings(data, "notes", where)),
        )


def _nan_none(value: Any) -> float | None:
    return None if math.isnan(float(value)) else float(value)


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# ----------------------------------------------------------------------- one run
def resolve(std: Standard, task_name: str | None, params: float | None) -> TaskClass | None:
    """Return the class a run is rated in: its task class, or the size class its model is in.

    A sized task (text generation, training) is rated in the size class holding the run's
    parameter count; without one (or outside every size class) the task itself is returned
    and the rating says why there is no grade.
    """
    task = std.task_class(task_name)
    if task is not None and task.sizes:
        return task.size_class(params) or task
    return task


def rate(inp: RatingInput, std: Standard) -> Rating:
    """Return the rating of one run under `std`."""
    task = resolve(std, inp.task, inp.work.params)
    bits = _check(inp, task)
    energy_index = water_index = None
    measured_j = measured_l = None
    if task is not None and not bits & (UNKNOWN_TASK | UNIT_MISMATCH | NO_UNITS):
        energy_index = inp.energy_j / (inp.units_done * task.energy.per_unit)
        measured_j = inp.energy_j / inp.units_done * task.per
        if not task.plausible[0] <= energy_index <= task.plausible[1]:
            bits |= IMPLAUSIBLE
        if inp.water_l is not None:
            water_index = inp.water_l / (inp.units_done * task.water.per_unit)
            measured_l = inp.water_l / inp.units_done * task.per
    water_bits = bits | (NO_WATER if inp.water_l is None else 0)
    context = _Context.of(inp, task, std)
    energy = IndexRating(
        index=energy_index,
        grade=_grade(task, energy_index, bits, water=False),
        conformant=bits == 0,
        reasons=_reason_texts(bits, context),
        measured=measured_j,
        reference=None if task is None else task.energy.per_unit * task.per,
    )
    water = IndexRating(
        index=water_index,
        grade=_grade(task, water_index, water_bits, water=True),
        conformant=water_bits == 0,
        reasons=_reason_texts(water_bits, context),
        measured=measured_l,
        reference=None if task is None else task.water.per_unit * task.per,
    )
    return Rating(
        standard_id=std.id,
        standard_version=std.version,
        standard_status=std.status,
        task=None if task is None else task.id,
        functional_unit=None if task is None else task.functional_unit,
        energy=energy,
        water=water,
        notes=third_party_notes(context.provenance),
    )


def third_party_notes(provenance: Mapping[str, str]) -> tuple[str, ...]:
    """Return the note a rating of third-party figures carries (none for greenai's own)."""
    if "third-party" not in provenance.values():
        return ()
    absent = [d for d in DOMAINS if d not in provenance]
    return (
        f"third-party figure: {_third_party_domains(provenance)} energy as published by its "
        "source, not a greenai measurement"
        + (f"; {', '.join(absent)} energy and the site's PUE not counted" if absent else ""),
    )


def _third_party_domains(provenance: Mapping[str, str]) -> str:
    return "+".join(sorted(d for d, p in provenance.items() if p == "third-party")) or "its"


def _grade(task: TaskClass | None, index: float | None, bits: int, water: bool) -> str | None:
    if task is None or index is None or bits:
        return None
    return (task.water_bands if water else task.bands).grade(index)


def _check(inp: RatingInput, task: TaskClass | None) -> int:
    """Return the reason bits of one run (energy; the water index adds NO_WATER)."""
    if task is None:
        return UNKNOWN_TASK
    bits = 0
    if not task.accepts_unit(inp.unit):
        bits |= UNIT_MISMATCH
    if not inp.units_done > 0:
        bits |= NO_UNITS
    if inp.status != "ok":
        bits |= STATUS_NOT_OK
    req = task.requirements
    for domain in DOMAINS:
        state = inp.domains.get(domain)
        if state is None:
            if domain in req.required_domains:
                bits |= domain_bit(domain, _DOMAIN_MISSING)
            continue
        if state.provenance == "third-party":
            if not req.third_party:
                bits |= THIRD_PARTY
            continue  # the source's own method; not checked against greenai's probes
        must_measure = domain in req.required_domains or domain in req.measured_domains
        if must_measure and state.provenance != "measured":
            bits |= domain_bit(domain, _DOMAIN_NOT_MEASURED)
        if not state.complete:
            bits |= domain_bit(domain, _DOMAIN_INCOMPLETE)
    if not inp.duration_s >= req.min_duration_s:
        bits |= TOO_SHORT
    if inp.sampling_interval_s is None:
        if math.isfinite(req.max_sampling_interval_s):  # inf: no limit, nothing to disclose
            bits |= INTERVAL_UNKNOWN
    elif inp.sampling_interval_s > req.max_sampling_interval_s:
        bits |= INTERVAL_TOO_LONG
    if req.idle_baseline and not inp.idle_baseline:
        bits |= NO_IDLE_BASELINE
    if inp.repetitions < req.min_repetitions:
        bits |= TOO_FEW_REPETITIONS
    for bit, _ in work_problems(inp.work, task):
        bits |= bit
    return bits


def work_problems(work: Work, task: TaskClass) -> list[tuple[int, str]]:
    """Return (reason bit, sentence) for each item `task` holds fixed that `work` misses."""
    out: list[tuple[int, str]] = []
    fixed = task.workload
    if fixed.benchmark:
        if work.workload is None:
            out.append(
                (
                    NOT_SAME_WORKLOAD,
                    f"workload not disclosed: {_class_id(task)} rates only the benchmark "
                    f"workload {fixed.benchmark!r}",
                )
            )
        elif work.workload != fixed.benchmark:
            out.append(
                (NOT_SAME_WORKLOAD, f"workload {work.workload!r} is not {fixed.benchmark!r}")
            )
    if fixed.dataset:
        wanted = fixed.dataset + (f", split {fixed.split}" if fixed.split else "")
        if work.dataset is None:
            out.append((NOT_SAME_WORKLOAD, f"dataset not disclosed ({wanted} required)"))
        elif not fixed.same_dataset(work.dataset):
            out.append((NOT_SAME_WORKLOAD, f"dataset {work.dataset!r} is not {fixed.dataset!r}"))
        elif fixed.split and work.split != fixed.split:
            shown = "not disclosed" if work.split is None else repr(work.split)
            out.append((NOT_SAME_WORKLOAD, f"split {shown} is not {fixed.split!r}"))
    q = task.quality
    if q is not None:
        need = f"{q.metric} {'>=' if q.higher_is_better else '<='} {q.target:g}"
        if work.quality is None:
            out.append((QUALITY_NOT_MET, f"quality not disclosed ({need} required)"))
        elif work.quality_metric != q.metric:
            out.append(
                (QUALITY_NOT_MET, f"quality metric {work.quality_metric!r} is not {q.metric!r}")
            )
        elif not q.met(work.quality):
            out.append(
                (
                    QUALITY_NOT_MET,
                    f"quality {q.metric} {work.quality:g} does not reach the target ({need})",
                )
            )
    if task.sizes or task.size:
        sizes = task.sizes or ()
        if work.params is None:
            listed = ", ".join(s.size.label for s in sizes if s.size) or (
                task.size.label if task.size else ""
            )
            out.append(
                (
                    SIZE_NOT_DISCLOSED,
                    f"model size not disclosed: {_class_id(task)} is rated within model-size "
                    f"classes ({listed}); disclose the parameter count (params)",
                )
            )
        elif task.size is not None and not task.size.holds(work.params):
            out.append(
                (
                    SIZE_OUTSIDE,
                    f"model {format_params(work.params)} is outside class {task.size.label}",
                )
            )
        elif task.size is None:  # a sized task the count fell outside of every size class
            listed = ", ".join(s.size.label for s in sizes if s.size)
            out.append(
                (
                    SIZE_OUTSIDE,
                    f"model {format_params(work.params)} is in no size class of {task.id} "
                    f"({listed})",
                )
            )
    if task.phase is not None:
        if work.phase is None:
            out.append(
                (
                    PHASE_MISMATCH,
                    f"phase not disclosed ({_class_id(task)} is {_a(task.phase)} class)",
                )
            )
        elif work.phase != task.phase:
            out.append(
                (
                    PHASE_MISMATCH,
                    f"phase {work.phase} does not fit {_class_id(task)}, {_a(task.phase)} class",
                )
            )
    return out


def _class_id(task: TaskClass) -> str:
    return task.id


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


@dataclass(frozen=True)
class _Context:
    """The figures reason sentences quote: the run's and its task class's."""

    standard_id: str
    task: TaskClass | None
    run_task: str | None
    run_unit: str | None
    duration_s: float
    sampling_interval_s: float | None
    repetitions: int
    status: str
    provenance: Mapping[str, str]
    water_reason: str | None
    work: Work = Work()
    energy_index: float | None = None

    @classmethod
    def of(cls, inp: RatingInput, task: TaskClass | None, std: Standard) -> _Context:
        index = None
        if task is not None and inp.units_done > 0:
            index = inp.energy_j / (inp.units_done * task.energy.per_unit)
        return cls(
            standard_id=std.id,
            task=task,
            run_task=inp.task,
            run_unit=inp.unit,
            duration_s=inp.duration_s,
            sampling_interval_s=inp.sampling_interval_s,
            repetitions=inp.repetitions,
            status=inp.status,
            provenance={k: v.provenance for k, v in inp.domains.items()},
            water_reason=inp.water_reason,
            work=inp.work,
            energy_index=index,
        )


def _reason_texts(bits: int, c: _Context) -> tuple[str, ...]:
    """Return one sentence per reason bit set, in a fixed order."""
    if not bits:
        return ()
    out = []
    if bits & UNKNOWN_TASK:
        if c.run_task:
            out.append(f"task {c.run_task!r} is not a task class of {c.standard_id}")
        else:
            out.append("the run names no task")
        return tuple(out)
    task = c.task
    assert task is not None
    req = task.requirements
    if bits & UNIT_MISMATCH:
        counted = f"counted {c.run_unit!r}" if c.run_unit else "names no unit"
        out.append(
            f"unit mismatch: the run {counted}; {task.id} is rated per {task.functional_unit}"
        )
    if bits & NO_UNITS:
        out.append("no functional units counted")
    if bits & STATUS_NOT_OK:
        out.append(f"run status {c.status!r}, not 'ok'")
    for domain in DOMAINS:
        if bits & domain_bit(domain, _DOMAIN_MISSING):
            out.append(f"{domain} energy not in the run")
        if bits & domain_bit(domain, _DOMAIN_NOT_MEASURED):
            partly = "partly " if c.provenance.get(domain) == "mixed" else ""
            out.append(f"{domain} energy {partly}modelled")
        if bits & domain_bit(domain, _DOMAIN_INCOMPLETE):
            out.append(f"{domain} energy incomplete (a probe failed during the run)")
    if bits & THIRD_PARTY:
        out.append(
            f"{_third_party_domains(c.provenance)} energy is a third-party figure, not a greenai "
            f"measurement: {task.id} of {c.standard_id} does not grade such figures (a class "
            "calibrated on a third-party population does: greenai standard calibrate)"
        )
    if bits & TOO_SHORT:
        out.append(f"run too short: {round(c.duration_s, 2):g} s < {req.min_duration_s:g} s")
    if bits & INTERVAL_UNKNOWN:
        out.append("sampling interval not disclosed")
    if bits & INTERVAL_TOO_LONG:
        out.append(
            f"sampling interval {c.sampling_interval_s:g} s > {req.max_sampling_interval_s:g} s"
        )
    if bits & NO_IDLE_BASELINE:
        out.append("no idle baseline measured")
    if bits & TOO_FEW_REPETITIONS:
        out.append(f"{c.repetitions} repetition(s) < {req.min_repetitions} required")
    if bits & WORK_BITS:
        out.extend(text for bit, text in work_problems(c.work, task) if bits & bit)
    if bits & IMPLAUSIBLE and c.energy_index is not None:
        low, high = task.plausible
        out.append(
            f"not the same kind of work: energy index {c.energy_index:.4g} is outside the "
            f"plausible range of {task.id}, {low:g} to {high:g} times its reference"
        )
    if bits & NO_WATER:
        out.append(f"water not computed: {c.water_reason or 'no footprint'}")
    return tuple(out)


# ----------------------------------------------------------------------- populations
@dataclass(frozen=True, eq=False)
class Population:
    """Many rating inputs as numpy columns of equal length (for rate_many and calibrate).

    provenance holds one int8 column per domain: 0 not in the run, 1 measured, 2 modelled,
    3 mixed (PROVENANCE_CODES). NaN in sampling_interval_s or water_l means not disclosed.
    """

    task: np.ndarray  # object: str or None
    unit: np.ndarray  # object: str or None
    units_done: np.ndarray  # float64
    energy_j: np.ndarray  # float64
    duration_s: np.ndarray  # float64
    sampling_interval_s: np.ndarray  # float64
    idle_baseline: np.ndarray  # bool
    repetitions: np.ndarray  # int64
    status: np.ndarray  # object: str
    water_l: np.ndarray  # float64
    provenance: Mapping[str, np.ndarray]
    complete: Mapping[str, np.ndarray]
    labels: tuple[str, ...] = ()
    water_reason: tuple[str | None, ...] = ()
    skipped: tuple[str, ...] = ()  # "source: why" for entries that could not be read
    work: tuple[Work, ...] = ()  # what each run did (empty: nothing disclosed by any)
    energy_ci_rel: Any = ()  # float64 column, NaN where no CI is disclosed (empty: none)

    def __len__(self) -> int:
        return len(self.energy_j)

    def label(self, i: int) -> str:
        """Return the label of row i (its file, or its row number)."""
        return self.labels[i] if self.labels else f"#{i}"

    @classmethod
    def from_inputs(
        cls,
        inputs: Sequence[RatingInput],
        labels: Sequence[str] = (),
        skipped: Sequence[str] = (),
    ) -> Population:
        """Return the population of a sequence of RatingInput values."""
        rows = [
            (
                *(getattr(i, f) for f in _ROW_FIELDS[:5]),
                {k: (v.provenance, v.complete) for k, v in i.domains.items()},
                *(getattr(i, f) for f in _ROW_FIELDS[6:]),
            )
            for i in inputs
        ]
        return cls._from_rows(rows, labels, skipped)

    @classmethod
    def from_disclosures(
        cls,
        docs: Sequence[Mapping[str, Any]],
        labels: Sequence[str] = (),
        skip_invalid: bool = False,
    ) -> Population:
        """Return the population of result JSON documents (the fast path for many of them).

        With skip_invalid, a document that RatingInput.from_disclosure would refuse is left
        out and listed in Population.skipped instead of raising DisclosureError.
        """
        rows, kept, skipped = [], [], []
        for n, doc in enumerate(docs):
            label = labels[n] if labels else f"#{n}"
            try:
                rows.append(_read_disclosure(doc, label))
            except DisclosureError as exc:
                if not skip_invalid:
                    raise
                skipped.append(str(exc))
                continue
            kept.append(label)
        return cls._from_rows(rows, kept if labels else (), skipped)

    @classmethod
    def _from_rows(
        cls, rows: Sequence[tuple[Any, ...]], labels: Sequence[str], skipped: Sequence[str]
    ) -> Population:
        import numpy as np

        columns = list(zip(*rows, strict=True)) if rows else [()] * len(_ROW_FIELDS)
        col = dict(zip(_ROW_FIELDS, columns, strict=True))
        nan = math.nan
        provenance, complete = {}, {}
        for d in DOMAINS:
            states = [domains.get(d) for domains in col["domains"]]
            provenance[d] = np.array(
                [0 if s is None else PROVENANCE_CODES[s[0]] for s in states], dtype=np.int8
            )
            complete[d] = np.array([s is None or s[1] for s in states], dtype=bool)
        return cls(
            task=np.array(col["task"], dtype=object),
            unit=np.array(col["unit"], dtype=object),
            units_done=np.array(col["units_done"], dtype=np.float64),
            energy_j=np.array(col["energy_j"], dtype=np.float64),
            duration_s=np.array(col["duration_s"], dtype=np.float64),
            sampling_interval_s=np.array(
                [nan if v is None else v for v in col["sampling_interval_s"]], dtype=np.float64
            ),
            idle_baseline=np.array(col["idle_baseline"], dtype=bool),
            repetitions=np.array(col["repetitions"], dtype=np.int64),
            status=np.array(col["status"], dtype=object),
            water_l=np.array([nan if v is None else v for v in col["water_l"]], dtype=np.float64),
            provenance=provenance,
            complete=complete,
            labels=tuple(labels),
            water_reason=tuple(col["water_reason"]),
            skipped=tuple(skipped),
            work=tuple(col["work"]),
            energy_ci_rel=np.array(
                [nan if v is None else v for v in col["energy_ci_rel"]], dtype=np.float64
            ),
        )

    def input(self, i: int) -> RatingInput:
        """Return row i as a RatingInput."""
        names = {code: name for name, code in PROVENANCE_CODES.items()}
        domains = {
            d: DomainState(names[int(col[i])], bool(self.complete[d][i]))
            for d, col in self.provenance.items()
            if col[i]
        }
        interval = float(self.sampling_interval_s[i])
        water = float(self.water_l[i])
        return RatingInput(
            task=self.task[i],
            unit=self.unit[i],
            units_done=float(self.units_done[i]),
            energy_j=float(self.energy_j[i]),
            duration_s=float(self.duration_s[i]),
            domains=domains,
            sampling_interval_s=None if math.isnan(interval) else interval,
            idle_baseline=bool(self.idle_baseline[i]),
            repetitions=int(self.repetitions[i]),
            status=str(self.status[i]),
            water_l=None if math.isnan(water) else water,
            water_reason=self.water_reason[i] if self.water_reason else None,
            work=self.work[i] if self.work else Work(),
            energy_ci_rel=_nan_none(self.energy_ci_rel[i]) if len(self.energy_ci_rel) else None,
        )

    def work_of(self, i: int) -> Work:
        """Return what run i disclosed of its work."""
        return self.work[i] if self.work else Work()


@dataclass(frozen=True, eq=False)
class RatingTable:
    """Ratings of a population under one standard, as numpy columns.

    Grades are int8 codes into GRADES (0 = A), -1 where there is no grade; indices are NaN
    where they cannot be computed; reasons are the bit sets of this module's constants.
    """

    standard: Standard
    population: Population
    task: np.ndarray  # object: task class id or None
    energy_index: np.ndarray
    energy_grade: np.ndarray
    energy_reasons: np.ndarray  # uint32
    water_index: np.ndarray
    water_grade: np.ndarray
    water_reasons: np.ndarray

    def __len__(self) -> int:
        return len(self.energy_index)

    @property
    def energy_conformant(self) -> np.ndarray:
        """Return a bool column: the run meets every requirement."""
        return self.energy_reasons == 0

    @property
    def water_conformant(self) -> np.ndarray:
        """Return a bool column: the run meets every requirement and has a water figure."""
        return self.water_reasons == 0

    def grades(self, kind: str = "energy") -> list[str | None]:
        """Return the grade letters of every run (None where not graded)."""
        codes = self.energy_grade if kind == "energy" else self.water_grade
        return [GRADES[c] if c >= 0 else None for c in codes.tolist()]

    def reasons(self, i: int, kind: str = "energy") -> tuple[str, ...]:
        """Return the reasons run i is not graded (the sentences rate() gives)."""
        bits = int((self.energy_reasons if kind == "energy" else self.water_reasons)[i])
        inp = self.population.input(i)
        return _reason_texts(
            bits, _Context.of(inp, resolve(self.standard, inp.task, inp.work.params), self.standard)
        )

    def rating(self, i: int) -> Rating:
        """Return run i's Rating (as rate() would give it)."""
        return rate(self.population.input(i), self.standard)


def rate_many(population: Population, std: Standard) -> RatingTable:
    """Return the ratings of every run of a population under `std` (vectorised with numpy)."""
    import numpy as np

    n = len(population)
    classes = list(std.rating_classes())
    k = len(classes)  # row k of every per-class table is the "unknown task" sentinel
    position = {c.id: i for i, c in enumerate(classes)}
    works = [population.work_of(i) for i in range(n)]
    resolved: dict[tuple[Any, Any], int] = {}
    task_list = population.task.tolist()
    for i in range(n):
        key = (task_list[i], works[i].params)
        if key not in resolved:
            cls = resolve(std, *key)
            resolved[key] = k if cls is None else position[cls.id]
    task_idx = np.array(
        [resolved[(task_list[i], works[i].params)] for i in range(n)], dtype=np.int64
    )
    unit_names = sorted({u for u in population.unit.tolist() if u is not None})
    unit_idx = _codes(
        population.unit, lambda u: unit_names.index(u) if u in unit_names else None, len(unit_names)
    )
    accepts = np.zeros((k + 1, len(unit_names) + 1), dtype=bool)
    for c, cls in enumerate(classes):
        for u, name in enumerate(unit_names):
            accepts[c, u] = cls.accepts_unit(name)

    def per_class(get: Any, dtype: Any, sentinel: Any) -> np.ndarray:
        return np.array([get(c) for c in classes] + [sentinel], dtype=dtype)[task_idx]

    known = task_idx < k
    accepts_third_party = per_class(lambda c: c.requirements.third_party, bool, False)
    bits = np.zeros(n, dtype=np.uint32)
    bits[~known] |= UNKNOWN_TASK
    bits[known & ~accepts[task_idx, unit_idx]] |= UNIT_MISMATCH
    bits[known & ~(population.units_done > 0)] |= NO_UNITS
    bits[known & (population.status != "ok")] |= STATUS_NOT_OK
    for d in DOMAINS:
        prov = population.provenance[d]
        required = per_class(lambda c, d=d: d in c.requirements.required_domains, bool, False)
        measured = per_class(lambda c, d=d: d in c.requirements.measured_domains, bool, False)
        third = prov == _THIRD_PARTY_CODE
        bits[known & required & (prov == 0)] |= domain_bit(d, _DOMAIN_MISSING)
        not_measured = (prov > 1) & ~third
        bits[known & (required | measured) & not_measured] |= domain_bit(d, _DOMAIN_NOT_MEASURED)
        bits[known & (prov > 0) & ~third & ~population.complete[d]] |= domain_bit(
            d, _DOMAIN_INCOMPLETE
        )
        bits[known & third & ~accepts_third_party] |= THIRD_PARTY
    min_duration = per_class(lambda c: c.requirements.min_duration_s, np.float64, 0.0)
    bits[known & ~(population.duration_s >= min_duration)] |= TOO_SHORT
    interval = population.sampling_interval_s
    no_interval = np.isnan(interval)
    max_interval = per_class(lambda c: c.requirements.max_sampling_interval_s, np.float64, math.inf)
    bits[known & no_interval & np.isfinite(max_interval)] |= INTERVAL_UNKNOWN
    bits[known & ~no_interval & (interval > max_interval)] |= INTERVAL_TOO_LONG
    idle_required = per_class(lambda c: c.requirements.idle_baseline, bool, False)
    bits[known & idle_required & ~population.idle_baseline] |= NO_IDLE_BASELINE
    min_reps = per_class(lambda c: c.requirements.min_repetitions, np.int64, 0)
    bits[known & (population.repetitions < min_reps)] |= TOO_FEW_REPETITIONS
    work_bits: dict[tuple[int, tuple[Any, ...]], int] = {}
    extra = []
    for c, work in zip(task_idx.tolist(), works, strict=True):
        key = (c, work.key())
        if key not in work_bits:
            found = 0
            for bit, _ in [] if c == k else work_problems(work, classes[c]):
                found |= bit
            work_bits[key] = found
        extra.append(work_bits[key])
    bits |= np.array(extra, dtype=np.uint32)

    indexable = known & ((bits & (UNIT_MISMATCH | NO_UNITS)) == 0)
    ref_energy = per_class(lambda c: c.energy.per_unit, np.float64, math.nan)
    ref_water = per_class(lambda c: c.water.per_unit, np.float64, math.nan)
    units = population.units_done
    energy_index = np.full(n, math.nan)
    energy_index[indexable] = population.energy_j[indexable] / (
        units[indexable] * ref_energy[indexable]
    )
    water_index = np.full(n, math.nan)
    water_index[indexable] = population.water_l[indexable] / (
        units[indexable] * ref_water[indexable]
    )
    low = per_class(lambda c: c.plausible[0], np.float64, 0.0)
    high = per_class(lambda c: c.plausible[1], np.float64, math.inf)
    with np.errstate(invalid="ignore"):
        outside = indexable & ~((energy_index >= low) & (energy_index <= high))
    bits[outside] |= IMPLAUSIBLE
    water_bits = bits | np.where(np.isnan(population.water_l), NO_WATER, 0).astype(np.uint32)

    energy_grade = np.full(n, -1, dtype=np.int8)
    water_grade = np.full(n, -1, dtype=np.int8)
    for c, cls in enumerate(classes):
        in_class = task_idx == c
        for grade, index, reasons, bands in (
            (energy_grade, energy_index, bits, cls.bands),
            (water_grade, water_index, water_bits, cls.water_bands),
        ):
            rows = in_class & (reasons == 0)
            grade[rows] = np.searchsorted(np.array(bands.edges), index[rows], side="right")
    task_ids = np.array([c.id for c in classes] + [None], dtype=object)[task_idx]
    return RatingTable(
        standard=std,
        population=population,
        task=task_ids,
        energy_index=energy_index,
        energy_grade=energy_grade,
        energy_reasons=bits,
        water_index=water_index,
        water_grade=water_grade,
        water_reasons=water_bits,
    )


def _codes(column: np.ndarray, lookup: Any, missing: int) -> np.ndarray:
    """Return an int column mapping each distinct value through lookup (None -> missing)."""
    import numpy as np

    # A dict of the distinct values, not np.unique: hashing a million strings is ~10x
    # faster than sorting them, and a population has a handful of distinct tasks.
    seen: dict[Any, int] = {}
    inverse = np.fromiter(
        (seen.setdefault(v, len(seen)) for v in column.tolist()), np.int64, len(column)
    )
    mapped = []
    for key in seen:
        code = None if key is None else lookup(str(key))
        mapped.append(missing if code is None else code)
    return np.array(mapped, dtype=np.int64)[inverse] if len(column) else np.zeros(0, np.int64)


# ----------------------------------------------------------------------- comparison
CHANGES = ("better", "worse", "same", "newly graded", "no longer graded", "not graded")


@dataclass(frozen=True)
class GradeChange:
    """One run's grade under a baseline standard (`against`) and under `standard`.

    change reads from the baseline to the standard: "better" means a better grade under
    `standard` than under `against`.
    """

    label: str
    task: str | None
    index_against: float | None
    grade_against: str | None
    index: float | None
    grade: str | None
    change: str  # one of CHANGES
    cause: str = ""  # why the grade moved (new band edges, a new requirement, a new reference)


@dataclass(frozen=True)
class RatingComparison:
    """Where grades move when a population is re-rated under another standard."""

    standard: str
    against: str
    kind: str  # energy | water
    rows: tuple[GradeChange, ...]

    @property
    def moved(self) -> tuple[GradeChange, ...]:
        """Return the rows whose grade differs between the two standards."""
        return tuple(r for r in self.rows if r.change not in ("same", "not graded"))

    def summary(self) -> dict[str, int]:
        """Return how many runs fall in each kind of change (every key of CHANGES)."""
        counts = dict.fromkeys(CHANGES, 0)
        for row in self.rows:
            counts[row.change] += 1
        return counts

    def transitions(self) -> dict[tuple[str | None, str | None], int]:
        """Return counts of (grade under `against`, grade under `standard`) pairs."""
        counts: dict[tuple[str | None, str | None], int] = {}
        for row in self.rows:
            key = (row.grade_against, row.grade)
            counts[key] = counts.get(key, 0) + 1
        return counts


def compare_ratings(
    population: Population | Sequence[RatingInput],
    standard: Standard,
    against: Standard,
    kind: str = "energy",
    labels: Sequence[str] = (),
) -> RatingComparison:
    """Return each run's grade under `against` and under `standard`, and how it moved."""
    if kind not in ("energy", "water"):
        raise ValueError(f"kind must be 'energy' or 'water', not {kind!r}")
    if not isinstance(population, Population):
        population = Population.from_inputs(list(population), labels=labels)
    new, old = rate_many(population, standard), rate_many(population, against)
    grades_new, grades_old = new.grades(kind), old.grades(kind)
    reasons_new = getattr(new, f"{kind}_reasons").tolist()
    reasons_old = getattr(old, f"{kind}_reasons").tolist()
    index_new = getattr(new, f"{kind}_index").tolist()
    index_old = getattr(old, f"{kind}_index").tolist()
    rows = []
    for i in range(len(population)):
        g_new, g_old = grades_new[i], grades_old[i]
        change = _change(g_old, g_new)
        moved = change not in ("same", "not graded")
        differs = change == "not graded" and (
            reasons_new[i] != reasons_old[i] or new.task[i] != old.task[i]
        )
        cause = ""
        if moved or differs:
            cause = explain_change(population.input(i), standard, against, kind)
        rows.append(
            GradeChange(
                label=population.label(i),
                task=new.task[i] if new.task[i] is not None else old.task[i],
                index_against=None if math.isnan(index_old[i]) else index_old[i],
                grade_against=g_old,
                index=None if math.isnan(index_new[i]) else index_new[i],
                grade=g_new,
                change=change,
                cause=cause,
            )
        )
    return RatingComparison(standard.id, against.id, kind, tuple(rows))


def explain_change(inp: RatingInput, standard: Standard, against: Standard, kind: str) -> str:
    """Return why a run's grade differs between `against` and `standard`, in a few words.

    Each cause found is listed: the run is rated in another class, the class has a new
    reference, new band edges, a requirement the run now misses or no longer misses.
    """
    new, old = rate(inp, standard), rate(inp, against)
    new_task = resolve(standard, inp.task, inp.work.params)
    old_task = resolve(against, inp.task, inp.work.params)
    causes = []
    if (new_task and new_task.id) != (old_task and old_task.id):
        causes.append(
            f"another class: {old_task.id if old_task else 'none'} -> "
            f"{new_task.id if new_task else 'none'}"
        )
    if new_task is not None and old_task is not None:
        ref_new, ref_old = getattr(new_task, kind), getattr(old_task, kind)
        if not math.isclose(ref_new.per_unit, ref_old.per_unit, rel_tol=1e-12):
            causes.append(
                f"a new reference ({ref_old.per_unit * old_task.per:.4g} -> "
                f"{ref_new.per_unit * new_task.per:.4g} {'J' if kind == 'energy' else 'L'} "
                f"per {new_task.functional_unit})"
            )
        bands_new = new_task.bands if kind == "energy" else new_task.water_bands
        bands_old = old_task.bands if kind == "energy" else old_task.water_bands
        if bands_new.bands != bands_old.bands:
            causes.append(f"new band edges ({_edges_text(bands_old)} -> {_edges_text(bands_new)})")
    before, after = getattr(old, kind), getattr(new, kind)
    added = [r for r in after.reasons if r not in before.reasons]
    dropped = [r for r in before.reasons if r not in after.reasons]
    if added:
        causes.append("a new requirement: " + "; ".join(added))
    if dropped:
        causes.append("a requirement no longer missed: " + "; ".join(dropped))
    return "; ".join(causes) or "the same class, reference, bands and requirements"


def _edges_text(bands: Any) -> str:
    return "/".join(f"{e:.3g}" for e in bands.edges)


def _change(before: str | None, after: str | None) -> str:
    if before is None and after is None:
        return "not graded"
    if before is None:
        return "newly graded"
    if after is None:
        return "no longer graded"
    if after == before:
        return "same"
    return "better" if GRADES.index(after) < GRADES.index(before) else "worse"


__all__ = [
    "CHANGES",
    "DomainState",
    "GradeChange",
    "IndexRating",
    "Population",
    "Rating",
    "RatingComparison",
    "RatingInput",
    "RatingTable",
    "compare_ratings",
    "rate",
    "rate_many",
]
