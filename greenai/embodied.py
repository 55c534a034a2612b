"""Embodied impacts of the hardware a run used: carbon, fab water, abiotic depletion.

    share of a device = impact x (devices used / devices in the server)
                        x charged time / (service life x utilisation)

The server's own parts (chassis, CPUs, memory, storage, power supplies) are split per GPU
as Luccioni et al. (2023) split the node of BLOOM's training: a run on k of the n GPUs of a
server carries k/n of the server (k > n: k/n servers). A run with no GPU carries the whole
server, its GPUs too if the site says it has some. Factors come from standards/factors/
(embodied_published.csv, embodied_boavizta.csv, cpu_die.csv, embodied.toml), each with its
source, year and kind; they are read on first use.

    SCI = ((E x I) + M) / R        ISO/IEC 21031:2024 (Software Carbon Intensity)

with E the run's facility energy (kWh), I the grid's carbon intensity (g/kWh), M the
embodied carbon allocated to the run (g) and R the functional units done.
"""

from __future__ import annotations

import csv
import difflib
import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greenai import units
from greenai._resources import factors_dir
from greenai.errors import DisclosureError, SiteError

PUBLISHED_FILE = "embodied_published.csv"
BOAVIZTA_FILE = "embodied_boavizta.csv"
CPU_DIE_FILE = "cpu_die.csv"
SETTINGS_FILE = "embodied.toml"
FACTOR_COLUMNS = (
    "component",
    "model",
    "per",
    "carbon_kg",
    "adp_kg_sb",
    "water_deprivation_m3_eq",
    "source",
    "year",
    "kind",
    "note",
)
COMPONENTS = ("gpu", "cpu", "dram", "ssd", "hdd", "psu", "server")
FACTOR_KINDS = ("published", "modelled", "measured")
WAFER_DIAMETER_MM = 300.0
KERF_MM = 0.2  # BoaviztAPI 2.5.0 models/component/gpu.py
WATER_SCOPE = (
    "foundry water of the GPU and CPU logic dies (TSMC unit water per wafer mask layer); "
    "memory and storage dies, packaging, upstream materials and other parts not counted"
)
BOUNDARY = (
    "manufacture (cradle to gate) of the server hardware; transport, use and end of life "
    "not included (use is the operational footprint)"
)
ENV_SERVER = "GREENAI_EMBODIED"  # a TOML file with an [embodied] table (else the site file)


# ----------------------------------------------------------------------------- factors


@dataclass(frozen=True)
class EmbodiedFactor:
    """Embodied impact of one component per `per` (device, GB, TB, mm2 of die).

    carbon_kg is kg CO2e; adp_kg_sb abiotic depletion (kg Sb-eq); water_l foundry water in
    litres (see WATER_SCOPE), None where no method gives it; water_deprivation_m3_eq is
    Boavizta's PEF water-use indicator (m3 world-eq deprived), kept apart from litres.
    """

    component: str
    model: str
    per: str
    carbon_kg: float
    source: str
    year: int
    kind: str
    adp_kg_sb: float | None = None
    water_l: float | None = None
    water_source: str | None = None
    water_deprivation_m3_eq: float | None = None
    note: str = ""

    @property
    def unit(self) -> str:
        """Return the unit of carbon_kg, e.g. 'kg CO2e per device'."""
        return f"kg CO2e per {self.per}"

    def to_dict(self) -> dict[str, Any]:
        """Return the factor as the disclosure shows it."""
        return {
            "component": self.component,
            "model": self.model,
            "per": self.per,
            "carbon_kg": self.carbon_kg,
            "unit": self.unit,
            "adp_kg_sb": self.adp_kg_sb,
            "water_l": self.water_l,
            "water_source": self.water_source,
            "water_deprivation_m3_eq": self.water_deprivation_m3_eq,
            "source": self.source,
            "year": self.year,
            "kind": self.kind,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "factor") -> EmbodiedFactor:
        """Return the factor that to_dict() wrote; DisclosureError naming `where` if not."""
        _expect(data, Mapping, where)
        for key in ("component", "model", "per", "source", "kind"):
            _expect(data.get(key), str, f"{where}.{key}")
        _expect(data.get("year"), int, f"{where}.year")
        for key in ("note", "water_source"):
            _expect(data.get(key), (str, type(None)), f"{where}.{key}")
        return cls(
            component=data["component"],
            model=data["model"],
            per=data["per"],
            carbon_kg=_finite(data.get("carbon_kg"), f"{where}.carbon_kg"),
            source=data["source"],
            year=data["year"],
            kind=data["kind"],
            adp_kg_sb=_finite(data.get("adp_kg_sb"), f"{where}.adp_kg_sb", optional=True),
            water_l=_finite(data.get("water_l"), f"{where}.water_l", optional=True),
            water_source=data.get("water_source"),
            water_deprivation_m3_eq=_finite(
                data.get("water_deprivation_m3_eq"), f"{where}.water_deprivation_m3_eq", True
            ),
            note=data.get("note") or "",
        )


