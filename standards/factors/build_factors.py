"""Regenerate the grid factor tables in this directory from codecarbon's shipped data.

    python standards/factors/build_factors.py            # rewrite the tables here
    python standards/factors/build_factors.py --out DIR  # write them elsewhere (tests do)

Inputs, all local (no network):
- codecarbon's data files, located through importlib (global_energy_mix.json,
  carbon_intensity_per_source.json, 2023/usa_emissions.json,
  2023/china_provincial_emissions.json, 2023/canada_energy_mix.json);
- pycountry (a dependency of codecarbon) for ISO 3166-1 alpha-2/alpha-3 codes and
  ISO 3166-2 subdivision names;
- water_per_fuel.csv beside this script: per-fuel water factors from the literature.

Outputs: grid_carbon.csv, grid_water.csv and build_inputs.json. Running the script twice
with the same inputs writes the same bytes: rows in a fixed order, fixed float formats,
"\\n" line ends, no timestamps. README.md in this directory describes every column.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.metadata
import io
import json
import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent

try:
    from greenai import units
except ImportError:  # run from a source checkout without greenai installed
    sys.path.insert(0, str(HERE.parents[1]))
    from greenai import units

FUELS = (
    "coal",
    "gas",
    "oil",
    "nuclear",
    "hydro",
    "solar",
    "wind",
    "biomass",
    "geothermal",
)

# codecarbon's generation fields (TWh) -> our fuels. These nine fields add up to total_TWh
# for every country in global_energy_mix.json (checked below).
GLOBAL_MIX_FIELDS = {
    "coal_TWh": "coal",
    "gas_TWh": "gas",
    "oil_TWh": "oil",
    "nuclear_TWh": "nuclear",
    "hydroelectricity_TWh": "hydro",
    "solar_TWh": "solar",
    "wind_TWh": "wind",
    "biofuel_TWh": "biomass",
    "other_renewable_exc_biofuel_TWh": "geothermal",
}

# canada_energy_mix.json gives generation shares in percent under these keys.
CANADA_MIX_FIELDS = {
    "coal": "coal",
    "naturalGas": "gas",
    "petroleum": "oil",
    "nuclear": "nuclear",
    "hydro": "hydro",
    "solar": "solar",
    "wind": "wind",
    "biomass": "biomass",
    "tidal": "geothermal",
}
CANADA_UNMAPPED = ("other",)  # must be zero; a non-zero share stops the build

# Our fuels -> keys of codecarbon's carbon_intensity_per_source.json (g CO2e/kWh).
CARBON_PER_SOURCE_KEYS = {
    "coal": "coal",
    "gas": "natural_gas",
    "oil": "petroleum",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "solar": "solar",
    "wind": "wind",
    "biomass": "biomass",
    "geothermal": "geothermal",
}

WATER_PER_FUEL = "water_per_fuel.csv"
WATER_PER_FUEL_COLUMNS = (
    "fuel",
    "technology",
    "cooling",
    "consumption_gal_per_mwh",
    "withdrawal_gal_per_mwh",
    "source",
    "note",
)
GRID_CARBON = "grid_carbon.csv"
GRID_CARBON_COLUMNS = (
    "region",
    "alpha3",
    "name",
    "level",
    "carbon_intensity_g_per_kwh",
    "year",
    "source",
)
GRID_WATER = "grid_water.csv"
GRID_WATER_COLUMNS = (
    "region",
    "name",
    "level",
    "year",
    *(f"share_{fuel}" for fuel in FUELS),
    "ewif_hydro_included_l_per_kwh",
    "ewif_hydro_excluded_l_per_kwh",
    "withdrawal_hydro_included_l_per_kwh",
    "withdrawal_hydro_excluded_l_per_kwh",
    "source",
)
BUILD_INPUTS = "build_inputs.json"

WORLD = "WORLD"
LEVEL_ORDER = {"world": 0, "country": 1, "subnational": 2}


class BuildError(Exception):
    """An input file is not what this script expects."""


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    # "-0.000" and "0.000" must not both appear for the same quantity
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def _codecarbon_data() -> Path:
    return Path(str(resources.files("codecarbon"))) / "data" / "private_infra"


def _read_json(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def read_water_per_fuel(path: Path) -> dict[str, dict[str, float]]:
    """Return fuel -> {consumption_l_per_kwh, withdrawal_l_per_kwh} from the literature table."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in WATER_PER_FUEL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BuildError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        fuel = row["fuel"]
        if fuel not in FUELS:
            raise BuildError(f"{path}: unknown fuel {fuel!r}; expected one of {', '.join(FUELS)}")
        if not row["source"].strip():
            raise BuildError(f"{path}: fuel {fuel!r} has no source")
        consumption = units.gal_per_mwh_to_l_per_kwh(float(row["consumption_gal_per_mwh"]))
        # withdrawal >= consumption always; where the literature gives no withdrawal
        # median the consumption median is the best lower bound we have
        withdrawal_text = row["withdrawal_gal_per_mwh"].strip()
        withdrawal = (
            units.gal_per_mwh_to_l_per_kwh(float(withdrawal_text))
            if withdrawal_text
            else consumption
        )
        table[fuel] = {"consumption_l_per_kwh": consumption, "withdrawal_l_per_kwh": withdrawal}
    absent = [fuel for fuel in FUELS if fuel not in table]
    if absent:
        raise BuildError(f"{path}: no row for fuel(s) {', '.join(absent)}")
    return table


