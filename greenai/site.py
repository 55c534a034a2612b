"""Site profiles: PUE, on-site WUE and grid region, every factor with its source.

    site = Site.from_preset("hyperscale").with_overrides(grid="FR")
    site = Site(pue=1.1, wue_l_per_kwh=0.3, grid="FR")  # numbers you give count as measured
    print(site.describe())

Grid factors (carbon intensity, EWIF) are read from the tables in standards/factors/,
which standards/factors/build_factors.py derives from codecarbon's shipped data. Reading
them needs only the standard library.
"""

from __future__ import annotations

import csv
import difflib
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser under another name
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

from greenai import textfile
from greenai._resources import factors_dir as _shipped_factors_dir
from greenai.errors import SiteError

Kind = Literal["measured", "dataset", "default"]
KINDS: tuple[str, ...] = ("measured", "dataset", "default")
HYDRO_EVAPORATION_CHOICES: tuple[str, ...] = ("included", "excluded")
DEFAULT_HYDRO_EVAPORATION = "included"
DEFAULT_PRESET = "industry-average"
WORLD = "WORLD"

ENV_SITE = "GREENAI_SITE"
ENV_GRID = "GREENAI_GRID"
ENV_PUE = "GREENAI_PUE"
ENV_WUE = "GREENAI_WUE"
ENV_HYDRO_EVAPORATION = "GREENAI_HYDRO_EVAPORATION"

GRID_CARBON_FILE = "grid_carbon.csv"
GRID_WATER_FILE = "grid_water.csv"
SITES_FILE = "sites.toml"
GRID_CARBON_COLUMNS = (
    "region",
    "alpha3",
    "name",
    "level",
    "carbon_intensity_g_per_kwh",
    "year",
    "source",
)
GRID_WATER_COLUMNS = (
    "region",
    "name",
    "level",
    "year",
    "ewif_hydro_included_l_per_kwh",
    "ewif_hydro_excluded_l_per_kwh",
    "withdrawal_hydro_included_l_per_kwh",
    "withdrawal_hydro_excluded_l_per_kwh",
    "source",
)
_REGENERATE = (
    "the file is generated: rerun `python standards/factors/build_factors.py`, "
    "or reinstall greenai to restore it"
)


@dataclass(frozen=True)
class _Rule:
    label: str
    unit: str
    minimum: float
    why: str
    maximum: float = math.inf
    why_max: str = ""


# The factors a site carries, in display order, with their units and lower bounds.
_RULES: dict[str, _Rule] = {
    "pue": _Rule(
        "PUE",
        "ratio (facility energy / IT energy)",
        1.0,
        "PUE is facility energy / IT energy, so it cannot be below 1.0",
        5.0,
        "no operating data centre reports a PUE above 5 (the worst surveyed are near 2.5)",
    ),
    "wue_l_per_kwh": _Rule(
        "WUE",
        "L/kWh of IT energy (on-site consumption)",
        0.0,
        "WUE is litres of water per kWh and cannot be negative",
        100.0,
        "a WUE above 100 L/kWh is beyond any evaporative cooling (reported WUEs are 0-10)",
    ),
    "carbon_intensity_g_per_kwh": _Rule(
        "carbon intensity",
        "gCO2e/kWh of electricity",
        0.0,
        "grid carbon intensity cannot be negative",
        2000.0,
        "no grid emits more than 2000 gCO2e/kWh (lignite plants are near 1100-1200)",
    ),
    "ewif_l_per_kwh": _Rule(
        "EWIF",
        "L/kWh of electricity (consumption)",
        0.0,
        "electricity water intensity cannot be negative",
        100.0,
        "no grid's water intensity is above 100 L/kWh (hydro-heavy grids are near 17)",
    ),
    "ewif_withdrawal_l_per_kwh": _Rule(
        "EWIF withdrawal",
        "L/kWh of electricity (withdrawal)",
        0.0,
        "electricity water intensity cannot be negative",
        100.0,
        "no grid's water intensity is above 100 L/kWh (hydro-heavy grids are near 17)",
    ),
}


