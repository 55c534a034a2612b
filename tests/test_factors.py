"""The shipped factor tables in standards/factors/ and the script that builds them."""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from greenai import units

FACTORS = Path(__file__).resolve().parents[1] / "standards" / "factors"
FUELS = ("coal", "gas", "oil", "nuclear", "hydro", "solar", "wind", "biomass", "geothermal")
THERMAL = ("coal", "gas", "oil", "nuclear", "biomass", "geothermal")


@pytest.fixture(scope="module")
def build_factors():
    spec = importlib.util.spec_from_file_location("build_factors", FACTORS / "build_factors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(name: str) -> list[dict[str, str]]:
    with (FACTORS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def codecarbon_json(relative: str) -> dict:
    path = Path(str(resources.files("codecarbon"))) / "data" / "private_infra" / relative
    return json.loads(path.read_text(encoding="utf-8"))


def per_fuel_l_per_kwh() -> dict[str, dict[str, float]]:
    table = {}
    for row in read_csv("water_per_fuel.csv"):
        consumption = units.gal_per_mwh_to_l_per_kwh(float(row["consumption_gal_per_mwh"]))
        withdrawal_text = row["withdrawal_gal_per_mwh"]
        withdrawal = (
            units.gal_per_mwh_to_l_per_kwh(float(withdrawal_text))
            if withdrawal_text
            else consumption
        )
        table[row["fuel"]] = {"consumption": consumption, "withdrawal": withdrawal}
    return table


def test_generator_regenerates_the_shipped_tables_byte_for_byte(build_factors, tmp_path):
    recorded = json.loads((FACTORS / "build_inputs.json").read_text(encoding="utf-8"))
    for package in ("codecarbon", "pycountry"):
        installed = importlib.metadata.version(package)
        if installed != recorded[package]:
            pytest.skip(
                f"the tables were built from {package} {recorded[package]}, {installed} is "
                "installed: its data may differ; rerun build_factors.py to update them"
            )
    written = build_factors.build(tmp_path)
    assert {p.name for p in written} == {"grid_carbon.csv", "grid_water.csv", "build_inputs.json"}
    for path in written:
        assert path.read_bytes() == (FACTORS / path.name).read_bytes(), path.name


def test_generator_is_deterministic(build_factors, tmp_path):
    first = build_factors.build(tmp_path / "a")
    second = build_factors.build(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_generator_stops_on_a_per_fuel_table_missing_a_column(build_factors, tmp_path):
    broken = tmp_path / "water_per_fuel.csv"
    lines = (FACTORS / "water_per_fuel.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "withdrawal_gal_per_mwh"]
    # drop the column from the header only: DictReader then misses the name
    broken.write_text(",".join(header[i] for i in keep) + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(build_factors.BuildError, match="withdrawal_gal_per_mwh"):
        build_factors.build(tmp_path / "out", broken)


def test_generator_cli_writes_to_out_dir(build_factors, tmp_path, capsys):
    assert build_factors.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "grid_water.csv").is_file()
    assert "grid_carbon.csv" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["water_per_fuel.csv", "grid_carbon.csv", "grid_water.csv"])
def test_every_row_names_its_source_and_has_no_empty_value(name):
    rows = read_csv(name)
    assert rows
    optional = {"alpha3", "note", "withdrawal_gal_per_mwh"}
    for row in rows:
        assert row["source"].strip(), row
        empty = [k for k, v in row.items() if not v.strip() and k not in optional]
        assert not empty, (row, empty)


def test_per_fuel_table_covers_every_fuel_and_states_the_cooling_assumption():
    rows = {row["fuel"]: row for row in read_csv("water_per_fuel.csv")}
    assert tuple(rows) == FUELS
    for fuel in THERMAL:
        assert "cooling tower" in rows[fuel]["cooling"], fuel
    assert "hydro_evaporation" in rows["hydro"]["note"]
    # Macknick et al. (2012) medians, gal/MWh
    assert float(rows["coal"]["consumption_gal_per_mwh"]) == 687
    assert float(rows["nuclear"]["consumption_gal_per_mwh"]) == 672
    assert float(rows["hydro"]["consumption_gal_per_mwh"]) == 4491
    assert float(rows["wind"]["consumption_gal_per_mwh"]) == 0


def test_country_carbon_intensity_is_codecarbons_value():
    mix = codecarbon_json("global_energy_mix.json")
    by_alpha3 = {row["alpha3"]: row for row in read_csv("grid_carbon.csv") if row["alpha3"]}
    assert set(by_alpha3) == set(mix)
    for alpha3, data in mix.items():
        row = by_alpha3[alpha3]
        assert float(row["carbon_intensity_g_per_kwh"]) == pytest.approx(
            data["carbon_intensity"], abs=5e-4
        )
        assert int(row["year"]) == data["year"]
        assert "global_energy_mix.json" in row["source"]


def test_us_state_carbon_is_egrid_converted_to_g_per_kwh():
    usa = codecarbon_json("2023/usa_emissions.json")
    rows = {row["region"]: row for row in read_csv("grid_carbon.csv")}
    expected = units.lb_per_mwh_to_g_per_kwh(usa["california"]["emissions"])
    assert float(rows["US-CA"]["carbon_intensity_g_per_kwh"]) == pytest.approx(expected, abs=5e-4)
    states = [r for r in rows if r.startswith("US-")]
    assert len(states) == 51  # 50 states and DC
    assert "eGRID" in rows["US-CA"]["source"]


def test_shares_sum_to_one_and_ewif_is_the_generation_weighted_mean():
    factors = per_fuel_l_per_kwh()
    for row in read_csv("grid_water.csv"):
        shares = {fuel: float(row[f"share_{fuel}"]) for fuel in FUELS}
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5), row["region"]
        included = sum(shares[f] * factors[f]["consumption"] for f in FUELS)
        excluded = included - shares["hydro"] * factors["hydro"]["consumption"]
        # withdrawal counts what consumption counts (a fuel never withdraws less than it
        # consumes; hydro evaporation is in both or in neither)
        withdrawn = {f: max(factors[f]["withdrawal"], factors[f]["consumption"]) for f in FUELS}
        withdrawal_in = sum(shares[f] * withdrawn[f] for f in FUELS)
        withdrawal_ex = withdrawal_in - shares["hydro"] * withdrawn["hydro"]
        # shares are printed to 6 decimals, so allow for that rounding
        assert float(row["ewif_hydro_included_l_per_kwh"]) == pytest.approx(included, abs=2e-4)
        assert float(row["ewif_hydro_excluded_l_per_kwh"]) == pytest.approx(excluded, abs=2e-4)
        assert float(row["withdrawal_hydro_included_l_per_kwh"]) == pytest.approx(
            withdrawal_in, abs=2e-4
        )
        assert float(row["withdrawal_hydro_excluded_l_per_kwh"]) == pytest.approx(
            withdrawal_ex, abs=2e-4
        )


def test_withdrawal_is_at_least_consumption_in_every_region():
    rows = read_csv("grid_water.csv")
    assert len(rows) > 300
    for row in rows:
        for hydro in ("included", "excluded"):
            withdrawal = float(row[f"withdrawal_hydro_{hydro}_l_per_kwh"])
            consumption = float(row[f"ewif_hydro_{hydro}_l_per_kwh"])
            assert withdrawal >= consumption, (row["region"], hydro, withdrawal, consumption)


def test_sub_national_water_falls_back_to_the_country_and_says_so():
    water = {row["region"]: row for row in read_csv("grid_water.csv")}
    for region, row in water.items():
        for country in ("US", "CN"):
            if region.startswith(f"{country}-"):
                assert row["source"].startswith(f"country value for {country}")
                national = water[country]["ewif_hydro_included_l_per_kwh"]
                assert row["ewif_hydro_included_l_per_kwh"] == national
    # Canadian provinces have their own mix, so their own EWIF
    assert water["CA-QC"]["source"].startswith("derived")
    quebec, alberta = water["CA-QC"], water["CA-AB"]
    assert quebec["ewif_hydro_included_l_per_kwh"] != alberta["ewif_hydro_included_l_per_kwh"]


def test_regions_are_unique_and_world_comes_first():
    for name in ("grid_carbon.csv", "grid_water.csv"):
        regions = [row["region"] for row in read_csv(name)]
        assert len(regions) == len(set(regions))
        assert regions[0] == "WORLD"
    carbon = [row["region"] for row in read_csv("grid_carbon.csv")]
    water = [row["region"] for row in read_csv("grid_water.csv")]
    assert carbon == water