def _shares(generation: Mapping[str, float], where: str) -> dict[str, float]:
    total = sum(generation[fuel] for fuel in FUELS)
    if total <= 0:
        raise BuildError(f"{where}: total generation is {total}")
    return {fuel: generation[fuel] / total for fuel in FUELS}


def _water(shares: Mapping[str, float], water: Mapping[str, Mapping[str, float]]) -> dict:
    """Return the generation-weighted water intensities (L/kWh) of a mix, per hydro treatment.

    Withdrawal counts what consumption counts: water consumed was first withdrawn, so a
    fuel's withdrawal is never taken below its consumption. Hydro's published withdrawal
    is 0 (in-stream use), so with reservoir evaporation included its withdrawal is that
    evaporation, and with evaporation excluded both are 0.
    """
    consumed = {f: water[f]["consumption_l_per_kwh"] for f in FUELS}
    withdrawn = {f: max(water[f]["withdrawal_l_per_kwh"], consumed[f]) for f in FUELS}
    excluded = {"hydro"}
    return {
        "included": sum(shares[f] * consumed[f] for f in FUELS),
        "excluded": sum(shares[f] * consumed[f] for f in FUELS if f not in excluded),
        "withdrawal_included": sum(shares[f] * withdrawn[f] for f in FUELS),
        "withdrawal_excluded": sum(
            shares[f] * (water[f]["withdrawal_l_per_kwh"] if f in excluded else withdrawn[f])
            for f in FUELS
        ),
    }


def _global_mix(data: Mapping[str, Mapping]) -> dict[str, dict[str, float]]:
    mixes = {}
    for alpha3, row in data.items():
        generation = {fuel: 0.0 for fuel in FUELS}
        for field, fuel in GLOBAL_MIX_FIELDS.items():
            generation[fuel] += float(row[field])
        total = float(row["total_TWh"])
        if abs(sum(generation.values()) - total) > 1e-6 * max(total, 1.0):
            raise BuildError(
                f"global_energy_mix.json: {alpha3} fuels add up to {sum(generation.values())}"
                f" TWh but total_TWh is {total}; the field mapping needs updating"
            )
        mixes[alpha3] = generation
    return mixes