@dataclass(frozen=True)
class Factor:
    """One site or grid factor: value and unit, where it came from, and how it was obtained.

    kind is "measured" (the operator's own figure), "dataset" (looked up in a shipped
    table) or "default" (a published figure standing in for an unmeasured site).
    """

    value: float
    unit: str
    source: str
    year: int | None = None
    kind: Kind = "default"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SiteError(f"factor kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not _is_number(self.value) or not math.isfinite(self.value):
            raise SiteError(f"factor value {self.value!r} ({self.source}) is not a finite number")
        if self.year is not None and (type(self.year) is not int):
            raise SiteError(f"factor year {self.year!r} ({self.source}) is not an integer")

    def to_dict(self) -> dict[str, Any]:
        """Return {value, unit, source, year, kind} for the disclosure's site block."""
        return {
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "year": self.year,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "factor") -> Factor:
        """Return the Factor that to_dict() wrote; SiteError naming `where` if malformed."""
        if not isinstance(data, Mapping):
            raise SiteError(f"{where}: expected a table with value, unit, source, year, kind")
        missing = [k for k in ("value", "unit", "source", "kind") if k not in data]
        if missing:
            raise SiteError(f"{where}: missing {', '.join(missing)}")
        return cls(
            value=data["value"],
            unit=data["unit"],
            source=data["source"],
            year=data.get("year"),
            kind=data["kind"],
        )


@dataclass(frozen=True)
class GridFactors:
    """The shipped factors of one grid region (all kind "dataset")."""

    region: str
    name: str
    level: str  # "world" | "country" | "subnational"
    hydro_evaporation: str
    carbon_intensity_g_per_kwh: Factor
    ewif_l_per_kwh: Factor
    ewif_withdrawal_l_per_kwh: Factor | None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _resolve_dir(factors_dir: Path | str | None) -> Path:
    return Path(factors_dir) if factors_dir is not None else _shipped_factors_dir()


def _read_table(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Return (line number, row) pairs of a factor CSV after checking its header."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise SiteError(
                    f"factor file {path} is missing column(s) {', '.join(map(repr, missing))} "
                    f"(it has {', '.join(header) or 'no header'}); {_REGENERATE}"
                )
            return [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise SiteError(f"factor file {path} not found; {_REGENERATE}") from None


def _cell_number(path: Path, line: int, column: str, text: str | None) -> float:
    try:
        value = float(text or "")
    except ValueError:
        raise SiteError(
            f"factor file {path}, line {line}, column {column!r}: {text!r} is not a number; "
            f"{_REGENERATE}"
        ) from None
    if not math.isfinite(value):
        raise SiteError(f"factor file {path}, line {line}, column {column!r}: {text!r}")
    return value


def _cell_year(path: Path, line: int, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SiteError(
            f"factor file {path}, line {line}, column 'year': {text!r} is not a year"
        ) from None


@dataclass(frozen=True)
class _GridTable:
    carbon_path: Path
    water_path: Path
    carbon: dict[str, tuple[int, dict[str, str]]]
    water: dict[str, tuple[int, dict[str, str]]]
    aliases: dict[str, str]  # upper-case alpha-3 (and region) -> region


@functools.lru_cache(maxsize=8)
def _grid_table(directory: Path) -> _GridTable:
    carbon_path = directory / GRID_CARBON_FILE
    water_path = directory / GRID_WATER_FILE
    carbon_rows = _read_table(carbon_path, GRID_CARBON_COLUMNS)
    water_rows = _read_table(water_path, GRID_WATER_COLUMNS)
    carbon = {row["region"]: (line, row) for line, row in carbon_rows}
    water = {row["region"]: (line, row) for line, row in water_rows}
    aliases = {region.upper(): region for region in carbon}
    for region, (_, row) in carbon.items():
        if row["alpha3"]:
            aliases[row["alpha3"].upper()] = region
    return _GridTable(carbon_path, water_path, carbon, water, aliases)


def list_regions(factors_dir: Path | str | None = None) -> list[str]:
    """Return every grid region code in the shipped tables (WORLD, countries, sub-national)."""
    return list(_grid_table(_resolve_dir(factors_dir)).carbon)


def _hydro_choice(value: str | None, origin: str) -> str:
    choice = DEFAULT_HYDRO_EVAPORATION if value is None else str(value).strip().lower()
    if choice not in HYDRO_EVAPORATION_CHOICES:
        raise SiteError(
            f"hydro_evaporation {value!r} (from {origin}) is not one of "
            f"{', '.join(HYDRO_EVAPORATION_CHOICES)}: choose whether hydro reservoir "
            "evaporation counts as water consumed by electricity generation"
        )
    return choice


def lookup_grid(
    region: str,
    hydro_evaporation: str = DEFAULT_HYDRO_EVAPORATION,
    factors_dir: Path | str | None = None,
    *,
    origin: str = "grid",
) -> GridFactors:
    """Return the shipped carbon intensity and EWIF of a region (alpha-2, alpha-3, ISO 3166-2)."""
    table = _grid_table(_resolve_dir(factors_dir))
    hydro = _hydro_choice(hydro_evaporation, origin)
    code = str(region).strip().upper()
    canonical = table.aliases.get(code)
    if canonical is None:
        close = difflib.get_close_matches(code, list(table.aliases), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise SiteError(
            f"unknown grid region {region!r} (from {origin}): it is not in {table.carbon_path}. "
            "Use an ISO 3166-1 country code, alpha-2 or alpha-3 ('FR' or 'FRA'), an ISO 3166-2 "
            "code where sub-national data exists ('US-CA', 'CN-BJ', 'CA-QC'), or 'WORLD'; "
            f"greenai.site.list_regions() lists all {len(table.carbon)}.{hint}"
        )
    carbon_line, carbon_row = table.carbon[canonical]
    if canonical not in table.water:
        raise SiteError(
            f"grid region {canonical!r} is in {table.carbon_path} but not in {table.water_path}; "
            f"{_REGENERATE}"
        )
    water_line, water_row = table.water[canonical]
    carbon = Factor(
        value=_cell_number(
            table.carbon_path,
            carbon_line,
            "carbon_intensity_g_per_kwh",
            carbon_row["carbon_intensity_g_per_kwh"],
        ),
        unit=_RULES["carbon_intensity_g_per_kwh"].unit,
        source=carbon_row["source"],
        year=_cell_year(table.carbon_path, carbon_line, carbon_row["year"]),
        kind="dataset",
    )
    ewif_column = f"ewif_hydro_{hydro}_l_per_kwh"
    water_year = _cell_year(table.water_path, water_line, water_row["year"])
    ewif = Factor(
        value=_cell_number(table.water_path, water_line, ewif_column, water_row[ewif_column]),
        unit=_RULES["ewif_l_per_kwh"].unit,
        source=f"{water_row['source']}; hydro reservoir evaporation {hydro}",
        year=water_year,
        kind="dataset",
    )
    withdrawal = None
    withdrawal_column = f"withdrawal_hydro_{hydro}_l_per_kwh"
    if water_row[withdrawal_column]:
        withdrawal = Factor(
            value=_cell_number(
                table.water_path, water_line, withdrawal_column, water_row[withdrawal_column]
            ),
            unit=_RULES["ewif_withdrawal_l_per_kwh"].unit,
            source=f"{water_row['source']}; withdrawal factors from water_per_fuel.csv, "
            f"hydro reservoir evaporation {hydro} (as in consumption)",
            year=water_year,
            kind="dataset",
        )
    return GridFactors(
        region=canonical,
        name=carbon_row["name"],
        level=carbon_row["level"],
        hydro_evaporation=hydro,
        carbon_intensity_g_per_kwh=carbon,
        ewif_l_per_kwh=ewif,
        ewif_withdrawal_l_per_kwh=withdrawal,
    )


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    if tomllib is None:
        raise SiteError(f"reading {what} {path} on Python 3.10 needs the 'tomli' package")
    try:
        return tomllib.loads(textfile.read_text(path))
    except FileNotFoundError:
        raise SiteError(f"{what} {path} not found") from None
    except OSError as exc:
        raise SiteError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SiteError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise SiteError(f"{what} {path} is nested too deeply to be a site file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"{what} {path} is not valid TOML: {exc}") from None


@functools.lru_cache(maxsize=8)
def _presets(directory: Path) -> dict[str, dict[str, Any]]:
    path = directory / SITES_FILE
    presets = _read_toml(path, "site preset file").get("presets")
    if not isinstance(presets, dict) or not presets:
        raise SiteError(f"site preset file {path} has no [presets.NAME] tables")
    for name, preset in presets.items():
        for key in ("description", "pue", "wue_l_per_kwh"):
            if key not in preset:
                raise SiteError(f"site preset file {path}: preset {name!r} has no {key!r}")
        for key in ("pue", "wue_l_per_kwh"):
            for part in ("value", "source", "year"):
                if part not in preset[key]:
                    raise SiteError(
                        f"site preset file {path}: [presets.{name}.{key}] has no {part!r}; "
                        "every preset figure needs its value, source and year"
                    )
    return presets


def list_presets(factors_dir: Path | str | None = None) -> list[str]:
    """Return the names of the shipped site presets, in file order."""
    return list(_presets(_resolve_dir(factors_dir)))


def _preset(name: str, directory: Path) -> dict[str, Any]:
    presets = _presets(directory)
    if name not in presets:
        raise SiteError(
            f"unknown site preset {name!r}: {directory / SITES_FILE} has "
            f"{', '.join(presets)}; or give a path to a site .toml file"
        )
    return presets[name]


def _preset_factor(name: str, key: str, directory: Path) -> Factor:
    spec = _preset(name, directory)[key]
    return _as_factor(
        key,
        Factor(
            value=spec["value"],
            unit=_RULES[key].unit,
            source=spec["source"],
            year=spec["year"],
            kind="default",
        ),
        f"{directory / SITES_FILE} [presets.{name}]",
    )


def _as_factor(key: str, value: Factor | float | None, origin: str) -> Factor | None:
    """Return value as a checked Factor; plain numbers become operator-measured factors."""
    if value is None:
        return None
    rule = _RULES[key]
    if isinstance(value, Factor):
        factor = value
    elif _is_number(value) and not math.isfinite(value):
        raise SiteError(
            f"{rule.label} {value!r} (field {key!r}, from {origin}) is not a finite number; "
            f"give it in {rule.unit}"
        )
    elif _is_number(value):
        factor = Factor(
            value=float(value),
            unit=rule.unit,
            source=f"operator-supplied ({origin})",
            kind="measured",
        )
    else:
        raise SiteError(
            f"{rule.label} {value!r} (field {key!r}, from {origin}) is not a number; "
            f"give it in {rule.unit}"
        )
    if factor.value < rule.minimum:
        raise SiteError(
            f"{rule.label} {factor.value!r} (field {key!r}, from {origin}) is out of range: "
            f"{rule.why}. Give the measured annual value in {rule.unit}, or leave it out to "
            "use a preset's."
        )
    if factor.value > rule.maximum:
        raise SiteError(
            f"{rule.label} {factor.value!r} (field {key!r}, from {origin}) is out of range: "
            f"{rule.why_max}; the bound is {rule.maximum:g} {rule.unit.split(' (')[0]}. "
            "Check the unit, or leave it out to use a preset's."
        )
    return factor


_FACTOR_TABLE_KEYS = ("value", "source", "year", "kind")
_SITE_FILE_KEYS = (
    "name",
    "description",
    "preset",
    "grid",
    "hydro_evaporation",
    "embodied",  # read by greenai.embodied: service life, utilisation, server inventory
    *_RULES,
)


def _factor_from_toml(key: str, raw: Any, origin: str) -> Factor | float | None:
    """Return a number, or a Factor for a {value, source, year, kind} table in a site file."""
    if not isinstance(raw, Mapping):
        return raw
    unknown = [k for k in raw if k not in _FACTOR_TABLE_KEYS]
    if unknown or "value" not in raw:
        raise SiteError(
            f"{origin}: [{key}] needs 'value' and may have {', '.join(_FACTOR_TABLE_KEYS[1:])}"
            + (f"; unknown key(s) {', '.join(unknown)}" if unknown else "")
        )
    if not _is_number(raw["value"]):
        raise SiteError(f"{origin}: {key}.value {raw['value']!r} is not a number")
    try:
        return Factor(
            value=float(raw["value"]),
            unit=_RULES[key].unit,
            source=str(raw.get("source", f"operator-supplied ({origin})")),
            year=raw.get("year"),
            kind=raw.get("kind", "measured"),
        )
    except SiteError as exc:
        raise SiteError(f"{origin}: [{key}]: {exc}") from None


def _env_number(environ: Mapping[str, str], variable: str) -> float | None:
    text = environ.get(variable, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise SiteError(f"environment variable {variable}={text!r} is not a number") from None


def _format_value(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, init=False)
class Site:
    """Where a run happened: facility PUE and WUE, and the grid that powered it.

    Build one with keywords; plain numbers count as the operator's measurements, grid
    factors are looked up in the shipped tables, and whatever is left out comes from
    the industry-average preset (kind "default"):

        Site(pue=1.1, wue_l_per_kwh=0.3, grid="FR")

    Each factor is a Factor; ewif_withdrawal_l_per_kwh is None where no withdrawal
    factor is known. Factors given as Factor objects are used as they are.
    """

    name: str
    description: str
    pue: Factor
    wue_l_per_kwh: Factor
    grid: str
    grid_name: str
    hydro_evaporation: str
    carbon_intensity_g_per_kwh: Factor
    ewif_l_per_kwh: Factor
    ewif_withdrawal_l_per_kwh: Factor | None

    def __init__(
        self,
        *,
        name: str = "custom",
        description: str = "",
        pue: Factor | float | None = None,
        wue_l_per_kwh: Factor | float | None = None,
        grid: str | None = None,
        grid_name: str | None = None,
        hydro_evaporation: str | None = None,
        carbon_intensity_g_per_kwh: Factor | float | None = None,
        ewif_l_per_kwh: Factor | float | None = None,
        ewif_withdrawal_l_per_kwh: Factor | float | None = None,
        factors_dir: Path | str | None = None,
        origin: str = "Site() arguments",
    ) -> None:
        directory = _resolve_dir(factors_dir)
        hydro = _hydro_choice(hydro_evaporation, origin)
        pue_factor = _as_factor("pue", pue, origin) or _preset_factor(
            DEFAULT_PRESET, "pue", directory
        )
        wue_factor = _as_factor("wue_l_per_kwh", wue_l_per_kwh, origin) or _preset_factor(
            DEFAULT_PRESET, "wue_l_per_kwh", directory
        )
        carbon = _as_factor("carbon_intensity_g_per_kwh", carbon_intensity_g_per_kwh, origin)
        ewif = _as_factor("ewif_l_per_kwh", ewif_l_per_kwh, origin)
        withdrawal = _as_factor("ewif_withdrawal_l_per_kwh", ewif_withdrawal_l_per_kwh, origin)
        region = WORLD if grid is None else str(grid).strip().upper()
        if carbon is None or ewif is None:
            found = lookup_grid(region, hydro, directory, origin=origin)
            region = found.region
            grid_name = grid_name or found.name
            if ewif is None:
                ewif = found.ewif_l_per_kwh
                # a withdrawal factor only goes with the EWIF of the same generation mix
                withdrawal = withdrawal or found.ewif_withdrawal_l_per_kwh
            carbon = carbon or found.carbon_intensity_g_per_kwh
        values = {
            "name": str(name),
            "description": str(description),
            "pue": pue_factor,
            "wue_l_per_kwh": wue_factor,
            "grid": region,
            "grid_name": grid_name or region,
            "hydro_evaporation": hydro,
            "carbon_intensity_g_per_kwh": carbon,
            "ewif_l_per_kwh": ewif,
            "ewif_withdrawal_l_per_kwh": withdrawal,
        }
        for attribute, value in values.items():
            object.__setattr__(self, attribute, value)
        # not a field: where a later with_overrides(grid=...) looks factors up
        object.__setattr__(self, "_factors_dir", directory)

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def default(cls, factors_dir: Path | str | None = None) -> Site:
        """Return the industry-average preset on the world-average grid."""
        return cls.from_preset(DEFAULT_PRESET, factors_dir=factors_dir)

    @classmethod
    def from_preset(cls, name: str, *, factors_dir: Path | str | None = None) -> Site:
        """Return a shipped preset (see list_presets()); its factors are kind "default"."""
        directory = _resolve_dir(factors_dir)
        spec = _preset(name, directory)
        return cls(
            name=name,
            description=spec["description"],
            pue=_preset_factor(name, "pue", directory),
            wue_l_per_kwh=_preset_factor(name, "wue_l_per_kwh", directory),
            grid=spec.get("grid", WORLD),
            factors_dir=directory,
            origin=f"{directory / SITES_FILE} [presets.{name}]",
        )

    @classmethod
    def from_toml(cls, path: Path | str, *, factors_dir: Path | str | None = None) -> Site:
        """Return the site described by a TOML file (keys at top level or under [site]).

        Keys: name, description, preset (a base preset), grid, hydro_evaporation, pue,
        wue_l_per_kwh, carbon_intensity_g_per_kwh, ewif_l_per_kwh,
        ewif_withdrawal_l_per_kwh. A factor is a number (the operator's measurement) or
        a table {value, source, year, kind}. Values in the file win over the preset's.
        """
        path = Path(path)
        origin = str(path)
        document = _read_toml(path, "site file")
        table = document["site"] if isinstance(document.get("site"), dict) else document
        unknown = [key for key in table if key not in _SITE_FILE_KEYS]
        if unknown:
            raise SiteError(
                f"site file {path}: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"expected {', '.join(_SITE_FILE_KEYS)}"
            )
        factors = {key: _factor_from_toml(key, table.get(key), origin) for key in _RULES}
        preset = table.get("preset")
        if preset is None:
            site = cls(
                name=table.get("name", path.stem),
                description=table.get("description", ""),
                grid=table.get("grid"),
                hydro_evaporation=table.get("hydro_evaporation"),
                factors_dir=factors_dir,
                origin=origin,
                **factors,
            )
        else:
            base = cls.from_preset(str(preset), factors_dir=factors_dir)
            site = base.with_overrides(
                name=table.get("name", base.name),
                description=table.get("description"),
                grid=table.get("grid"),
                hydro_evaporation=table.get("hydro_evaporation"),
                origin=origin,
                **factors,
            )
        if "embodied" in table:  # kept for greenai.embodied (not a field: not in the site block)
            object.__setattr__(site, "_embodied", (table["embodied"], origin))
        return site

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        base: Site | None = None,
        factors_dir: Path | str | None = None,
    ) -> Site:
        """Return the site the environment describes, on top of `base` (else the default).

        GREENAI_SITE names a preset or a site .toml file (used when no base is given);
        GREENAI_GRID, GREENAI_PUE, GREENAI_WUE and GREENAI_HYDRO_EVAPORATION override it.
        """
        env = os.environ if environ is None else environ
        if base is None:
            spec = env.get(ENV_SITE, "").strip()
            base = (
                cls._from_spec(spec, factors_dir, f"environment variable {ENV_SITE}")
                if spec
                else cls.default(factors_dir)
            )
        site = base
        overrides = (
            (ENV_PUE, {"pue": _env_number(env, ENV_PUE)}),
            (ENV_WUE, {"wue_l_per_kwh": _env_number(env, ENV_WUE)}),
            (ENV_GRID, {"grid": env.get(ENV_GRID, "").strip() or None}),
            (ENV_HYDRO_EVAPORATION, {"hydro_evaporation": env.get(ENV_HYDRO_EVAPORATION) or None}),
        )
        for variable, change in overrides:
            if any(value is not None for value in change.values()):
                site = site.with_overrides(origin=f"environment variable {variable}", **change)
        return site

    @classmethod
    def resolve(
        cls,
        site: Site | str | Path | None = None,
        *,
        grid: str | None = None,
        pue: float | None = None,
        wue_l_per_kwh: float | None = None,
        hydro_evaporation: str | None = None,
        environ: Mapping[str, str] | None = None,
        factors_dir: Path | str | None = None,
    ) -> Site:
        """Return the site for a run: explicit arguments > environment > site/preset > default.

        `site` is a Site (used as is, the environment is not read), a preset name, a path
        to a site .toml file, or None (GREENAI_SITE, else the default). The CLI passes its
        --site/--grid/--pue/--wue flags here.
        """
        if isinstance(site, Site):
            resolved = site
        else:
            base = (
                cls._from_spec(str(site), factors_dir, "the site argument")
                if site is not None
                else None
            )
            resolved = cls.from_env(environ, base=base, factors_dir=factors_dir)
        return resolved.with_overrides(
            grid=grid,
            pue=pue,
            wue_l_per_kwh=wue_l_per_kwh,
            hydro_evaporation=hydro_evaporation,
            origin="command-line or argument",
        )

    @classmethod
    def _from_spec(cls, spec: str, factors_dir: Path | str | None, origin: str) -> Site:
        if spec.endswith(".toml") or Path(spec).is_file():
            return cls.from_toml(spec, factors_dir=factors_dir)
        try:
            return cls.from_preset(spec, factors_dir=factors_dir)
        except SiteError as exc:
            raise SiteError(f"{exc} (from {origin})") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "site block") -> Site:
        """Return the Site that to_dict() wrote, without looking anything up again."""
        if not isinstance(data, Mapping):
            raise SiteError(f"{where}: expected a table")
        missing = [k for k in ("name", "grid", "hydro_evaporation", "factors") if k not in data]
        if missing:
            raise SiteError(f"{where}: missing {', '.join(missing)}")
        factors = data["factors"]
        required = [k for k in _RULES if k != "ewif_withdrawal_l_per_kwh"]
        absent = [k for k in required if not factors.get(k)]
        if absent:
            raise SiteError(f"{where}: factors has no {', '.join(absent)}")
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            grid=data["grid"],
            grid_name=data.get("grid_name"),
            hydro_evaporation=data["hydro_evaporation"],
            origin=where,
            **{
                key: Factor.from_dict(factors[key], f"{where}: factors.{key}")
                if factors.get(key)
                else None
                for key in _RULES
            },
        )

    # -- derived sites ------------------------------------------------------------------

    def with_overrides(
        self,
        *,
        pue: Factor | float | None = None,
        wue_l_per_kwh: Factor | float | None = None,
        grid: str | None = None,
        carbon_intensity_g_per_kwh: Factor | float | None = None,
        ewif_l_per_kwh: Factor | float | None = None,
        ewif_withdrawal_l_per_kwh: Factor | float | None = None,
        hydro_evaporation: str | None = None,
        name: str | None = None,
        description: str | None = None,
        origin: str = "with_overrides()",
    ) -> Site:
        """Return a copy with the given values; None keeps the current one.

        A number given here is the operator's measurement and wins over a preset's figure.
        A new grid (or hydro choice) looks the dataset factors up again; factors the
        operator supplied are kept.
        """
        regrid = grid is not None or hydro_evaporation is not None

        def keep(factor: Factor | None) -> Factor | None:
            return None if regrid and factor is not None and factor.kind == "dataset" else factor

        if ewif_l_per_kwh is not None:
            withdrawal = ewif_withdrawal_l_per_kwh
        else:
            withdrawal = (
                ewif_withdrawal_l_per_kwh
                if ewif_withdrawal_l_per_kwh is not None
                else keep(self.ewif_withdrawal_l_per_kwh)
            )
        site = Site(
            name=self.name if name is None else name,
            description=self.description if description is None else description,
            pue=self.pue if pue is None else pue,
            wue_l_per_kwh=self.wue_l_per_kwh if wue_l_per_kwh is None else wue_l_per_kwh,
            grid=self.grid if grid is None else grid,
            grid_name=None if regrid else self.grid_name,
            hydro_evaporation=(
                self.hydro_evaporation if hydro_evaporation is None else hydro_evaporation
            ),
            carbon_intensity_g_per_kwh=(
                keep(self.carbon_intensity_g_per_kwh)
                if carbon_intensity_g_per_kwh is None
                else carbon_intensity_g_per_kwh
            ),
            ewif_l_per_kwh=keep(self.ewif_l_per_kwh) if ewif_l_per_kwh is None else ewif_l_per_kwh,
            ewif_withdrawal_l_per_kwh=withdrawal,
            factors_dir=getattr(self, "_factors_dir", None),
            origin=origin,
        )
        if self.embodied_table is not None:
            object.__setattr__(site, "_embodied", self.embodied_table)
        return site

    @property
    def embodied_table(self) -> tuple[Any, str] | None:
        """Return the [embodied] table of the site file this site was read from, and the file.

        None when the site came from no file or the file has no [embodied] table.
        greenai.embodied reads service life, utilisation and the server inventory from it.
        """
        return getattr(self, "_embodied", None)

    # -- disclosure and display ---------------------------------------------------------

    def factors(self) -> dict[str, Factor]:
        """Return every factor this site carries, by field name (withdrawal only if known)."""
        found = {key: getattr(self, key) for key in _RULES}
        return {key: factor for key, factor in found.items() if factor is not None}

    def to_dict(self) -> dict[str, Any]:
        """Return the disclosure's site block: every factor with value, unit, source, year, kind."""
        return {
            "name": self.name,
            "description": self.description,
            "grid": self.grid,
            "grid_name": self.grid_name,
            "hydro_evaporation": self.hydro_evaporation,
            "factors": {
                key: (factor.to_dict() if factor is not None else None)
                for key, factor in ((k, getattr(self, k)) for k in _RULES)
            },
        }

    def describe(self) -> str:
        """Return a multi-line text listing every factor with value, unit, kind, year, source."""
        title = f"Site {self.name!r}" + (f": {self.description}" if self.description else "")
        lines = [
            title,
            f"  grid {self.grid} ({self.grid_name}); hydro reservoir evaporation "
            f"{self.hydro_evaporation}",
        ]
        lines.extend(_factor_lines(self.factors()))
        if self.ewif_withdrawal_l_per_kwh is None:
            lines.append("  EWIF withdrawal: no factor known; withdrawal is not reported")
        return "\n".join(lines)


def _factor_lines(factors: Mapping[str, Factor]) -> list[str]:
    lines = []
    for key, factor in factors.items():
        year = "" if factor.year is None else f", {factor.year}"
        lines.append(
            f"  {_RULES[key].label:<17} {_format_value(factor.value):>9}  {factor.unit}"
            f"  [{factor.kind}{year}]"
        )
        lines.append(f"      source: {factor.source}")
    return lines


def format_presets(factors_dir: Path | str | None = None) -> str:
    """Return a text listing of every preset with its PUE, WUE, grid and their sources."""
    directory = _resolve_dir(factors_dir)
    blocks = []
    for name in list_presets(directory):
        spec = _preset(name, directory)
        factors = {key: _preset_factor(name, key, directory) for key in ("pue", "wue_l_per_kwh")}
        block = [f"{name}: {spec['description']}", *_factor_lines(factors)]
        block.append(f"  grid {spec.get('grid', WORLD)} (override with --grid or GREENAI_GRID)")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)