def _expect(value: Any, kind: Any, where: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DisclosureError(f"{where}: {value!r:.60} is not of the expected type")


def _finite(value: Any, where: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if not _is_number(value):
        raise DisclosureError(f"{where}: {value!r:.60} is not a finite number")
    return float(value)


def _number(path: Path, line: int, column: str, text: str, optional: bool) -> float | None:
    if not text and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SiteError(
            f"{path}, line {line}, column {column!r}: {text!r} is not a number"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise SiteError(f"{path}, line {line}, column {column!r}: {text!r} must be finite, >= 0")
    return value


def _read_factor_csv(path: Path) -> list[EmbodiedFactor]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in FACTOR_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise SiteError(f"embodied factor file {path}: missing column(s) {missing}")
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise SiteError(f"embodied factor file {path} not found; reinstall greenai") from None
    out = []
    for line, row in rows:
        where = f"{path}, line {line}"
        if row["component"] not in COMPONENTS:
            raise SiteError(f"{where}: component {row['component']!r} not one of {COMPONENTS}")
        if row["kind"] not in FACTOR_KINDS:
            raise SiteError(f"{where}: kind {row['kind']!r} not one of {FACTOR_KINDS}")
        if not row["source"].strip() or not row["year"].strip().isdigit():
            raise SiteError(f"{where}: every embodied factor needs a source and a year")
        out.append(
            EmbodiedFactor(
                component=row["component"],
                model=row["model"],
                per=row["per"],
                carbon_kg=_number(path, line, "carbon_kg", row["carbon_kg"], False),
                adp_kg_sb=_number(path, line, "adp_kg_sb", row["adp_kg_sb"], True),
                water_deprivation_m3_eq=_number(
                    path, line, "water_deprivation_m3_eq", row["water_deprivation_m3_eq"], True
                ),
                source=row["source"],
                year=int(row["year"]),
                kind=row["kind"],
                note=row["note"],
            )
        )
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    from greenai.site import _read_toml as read

    try:
        return read(path, "embodied settings file")
    except UnicodeDecodeError as exc:
        raise SiteError(f"embodied settings file {path} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise SiteError(f"embodied settings file {path}: {exc.strerror or exc}") from None


def effective_die_area_mm2(die_mm2: float) -> float:
    """Return the wafer area (mm2) one good die takes: die + kerf, edge loss, yield.

    The formula of BoaviztAPI 2.5.0 (models/component/gpu.py): dies per wafer by the
    square-in-circle estimate, usable ratio exp(-sqrt(area_cm2 x 0.1)).
    """
    wafer_mm2 = math.pi * (WAFER_DIAMETER_MM / 2) ** 2
    side = math.sqrt(die_mm2) + KERF_MM
    area = side * side
    dies = wafer_mm2 / area - math.pi * WAFER_DIAMETER_MM / math.sqrt(2 * area)
    effective = area * wafer_mm2 / (dies * area)
    return effective / math.exp(-math.sqrt(area / 100 * 0.1))


def wafer_water_l(die_mm2: float, mask_layers: float, litres_per_layer: float) -> float:
    """Return foundry water (L) of one good logic die: L/layer x layers x its wafer share."""
    wafer_mm2 = math.pi * (WAFER_DIAMETER_MM / 2) ** 2
    return litres_per_layer * mask_layers * effective_die_area_mm2(die_mm2) / wafer_mm2


FIND_CACHE_SIZE = 256  # component names looked up per process, at most (they are a few)


@dataclass(frozen=True)
class FactorTable:
    """Every shipped embodied factor, and the CPU die areas, read once."""

    factors: tuple[EmbodiedFactor, ...]
    cpu_die_mm2: Mapping[str, float]
    settings: Mapping[str, Any]
    directory: Path

    def find(self, component: str, model: str | None) -> EmbodiedFactor:
        """Return the factor of a component model (see ``_find``), looked up once per name
        (every run's assessment asks for the same few)."""
        key = (component, model)
        found = self._found.get(key)
        if found is None:
            found = self._find(component, model)
            if len(self._found) < FIND_CACHE_SIZE:
                self._found[key] = found
        return found

    @functools.cached_property
    def _found(self) -> dict[tuple[str, str | None], EmbodiedFactor]:
        return {}

    def _find(self, component: str, model: str | None) -> EmbodiedFactor:
        """Return the factor of a component model (case, dashes, spaces ignored).

        A GPU name matches the one row holding all its words (NVML's "NVIDIA H200" is the
        table's "NVIDIA H200 SXM 141GB"); an unknown or ambiguous GPU or CPU gets the
        component's 'default' row, whose note says so; any other unknown model raises
        SiteError listing the ones known.
        """
        rows = [f for f in self.factors if f.component == component]
        if not rows:
            raise SiteError(f"no embodied factor for component {component!r}")
        wanted = _norm(model or "default")
        if component == "gpu" and wanted in _GPU_ALIASES:
            wanted = _norm(_GPU_ALIASES[wanted])
        for f in rows:
            if _norm(f.model) == wanted:
                return f
        if component == "cpu" and model:
            return self._cpu(model)
        if component == "gpu":
            # NVML names drop the memory and form factor ("NVIDIA H200", "Tesla T4"): the one
            # row whose name holds every word of the model (brand words aside) is the model
            words = _gpu_words(wanted)
            hits = [f for f in rows if words and words <= _gpu_words(_norm(f.model))]
            if len(hits) == 1:
                return hits[0]
            default = next(f for f in rows if f.model == "default")
            why = (
                f"{model!r} matches {len(hits)} rows ({', '.join(f.model for f in hits)})"
                if hits
                else f"{model!r} is not in the table"
            )
            return replace(default, note=f"{why}: default GPU used")
        close = difflib.get_close_matches(wanted, [_norm(f.model) for f in rows], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SiteError(
            f"no embodied factor for {component} {model!r}{hint}; known: "
            + ", ".join(f.model for f in rows)
        )

    @functools.cached_property
    def _cpu_names(self) -> dict[str, str]:
        return {_norm_cpu(n): n for n in self.cpu_die_mm2}

    def _cpu(self, model: str) -> EmbodiedFactor:
        wanted = _norm_cpu(model)
        hit = self._cpu_names.get(
            wanted
        )  # exact only: near names are other CPUs (EPYC 7763 and 7713)
        default = self.find("cpu", "default")
        if hit is None:
            return replace(default, note=f"{model!r} is not in {CPU_DIE_FILE}: default CPU used")
        die, package = self.find("cpu", "die"), self.find("cpu", "package")
        area = self.cpu_die_mm2[hit]
        factor = EmbodiedFactor(
            component="cpu",
            model=hit,
            per="device",
            carbon_kg=package.carbon_kg + die.carbon_kg * area,
            adp_kg_sb=_sum_optional(package.adp_kg_sb, die.adp_kg_sb, area),
            source=f"{die.source}; die {area:g} mm2 from {CPU_DIE_FILE}",
            year=die.year,
            kind="modelled",
        )
        return _cpu_water(factor, area, f"{CPU_DIE_FILE}, from BoaviztAPI cpu_specs.csv", self)


# NVML names that differ from the Boavizta table's names of the same product.
_GPU_ALIASES = {"nvidia h100 80gb hbm3": "NVIDIA H100 SXM 80GB"}  # NVML's name of the SXM5 H100


def _sum_optional(base: float | None, per: float | None, n: float) -> float | None:
    return None if base is None or per is None else base + per * n


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


_BRAND_WORDS = {"nvidia", "tesla", "amd", "radeon", "instinct", "geforce"}


def _gpu_words(normalised: str) -> set[str]:
    return set(normalised.split()) - _BRAND_WORDS


def _norm_cpu(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|\bcpu\b|@.*$|\d+-core processor|processor", " ", text.lower())
    return _norm(text)


@functools.lru_cache(maxsize=4)
def table(directory: Path | None = None) -> FactorTable:
    """Return the shipped embodied factor table (read on first call, then cached)."""
    directory = Path(directory) if directory is not None else factors_dir()
    settings = _read_toml(directory / SETTINGS_FILE)
    factors = _read_factor_csv(directory / PUBLISHED_FILE) + _read_factor_csv(
        directory / BOAVIZTA_FILE
    )
    factors = [_with_wafer_water(f, settings, directory) for f in factors]
    cpu_path = directory / CPU_DIE_FILE
    try:
        with cpu_path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            dies = {
                row["name"]: _number(cpu_path, reader.line_num, "die_mm2", row["die_mm2"], False)
                for row in reader
            }
    except FileNotFoundError:
        raise SiteError(f"embodied factor file {cpu_path} not found; reinstall greenai") from None
    t = FactorTable(tuple(factors), dies, settings, directory)
    cpu = settings.get("wafer_water", {}).get("cpu")
    if cpu:  # the default CPU's die is known: its fab water too
        rows = tuple(
            _cpu_water(f, cpu["default_die_mm2"], cpu["default_die_source"], t)
            if f.component == "cpu" and f.model == "default"
            else f
            for f in factors
        )
        t = replace(t, factors=rows)
    return t


def _cpu_water(
    f: EmbodiedFactor, die_mm2: float, die_source: str, t: FactorTable
) -> EmbodiedFactor:
    water = t.settings.get("wafer_water", {})
    per_layer, cpu = water.get("litres_per_mask_layer"), water.get("cpu")
    if not per_layer or not cpu:
        return f
    litres = wafer_water_l(die_mm2, cpu["mask_layers"], per_layer["value"])
    source = (
        f"modelled, standards/factors/{SETTINGS_FILE} [wafer_water]: "
        f"{per_layer['value']:g} L per "
        f"wafer mask layer ({per_layer['source']}, {per_layer['year']}) x {cpu['mask_layers']} "
        f"mask layers ({cpu['mask_layers_source']}) x the wafer share of one good die of "
        f"{die_mm2:g} mm2 ({die_source})"
    )
    return replace(f, water_l=litres, water_source=source)


def _with_wafer_water(f: EmbodiedFactor, settings: Mapping[str, Any], d: Path) -> EmbodiedFactor:
    if f.component != "gpu":
        return f
    water = settings.get("wafer_water", {})
    per_layer = water.get("litres_per_mask_layer")
    for name, die in water.get("dies", {}).items():
        if per_layer and any(m.lower() in f.model.lower() for m in die["matches"]):
            litres = wafer_water_l(die["die_mm2"], die["mask_layers"], per_layer["value"])
            source = (
                f"modelled, standards/factors/{SETTINGS_FILE} [wafer_water]: "
                f"{per_layer['value']:g} L per "
                f"wafer mask layer ({per_layer['source']}, {per_layer['year']}) x "
                f"{die['mask_layers']} mask layers ({die['mask_layers_source']}) x the wafer "
                f"share of one good {name} die of {die['die_mm2']} mm2 ({die['die_source']})"
            )
            return replace(f, water_l=litres, water_source=source)
    return f


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Setting:
    """A site setting of the embodied model: value, source, year, kind (default/measured)."""

    value: Any
    source: str
    year: int | None = None
    kind: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """Return {value, source, year, kind}."""
        return {"value": self.value, "source": self.source, "year": self.year, "kind": self.kind}


@dataclass(frozen=True)
class Server:
    """The hardware of one server, as counted for embodied impacts.

    gpus is how many GPUs the server holds; dram_gb and ssd_tb are totals.
    """

    gpu: str | None = None
    gpus: int = 0
    cpu: str | None = None
    cpus: int = 0
    dram_gb: float = 0.0
    ssd_tb: float = 0.0
    hdds: int = 0
    psus: int = 0
    chassis: str = "rack chassis"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the inventory."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_SERVER_KINDS = {
    "gpu": "name",
    "cpu": "name",
    "chassis": "name",
    "gpus": "count",
    "cpus": "count",
    "hdds": "count",
    "psus": "count",
    "dram_gb": "amount",
    "ssd_tb": "amount",
}


@dataclass(frozen=True)
class Settings:
    """Service life, utilisation, whether reserved-but-idle time is charged, and the server."""

    service_life_years: Setting
    utilisation: Setting
    charge_reserved_idle: Setting
    server: dict[str, Any] = field(default_factory=dict)  # keys of Server given by the site
    server_source: str = ""
    server_share: Setting | None = None  # the operator's share of the server (a VM's part)

    @classmethod
    def default(cls) -> Settings:
        """Return the shipped defaults (standards/factors/embodied.toml), read once."""
        return _default_settings(cls)

    @classmethod
    def from_table(cls, data: Mapping[str, Any], origin: str) -> Settings:
        """Return the settings of an [embodied] table on top of the shipped defaults."""
        if not isinstance(data, Mapping):
            raise SiteError(f"{origin}: embodied must be a table ([embodied])")
        defaults = table().settings["defaults"]
        known = {
            "service_life_years",
            "utilisation",
            "charge_reserved_idle",
            "server",
            "server_share",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise SiteError(
                f"{origin}: [embodied]: unknown key(s) {unknown}; expected {sorted(known)}"
            )

        def setting(key: str, check: Any) -> Setting:
            if key not in data:
                base = defaults[key]
                return Setting(base["value"], base["source"], base.get("year"), "default")
            raw = data[key]
            value = raw.get("value") if isinstance(raw, Mapping) else raw
            problem = check(value)
            if problem:
                raise SiteError(f"{origin}: [embodied] {key} = {value!r}: {problem}")
            src = raw.get("source") if isinstance(raw, Mapping) else None
            year = raw.get("year") if isinstance(raw, Mapping) else None
            return Setting(value, src or f"operator-supplied ({origin})", year, "measured")

        if not isinstance(data.get("server", {}), Mapping):
            raise SiteError(f"{origin}: [embodied] server must be a table ([embodied.server])")
        server = dict(data.get("server", {}))
        source = str(server.pop("source", f"operator-supplied ({origin})")) if server else ""
        year = server.pop("year", None)
        source += f" ({year})" if year is not None else ""
        bad = sorted(set(server) - set(Server.__dataclass_fields__) - {"source"})
        if bad:
            raise SiteError(
                f"{origin}: [embodied.server]: unknown key(s) {bad}; expected "
                + ", ".join(k for k in Server.__dataclass_fields__ if k != "source")
            )
        for key, value in server.items():
            kind = _SERVER_KINDS[key]
            ok = (
                isinstance(value, str)
                if kind == "name"
                else _is_number(value) and value >= 0 and (kind == "amount" or value == int(value))
            )
            if not ok:
                want = {"name": "a model name", "count": "a whole number >= 0"}.get(
                    kind, "a number >= 0"
                )
                raise SiteError(f"{origin}: [embodied.server] {key} = {value!r}: must be {want}")
        return cls(
            service_life_years=setting("service_life_years", _positive),
            utilisation=setting(
                "utilisation",
                lambda v: None if _is_number(v) and 0 < v <= 1 else "must be in (0, 1]",
            ),
            charge_reserved_idle=setting(
                "charge_reserved_idle",
                lambda v: None if isinstance(v, bool) else "must be true or false",
            ),
            server=server,
            server_source=source,
            server_share=setting("server_share", _positive) if "server_share" in data else None,
        )

    @classmethod
    def resolve(cls, site: Any = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Return the settings for a run: the [embodied] table of the site file, else defaults.

        The table is that of `site` when it is a Site read from a file or a .toml path, else
        of GREENAI_EMBODIED, else of GREENAI_SITE when that is a .toml path.
        """
        env = os.environ if environ is None else environ
        carried = getattr(site, "embodied_table", None)  # a Site read from a site file
        if carried is not None:
            return cls.from_table(*carried)
        for spec in (site, env.get(ENV_SERVER), env.get("GREENAI_SITE")):
            if isinstance(spec, str | Path) and str(spec).endswith(".toml"):
                doc = _read_toml(Path(spec))
                body = doc.get("embodied", doc.get("site", {}).get("embodied", {}))
                return cls.from_table(body, str(spec))
        return cls.default()

    def to_dict(self) -> dict[str, Any]:
        """Return the settings with their sources (server_share only when the site gives it)."""
        out = {
            "service_life_years": self.service_life_years.to_dict(),
            "utilisation": self.utilisation.to_dict(),
            "charge_reserved_idle": self.charge_reserved_idle.to_dict(),
        }
        if self.server_share is not None:
            out["server_share_given"] = self.server_share.to_dict()
        return out


@functools.lru_cache(maxsize=2)
def _default_settings(cls: type[Settings]) -> Settings:
    return cls.from_table({}, "defaults")


def describe_settings(settings: Settings) -> str:
    """Return text lines listing the embodied settings with their values, kinds and sources."""
    lines = ["  embodied (hardware manufacture, allocated per run):"]
    named = [
        ("service life", settings.service_life_years, "years"),
        ("utilisation", settings.utilisation, ""),
        ("reserved idle charged", settings.charge_reserved_idle, ""),
    ]
    if settings.server_share is not None:
        named.append(("server share", settings.server_share, ""))
    for label, s, unit in named:
        year = "" if s.year is None else f", {s.year}"
        lines.append(f"    {label:<22} {s.value!s:>6} {unit}  [{s.kind}{year}]")
        lines.append(f"        source: {s.source}")
    if settings.server:
        given = ", ".join(f"{k} = {v!r}" for k, v in settings.server.items())
        lines.append(f"    server: {given}  ({settings.server_source})")
    else:
        lines.append("    server: the run's host inventory, the rest from the default archetype")
    return "\n".join(lines)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v: Any) -> str | None:
    return None if _is_number(v) and v > 0 else "must be a number > 0"


def server_for(host: Mapping[str, Any], settings: Settings) -> Server:
    """Return the server a run is charged for: the site's inventory over the host's.

    GPU model and count, CPU model and memory come from the run's host inventory unless the
    site file gives them; the rest from the default archetype of embodied.toml.
    """
    defaults = dict(table().settings["defaults"]["server"])
    default_source = f"{defaults.pop('source')} ({defaults.pop('year')})"
    listed = host.get("gpus")
    gpus = [g for g in listed if isinstance(g, Mapping)] if isinstance(listed, list) else []
    memory, name, cpu = (
        host.get("memory_bytes"),
        gpus[0].get("name") if gpus else None,
        host.get("cpu"),
    )
    found = {  # what a file says is read only when it has the right type
        "gpu": name if isinstance(name, str) else None,
        "gpus": len(gpus),
        "cpu": cpu if isinstance(cpu, str) and cpu else None,
        "dram_gb": units.bytes_to_gb(memory) if _is_number(memory) and memory > 0 else 0.0,
    }
    values = {**defaults, **found, **settings.server}
    sources = ["GPUs, CPU model and memory: the run's host inventory"]
    sources.append(f"CPU count, storage, power supplies, chassis: {default_source}")
    if settings.server:
        sources.insert(0, f"{', '.join(sorted(settings.server))}: {settings.server_source}")
    try:
        return Server(**values, source="; ".join(sources))
    except TypeError as exc:
        raise SiteError(f"embodied server inventory: {exc}") from None


# ---------------------------------------------------------------------------- result


@dataclass(frozen=True)
class ComponentShare:
    """One component's embodied impact and the share of it charged to the run."""

    component: str
    quantity: float  # in factor.per (devices, GB, TB)
    share: float  # of the quantity, before the time share
    factor: EmbodiedFactor
    carbon_g: float
    water_l: float | None
    adp_kg_sb: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the row of the disclosure's embodied.components list."""
        return {
            "component": self.component,
            "quantity": self.quantity,
            "share": self.share,
            "carbon_g": self.carbon_g,
            "water_l": self.water_l,
            "adp_kg_sb": self.adp_kg_sb,
            "factor": self.factor.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "component") -> ComponentShare:
        """Return the row that to_dict() wrote; DisclosureError naming `where` if not."""
        _expect(data, Mapping, where)
        _expect(data.get("component"), str, f"{where}.component")
        return cls(
            component=data["component"],
            quantity=_finite(data.get("quantity"), f"{where}.quantity"),
            share=_finite(data.get("share"), f"{where}.share"),
            factor=EmbodiedFactor.from_dict(data.get("factor"), f"{where}.factor"),
            carbon_g=_finite(data.get("carbon_g"), f"{where}.carbon_g"),
            water_l=_finite(data.get("water_l"), f"{where}.water_l", optional=True),
            adp_kg_sb=_finite(data.get("adp_kg_sb"), f"{where}.adp_kg_sb", optional=True),
        )


@dataclass(frozen=True)
class Embodied:
    """Embodied carbon (g CO2e), fab water (L) and abiotic depletion (kg Sb-eq) of a run.

    When computed is False the figures are None and reason says why. `totals` joins them
    with the operational footprint, `sci` gives the SCI score (both None without a
    footprint); the dict forms carry per-unit figures.
    """

    computed: bool
    reason: str | None = None
    carbon_g: float | None = None
    water_l: float | None = None
    adp_kg_sb: float | None = None
    components: tuple[ComponentShare, ...] = ()
    allocation: Mapping[str, Any] = field(default_factory=dict)
    server: Mapping[str, Any] = field(default_factory=dict)
    unit: str | None = None
    units_done: float | None = None
    totals: Mapping[str, Any] | None = None
    sci: Mapping[str, Any] | None = None
    lifecycle_rating: Mapping[str, Any] | None = None  # a standard's optional lifecycle indices

    def per(self, count: float) -> dict[str, float | None] | None:
        """Return embodied carbon, water, ADP per `count` functional units (None: no units)."""
        if not self.computed or not self.units_done:
            return None
        share = count / self.units_done
        return {
            "per": count,
            "carbon_g": self.carbon_g * share,
            "water_l": None if self.water_l is None else self.water_l * share,
            "adp_kg_sb": None if self.adp_kg_sb is None else self.adp_kg_sb * share,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the disclosure's embodied block."""
        return {
            "computed": self.computed,
            "reason": self.reason,
            "boundary": BOUNDARY,
            "water_scope": WATER_SCOPE,
            "carbon_g": self.carbon_g,
            "water_l": self.water_l,
            "adp_kg_sb": self.adp_kg_sb,
            "unit": self.unit,
            "units_done": self.units_done,
            "per_unit": self.per(1.0),
            "per_1000_units": self.per(1000.0),
            "allocation": dict(self.allocation),
            "server": dict(self.server),
            "components": [c.to_dict() for c in self.components],
            "totals": None if self.totals is None else dict(self.totals),
            "sci": None if self.sci is None else dict(self.sci),
            **(
                {}
                if self.lifecycle_rating is None
                else {"lifecycle_rating": dict(self.lifecycle_rating)}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "embodied block") -> Embodied:
        """Return the Embodied that to_dict() wrote; DisclosureError naming `where` if not."""
        _expect(data, Mapping, where)
        _expect(data.get("computed"), bool, f"{where}.computed")
        computed = data["computed"]
        _expect(data.get("reason"), (str, type(None)), f"{where}.reason")
        _expect(data.get("unit"), (str, type(None)), f"{where}.unit")
        _expect(data.get("components", []), list, f"{where}.components")
        for key in ("allocation", "server"):
            _expect(data.get(key, {}), Mapping, f"{where}.{key}")
        for key in ("totals", "sci", "lifecycle_rating"):
            _expect(data.get(key), (Mapping, type(None)), f"{where}.{key}")
        units_done = _finite(data.get("units_done"), f"{where}.units_done", optional=True)
        return cls(
            computed=computed,
            reason=data.get("reason"),
            carbon_g=_finite(data.get("carbon_g"), f"{where}.carbon_g", optional=not computed),
            water_l=_finite(data.get("water_l"), f"{where}.water_l", optional=True),
            adp_kg_sb=_finite(data.get("adp_kg_sb"), f"{where}.adp_kg_sb", optional=True),
            components=tuple(
                ComponentShare.from_dict(c, f"{where}.components[{i}]")
                for i, c in enumerate(data.get("components", []))
            ),
            allocation=dict(data.get("allocation", {})),
            server=dict(data.get("server", {})),
            unit=data.get("unit"),
            units_done=units_done,
            totals=data.get("totals"),
            sci=data.get("sci"),
            lifecycle_rating=data.get("lifecycle_rating"),
        )


def allocate(
    server: Server,
    settings: Settings,
    *,
    duration_s: float,
    gpus_used: int | None = None,
    reserved_idle_s: float = 0.0,
    units_done: float | None = None,
    unit: str | None = None,
    directory: Path | None = None,
) -> Embodied:
    """Return the embodied impacts charged to a run of duration_s on gpus_used GPUs.

    gpus_used None means all the server's GPUs. reserved_idle_s (time the run held the
    hardware without working) is charged when settings.charge_reserved_idle is true.
    """
    for name, value in (("duration_s", duration_s), ("reserved_idle_s", reserved_idle_s)):
        if not _is_number(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    t = table(directory)
    used = server.gpus if gpus_used is None else gpus_used
    # a run with no GPU holds the whole server (its GPUs too, if it has any)
    server_share = used / server.gpus if server.gpus > 0 and used > 0 else 1.0
    if settings.server_share is not None:  # the operator knows the run's part (a VM, a slice)
        server_share = float(settings.server_share.value)
    charge_idle = bool(settings.charge_reserved_idle.value)
    charged_s = duration_s + (reserved_idle_s if charge_idle else 0.0)
    life_s = units.years_to_s(settings.service_life_years.value)
    time_share = charged_s / (life_s * settings.utilisation.value)

    wanted = [
        ("gpu", server.gpu, server.gpus),
        ("cpu", server.cpu, server.cpus),
        ("dram", "default", server.dram_gb),
        ("ssd", "default", server.ssd_tb),
        ("hdd", "default", server.hdds),
        ("psu", "default", server.psus),
        ("server", server.chassis, 1),
    ]
    shares = []
    for component, model, quantity in wanted:
        if not quantity:
            continue
        f = t.find(component, model)
        n = quantity * server_share * time_share
        shares.append(
            ComponentShare(
                component=component,
                quantity=float(quantity),
                share=server_share,
                factor=f,
                carbon_g=f.carbon_kg * n * 1000.0,
                water_l=None if f.water_l is None else f.water_l * n,
                adp_kg_sb=None if f.adp_kg_sb is None else f.adp_kg_sb * n,
            )
        )
    waters = [c.water_l for c in shares if c.water_l is not None]
    adps = [c.adp_kg_sb for c in shares if c.adp_kg_sb is not None]
    return Embodied(
        computed=True,
        carbon_g=math.fsum(c.carbon_g for c in shares),
        water_l=math.fsum(waters) if waters else None,
        adp_kg_sb=math.fsum(adps) if adps else None,
        components=tuple(shares),
        allocation={
            "rule": "impact x devices used / devices in the server x charged time / "
            "(service life x utilisation); the server's own parts split per GPU",
            "gpus_used": used,
            "gpus_in_server": server.gpus,
            "server_share": server_share,
            "duration_s": duration_s,
            "reserved_idle_s": reserved_idle_s,
            "reserved_idle_charged": charge_idle,
            "charged_s": charged_s,
            "time_share": time_share,
            **settings.to_dict(),
        },
        server=server.to_dict(),
        unit=unit,
        units_done=units_done,
    )


def with_operational(e: Embodied, footprint: Any) -> Embodied:
    """Return e with totals (operational + embodied) and the SCI score from a footprint."""
    if not e.computed or footprint is None or not footprint.computed:
        return e
    op_carbon, op_water = footprint.carbon_g, footprint.water_l.total
    emb_water = e.water_l or 0.0
    totals: dict[str, Any] = {
        "carbon_g": {
            "operational": op_carbon,
            "embodied": e.carbon_g,
            "total": op_carbon + e.carbon_g,
        },
        "water_l": {"operational": op_water, "embodied": e.water_l, "total": op_water + emb_water},
        "water_note": "operational water is consumption (cooling + power generation); embodied "
        "water is foundry water (embodied.water_scope): summed as published, scopes differ",
    }
    n = e.units_done
    for key, count in (("per_unit", 1.0), ("per_1000_units", 1000.0)):
        totals[key] = (
            None
            if not n
            else {
                "per": count,
                "carbon_g": (op_carbon + e.carbon_g) * count / n,
                "water_l": (op_water + emb_water) * count / n,
            }
        )
    e_kwh = units.j_to_kwh(footprint.facility_energy_j)
    intensity = footprint.factors.get("carbon_intensity_g_per_kwh")
    sci = {
        "standard": "ISO/IEC 21031:2024 (Software Carbon Intensity)",
        "E_kwh": e_kwh,
        "E_note": "facility energy of the run (IT energy x PUE)",
        "I_g_per_kwh": intensity,
        "M_g": e.carbon_g,
        "R": n,
        "R_unit": e.unit,
        "sci_g_per_unit": None
        if not n or intensity is None
        else (e_kwh * intensity + e.carbon_g) / n,
    }
    return replace(e, totals=totals, sci=sci)


def server_for_gpus_used(host: Mapping[str, Any]) -> int:
    """Return how many GPUs a run's host inventory lists (those it metered)."""
    listed = host.get("gpus")
    return len([g for g in listed if isinstance(g, Mapping)]) if isinstance(listed, list) else 0


def for_measurement(m: Any, site: Any = None, footprint: Any = ...) -> Embodied:
    """Return the embodied block of a Measurement (its footprint joins it); never raises.

    ``footprint``: the operational footprint to join (default: m's). A site file that
    cannot be read, or hardware with no factor, gives a block marked not computed with the
    reason.
    """
    try:
        settings = Settings.resolve(site)
        server = server_for(m.host or {}, settings)
        idle_s = m.idle.duration_s if m.idle is not None else 0.0
        e = allocate(
            server,
            settings,
            duration_s=m.duration_s,
            gpus_used=server_for_gpus_used(m.host or {}),
            reserved_idle_s=idle_s,
            units_done=m.units_done or None,
            unit=m.unit,
        )
    except (SiteError, ValueError, OSError) as exc:
        return Embodied(computed=False, reason=str(exc))
    return with_operational(e, m.footprint if footprint is ... else footprint)


def lifecycle_rating(e: Embodied, rating: Any, std: Any) -> dict[str, Any] | None:
    """Return the lifecycle indices `std` declares for a run rated `rating`, None if none.

    index = (operational + embodied) per counted unit / the task's lifecycle reference;
    graded on the task's bands (water bands for water) only when the run's energy (water)
    rating is conformant, so the same measurement requirements hold.
    """
    if not std.lifecycle or rating is None or not e.computed:
        return None
    task = std.tasks.get(rating.task) if rating.task else None
    refs = dict(task.lifecycle) if task is not None else {}
    per_unit = (e.totals or {}).get("per_unit")
    out: dict[str, Any] = {
        "standard": std.id,
        "functional_unit": rating.functional_unit,
        "description": std.lifecycle_description,
    }
    for kind in std.lifecycle:
        base = rating.energy if kind == "carbon" else rating.water
        key, unit = ("carbon_g", "g CO2e") if kind == "carbon" else ("water_l", "L")
        ref = refs.get(kind)
        reasons = list(base.reasons)
        if task is None:
            reasons.append("the run's task is not a task class of the standard")
        elif ref is None:
            reasons.append(f"task class {task.id!r} has no {kind} lifecycle reference")
        if per_unit is None:
            reasons.append("no units counted, or no operational footprint")
        index = grade = None
        if ref is not None and per_unit is not None:
            index = per_unit[key] / ref.per_unit
            if not reasons:
                grade = (task.bands if kind == "carbon" else task.water_bands).grade(index)
        out[kind] = {
            "index": index,
            "grade": grade,
            "conformant": not reasons,
            "reasons": reasons,
            "unit": unit,
            "measured": None if per_unit is None else per_unit[key] * task.per if task else None,
            "reference": None if ref is None else ref.per_unit * task.per,
            "reference_source": None if ref is None else ref.source,
        }
    return out


def assess(
    m: Any,
    site: Any = None,
    standard: Any = None,
    footprint: Any = ...,
    rating: Any = ...,
    stacklevel: int = 3,
    std: Any = None,
) -> Embodied:
    """Return the embodied block of Measurement m, joined to its footprint and rating.

    ``footprint``, ``rating``: the ones just computed for m (default: m's own). The
    lifecycle indices are those of `standard` (None: the standard m was rated under) when
    that standard declares them; ``std``: that standard already loaded (the one the rating
    was just computed under). Never raises: a block not computed is warned about.
    """
    rating = m.rating if rating is ... else rating
    e = for_measurement(m, site, footprint)
    if not e.computed:
        import warnings

        from greenai.errors import GreenAIWarning

        warnings.warn(
            f"greenai: embodied not computed: {e.reason}", GreenAIWarning, stacklevel=stacklevel
        )
    elif rating is not None:
        from greenai.errors import StandardError
        from greenai.standard import load_standard

        try:
            if std is None:
                std = load_standard(standard if standard is not None else rating.standard_id)
        except StandardError:
            std = None  # the rating names a standard not installed here: no lifecycle indices
        if std is not None and std.id == rating.standard_id:
            e = replace(e, lifecycle_rating=lifecycle_rating(e, rating, std))
    return e


def attach(m: Any, site: Any = None, standard: Any = None) -> Any:
    """Return Measurement m with its embodied block (computed from its host and footprint)."""
    return replace(m, embodied=assess(m, site, standard, stacklevel=4))


def account(path: str | os.PathLike[str]) -> Embodied:
    """Return the embodied impacts of an accounted (not metered) run described in a TOML file.

    [run] gives gpus_used and either gpu_hours or duration_hours (and optionally
    reserved_idle_hours, units_done, unit); [embodied] gives the settings and the
    [embodied.server] inventory, as in a site file. examples/bloom_embodied.toml is one.
    """
    path = Path(path)
    doc = _read_toml(path)
    run = doc.get("run")
    if not isinstance(run, Mapping):
        raise SiteError(f"{path}: needs a [run] table (gpus_used, gpu_hours or duration_hours)")
    known = {
        "gpus_used",
        "gpu_hours",
        "duration_hours",
        "reserved_idle_hours",
        "units_done",
        "unit",
    }
    unknown = sorted(set(run) - known - {"description", "source"})
    if unknown:
        raise SiteError(f"{path}: [run]: unknown key(s) {unknown}; expected {sorted(known)}")
    gpus = run.get("gpus_used")
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0:
        raise SiteError(f"{path}: [run] gpus_used = {gpus!r}: must be an integer >= 0")
    if ("gpu_hours" in run) == ("duration_hours" in run):
        raise SiteError(f"{path}: [run] needs exactly one of gpu_hours, duration_hours")
    for key in ("gpu_hours", "duration_hours", "reserved_idle_hours", "units_done"):
        if key in run and _positive(run[key]) and run[key] != 0:
            raise SiteError(f"{path}: [run] {key} = {run[key]!r}: must be a number >= 0")
    if "gpu_hours" in run:
        if not gpus:
            raise SiteError(f"{path}: [run] gpu_hours needs gpus_used > 0")
        duration_h = run["gpu_hours"] / gpus
    else:
        duration_h = run["duration_hours"]
    settings = Settings.from_table(doc.get("embodied", {}), str(path))
    server = Server(**settings.server, source=settings.server_source or str(path))
    return allocate(
        server,
        settings,
        duration_s=units.hours_to_s(duration_h),
        gpus_used=gpus,
        reserved_idle_s=units.hours_to_s(run.get("reserved_idle_hours", 0.0)),
        units_done=run.get("units_done"),
        unit=run.get("unit"),
    )