def build_rows(water_table_path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Return (grid_carbon rows, grid_water rows), sorted, all values as formatted strings."""
    import pycountry  # codecarbon's own dependency; imported here so --help stays fast

    cc = f"codecarbon {_version('codecarbon')}"
    data_dir = _codecarbon_data()
    water = read_water_per_fuel(water_table_path)
    global_mix = _read_json(data_dir / "global_energy_mix.json")
    per_source = _read_json(data_dir / "carbon_intensity_per_source.json")
    usa = _read_json(data_dir / "2023" / "usa_emissions.json")
    china = _read_json(data_dir / "2023" / "china_provincial_emissions.json")
    canada = _read_json(data_dir / "2023" / "canada_energy_mix.json")

    water_method = (
        "x per-fuel water factors in water_per_fuel.csv (Macknick et al. 2012 medians, "
        "recirculating cooling for thermal plants)"
    )
    carbon_rows: list[dict[str, str]] = []
    water_rows: list[dict[str, str]] = []

    def add(region, alpha3, name, level, carbon, carbon_year, carbon_src, shares, w_year, w_src):
        carbon_rows.append(
            {
                "region": region,
                "alpha3": alpha3,
                "name": name,
                "level": level,
                "carbon_intensity_g_per_kwh": _fmt(carbon, 3),
                "year": str(carbon_year),
                "source": carbon_src,
            }
        )
        intensities = _water(shares, water)
        water_rows.append(
            {
                "region": region,
                "name": name,
                "level": level,
                "year": str(w_year),
                **{f"share_{fuel}": _fmt(shares[fuel], 6) for fuel in FUELS},
                "ewif_hydro_included_l_per_kwh": _fmt(intensities["included"], 4),
                "ewif_hydro_excluded_l_per_kwh": _fmt(intensities["excluded"], 4),
                "withdrawal_hydro_included_l_per_kwh": _fmt(intensities["withdrawal_included"], 4),
                "withdrawal_hydro_excluded_l_per_kwh": _fmt(intensities["withdrawal_excluded"], 4),
                "source": w_src,
            }
        )

    # Countries
    mixes = _global_mix(global_mix)
    country_shares: dict[str, dict[str, float]] = {}
    country_year: dict[str, int] = {}
    for alpha3, row in global_mix.items():
        country = pycountry.countries.get(alpha_3=alpha3)
        if country is None:
            raise BuildError(f"global_energy_mix.json: {alpha3} is not an ISO 3166-1 alpha-3 code")
        shares = _shares(mixes[alpha3], f"global_energy_mix.json {alpha3}")
        country_shares[country.alpha_2] = shares
        country_year[country.alpha_2] = int(row["year"])
        add(
            country.alpha_2,
            alpha3,
            row["country_name"],
            "country",
            float(row["carbon_intensity"]),
            row["year"],
            f"{cc} data/private_infra/global_energy_mix.json: carbon_intensity of {alpha3} "
            f"({row['year']}; Our World in Data from Ember and the Energy Institute)",
            shares,
            row["year"],
            f"derived: {row['year']} generation mix of {alpha3} in {cc} "
            f"global_energy_mix.json {water_method}",
        )

    # World: generation-weighted over every country in the same file
    world_generation = {fuel: sum(mixes[a][fuel] for a in mixes) for fuel in FUELS}
    world_total = sum(float(r["total_TWh"]) for r in global_mix.values())
    world_carbon = (
        sum(float(r["total_TWh"]) * float(r["carbon_intensity"]) for r in global_mix.values())
        / world_total
    )
    years = sorted({int(r["year"]) for r in global_mix.values()})
    latest = years[-1]
    span = f"{years[0]}-{latest}"
    add(
        WORLD,
        "",
        "World",
        "world",
        world_carbon,
        latest,
        f"derived: generation-weighted mean of the carbon_intensity of all {len(global_mix)} "
        f"countries in {cc} global_energy_mix.json (data years {span})",
        _shares(world_generation, "world"),
        latest,
        f"derived: summed generation mix of all {len(global_mix)} countries in {cc} "
        f"global_energy_mix.json (data years {span}) {water_method}",
    )

    # US states: EPA eGRID via codecarbon; no state generation mix -> country EWIF
    usa_source = usa["_source"]
    for key, row in usa.items():
        if key.startswith("_") or key == "usa":  # "usa" is eGRID's national row
            continue
        region = f"US-{row['regionCode']}"
        sub = pycountry.subdivisions.get(code=region)
        if sub is None:
            raise BuildError(f"usa_emissions.json: {region} is not an ISO 3166-2 code")
        add(
            region,
            "",
            sub.name,
            "subnational",
            units.lb_per_mwh_to_g_per_kwh(float(row["emissions"])),
            usa_source["year"],
            f"{usa_source['name']} ({usa_source['field']}), {row['emissions']} lb/MWh converted "
            f"to g/kWh; via {cc} data/private_infra/2023/usa_emissions.json",
            country_shares["US"],
            country_year["US"],
            "country value for US: codecarbon ships no generation mix per US state; "
            f"{country_year['US']} US mix in {cc} global_energy_mix.json {water_method}",
        )

    # Chinese provinces: MEE/NBS factors via codecarbon (CO2 only); EWIF -> country value
    china_meta = china["metadata"]
    for region, row in china["data"].items():
        sub = pycountry.subdivisions.get(code=region)
        if sub is None:
            raise BuildError(f"china_provincial_emissions.json: {region} is not ISO 3166-2")
        add(
            region,
            "",
            row["description"],
            "subnational",
            float(row["emission_factor"]),
            row["year"],
            f"China MEE/NBS announcement {china_meta['announcement']}, provincial average "
            f"electricity emission factor {row['year']} (CO2 only, not CO2e); via {cc} "
            "data/private_infra/2023/china_provincial_emissions.json",
            country_shares["CN"],
            country_year["CN"],
            "country value for CN: codecarbon ships no generation mix per Chinese province; "
            f"{country_year['CN']} CN mix in {cc} global_energy_mix.json {water_method}",
        )

    # Canadian provinces: generation shares (%) -> both factors derived from the mix
    for key, row in canada.items():
        matches = [
            s for s in pycountry.subdivisions.get(country_code="CA") if s.name.lower() == key
        ]
        if len(matches) != 1:
            raise BuildError(f"canada_energy_mix.json: no single ISO 3166-2 match for {key!r}")
        sub = matches[0]
        for field in CANADA_UNMAPPED:
            if float(row.get(field, 0.0)) != 0.0:
                raise BuildError(f"canada_energy_mix.json: {key} has {field}={row[field]}")
        generation = {fuel: 0.0 for fuel in FUELS}
        for field, fuel in CANADA_MIX_FIELDS.items():
            generation[fuel] += float(row[field])
        shares = _shares(generation, f"canada_energy_mix.json {key}")
        carbon = sum(
            shares[fuel] * float(per_source[CARBON_PER_SOURCE_KEYS[fuel]]) for fuel in FUELS
        )
        add(
            sub.code,
            "",
            sub.name,
            "subnational",
            carbon,
            2023,
            f"derived: generation shares in {cc} data/private_infra/2023/canada_energy_mix.json "
            "x per-source lifecycle intensities in carbon_intensity_per_source.json (the method "
            "codecarbon uses for a mix without a published intensity)",
            shares,
            2023,
            f"derived: generation shares in {cc} data/private_infra/2023/canada_energy_mix.json "
            f"{water_method}",
        )

    def order(row: Mapping[str, str]) -> tuple[int, str]:
        return (LEVEL_ORDER[row["level"]], row["region"])

    carbon_rows.sort(key=order)
    water_rows.sort(key=order)
    regions = [r["region"] for r in carbon_rows]
    if len(set(regions)) != len(regions):
        raise BuildError("two inputs produced the same region code")
    return carbon_rows, water_rows


def _csv_bytes(columns: Iterable[str], rows: Iterable[Mapping[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def build(out_dir: Path, water_table_path: Path = HERE / WATER_PER_FUEL) -> list[Path]:
    """Write grid_carbon.csv, grid_water.csv and build_inputs.json to out_dir; return paths."""
    carbon_rows, water_rows = build_rows(water_table_path)
    inputs = {
        "codecarbon": _version("codecarbon"),
        "pycountry": _version("pycountry"),
        WATER_PER_FUEL + " sha256": hashlib.sha256(water_table_path.read_bytes()).hexdigest(),
    }
    outputs = {
        GRID_CARBON: _csv_bytes(GRID_CARBON_COLUMNS, carbon_rows),
        GRID_WATER: _csv_bytes(GRID_WATER_COLUMNS, water_rows),
        BUILD_INPUTS: (json.dumps(inputs, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in outputs.items():
        path = out_dir / name
        path.write_bytes(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory")
    parser.add_argument(
        "--water-table", type=Path, default=HERE / WATER_PER_FUEL, help="per-fuel water factors"
    )
    args = parser.parse_args(argv)
    try:
        for path in build(args.out, args.water_table):
            print(path)
    except BuildError as exc:
        print(f"build_factors: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
