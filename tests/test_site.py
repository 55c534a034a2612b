"""Site profiles: presets, grid look-ups, TOML/env loading, overrides, errors, disclosure."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from greenai.errors import SiteError
from greenai.site import (
    Factor,
    Site,
    format_presets,
    list_presets,
    list_regions,
    lookup_grid,
)

FACTORS = Path(__file__).resolve().parents[1] / "standards" / "factors"


def shipped_row(name: str, region: str) -> dict[str, str]:
    with (FACTORS / name).open(encoding="utf-8", newline="") as f:
        return next(row for row in csv.DictReader(f) if row["region"] == region)


# -- presets ------------------------------------------------------------------------------


def test_presets_include_the_three_required_and_every_figure_is_sourced():
    presets = list_presets()
    assert {"industry-average", "hyperscale", "enterprise"} <= set(presets)
    for name in presets:
        site = Site.from_preset(name)
        assert site.name == name
        assert site.grid == "WORLD"
        for factor in (site.pue, site.wue_l_per_kwh):
            assert factor.kind == "default"
            assert factor.source and factor.year is not None


def test_preset_figures_match_their_published_sources():
    assert Site.from_preset("industry-average").pue.value == 1.56  # Uptime 2024
    assert "Uptime Institute" in Site.from_preset("industry-average").pue.source
    hyperscale = Site.from_preset("hyperscale")
    assert hyperscale.pue.value == 1.10 and "Google" in hyperscale.pue.source
    assert hyperscale.wue_l_per_kwh.value == 0.30 and "Microsoft" in hyperscale.wue_l_per_kwh.source
    assert Site.from_preset("enterprise").pue.value > Site.from_preset("industry-average").pue.value


def test_default_is_industry_average_on_the_world_grid():
    site = Site.default()
    assert site == Site.from_preset("industry-average")
    world = shipped_row("grid_carbon.csv", "WORLD")
    assert site.carbon_intensity_g_per_kwh.value == float(world["carbon_intensity_g_per_kwh"])


def test_unknown_preset_names_the_file_and_the_choices():
    with pytest.raises(SiteError) as info:
        Site.from_preset("hyperscael")
    message = str(info.value)
    assert "hyperscael" in message and "sites.toml" in message and "hyperscale" in message


# -- plain constructor and grid look-ups -------------------------------------------------


def test_numbers_given_by_the_user_are_measured_and_grid_factors_come_from_the_tables():
    site = Site(pue=1.1, wue_l_per_kwh=0.3, grid="FR")
    assert site.pue == Factor(1.1, site.pue.unit, site.pue.source, None, "measured")
    assert site.wue_l_per_kwh.kind == "measured"
    carbon = shipped_row("grid_carbon.csv", "FR")
    water = shipped_row("grid_water.csv", "FR")
    assert site.carbon_intensity_g_per_kwh.value == float(carbon["carbon_intensity_g_per_kwh"])
    assert site.carbon_intensity_g_per_kwh.kind == "dataset"
    assert site.carbon_intensity_g_per_kwh.year == int(carbon["year"])
    assert site.ewif_l_per_kwh.value == float(water["ewif_hydro_included_l_per_kwh"])
    assert site.ewif_withdrawal_l_per_kwh.value == float(
        water["withdrawal_hydro_included_l_per_kwh"]
    )
    assert site.grid_name == "France"


def test_left_out_pue_and_wue_are_the_default_presets():
    site = Site(grid="DE")
    default = Site.default()
    assert site.pue == default.pue and site.pue.kind == "default"
    assert site.wue_l_per_kwh == default.wue_l_per_kwh


@pytest.mark.parametrize("code", ["FR", "FRA", "fra", " fr "])
def test_alpha2_and_alpha3_codes_name_the_same_region(code):
    assert Site(grid=code) == Site(grid="FR")


def test_sub_national_regions_use_their_own_carbon_and_say_when_water_is_national():
    california = lookup_grid("US-CA")
    usa = lookup_grid("USA")
    assert california.level == "subnational" and california.name == "California"
    assert california.carbon_intensity_g_per_kwh.value != usa.carbon_intensity_g_per_kwh.value
    assert "eGRID" in california.carbon_intensity_g_per_kwh.source
    assert california.ewif_l_per_kwh.value == usa.ewif_l_per_kwh.value
    assert "country value for US" in california.ewif_l_per_kwh.source
    assert "CO2 only" in lookup_grid("CN-BJ").carbon_intensity_g_per_kwh.source
    quebec = lookup_grid("CA-QC")
    assert quebec.ewif_l_per_kwh.value != lookup_grid("CA").ewif_l_per_kwh.value


def test_regions_cover_countries_states_and_provinces():
    regions = set(list_regions())
    assert {"WORLD", "FR", "CN", "US", "US-CA", "US-DC", "CN-GD", "CA-BC"} <= regions
    assert len([r for r in regions if "-" not in r and r != "WORLD"]) >= 200


def test_hydro_evaporation_is_a_switch_that_changes_only_the_ewif():
    included = Site(grid="NO")
    excluded = Site(grid="NO", hydro_evaporation="excluded")
    water = shipped_row("grid_water.csv", "NO")
    assert included.hydro_evaporation == "included"  # the documented default
    assert excluded.ewif_l_per_kwh.value == float(water["ewif_hydro_excluded_l_per_kwh"])
    assert excluded.ewif_l_per_kwh.value < included.ewif_l_per_kwh.value / 100
    assert "excluded" in excluded.ewif_l_per_kwh.source
    assert excluded.carbon_intensity_g_per_kwh == included.carbon_intensity_g_per_kwh


def test_explicit_grid_factors_are_kept_and_skip_the_look_up():
    site = Site(grid="ZZ", carbon_intensity_g_per_kwh=100.0, ewif_l_per_kwh=2.0)
    assert site.grid == "ZZ"
    assert site.carbon_intensity_g_per_kwh.kind == "measured"
    assert site.ewif_withdrawal_l_per_kwh is None


# -- overrides ---------------------------------------------------------------------------


def test_user_measured_values_win_over_the_preset():
    site = Site.from_preset("hyperscale").with_overrides(pue=1.25, wue_l_per_kwh=0.0)
    assert site.name == "hyperscale"
    assert site.pue.value == 1.25 and site.pue.kind == "measured"
    assert site.wue_l_per_kwh.value == 0.0 and site.wue_l_per_kwh.kind == "measured"


def test_new_grid_replaces_dataset_factors_but_keeps_measured_ones():
    base = Site(pue=1.2, carbon_intensity_g_per_kwh=10.0, grid="FR")
    moved = base.with_overrides(grid="CN")
    assert moved.grid == "CN" and moved.grid_name == "China"
    assert moved.carbon_intensity_g_per_kwh.value == 10.0  # measured: kept
    assert moved.ewif_l_per_kwh == lookup_grid("CN").ewif_l_per_kwh  # dataset: looked up
    assert moved.pue.value == 1.2


def test_with_no_overrides_is_the_same_site():
    site = Site.from_preset("enterprise").with_overrides(grid="IN")
    assert site.with_overrides() == site


# -- TOML and environment ----------------------------------------------------------------


def test_from_toml_with_a_preset_base_and_a_sourced_factor(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(
        """
[site]
name = "lab-a"
preset = "hyperscale"
grid = "DEU"
wue_l_per_kwh = { value = 0.12, source = "site BMS, annual 2024", year = 2024 }
""",
        encoding="utf-8",
    )
    site = Site.from_toml(path)
    assert site.name == "lab-a"
    assert site.grid == "DE"
    assert site.pue == Site.from_preset("hyperscale").pue
    assert site.wue_l_per_kwh == Factor(
        0.12, site.wue_l_per_kwh.unit, "site BMS, annual 2024", 2024, "measured"
    )


def test_from_toml_without_preset_uses_defaults(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text('grid = "US-TX"\npue = 1.3\nhydro_evaporation = "excluded"\n')
    site = Site.from_toml(path)
    assert site.name == "plain"
    assert site.pue.kind == "measured" and str(path) in site.pue.source
    assert site.wue_l_per_kwh == Site.default().wue_l_per_kwh
    assert site.hydro_evaporation == "excluded"


def test_from_toml_rejects_unknown_keys_naming_the_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("pew = 1.2\n")
    with pytest.raises(SiteError, match=r"typo\.toml.*'pew'"):
        Site.from_toml(path)


def test_from_env_reads_site_grid_pue_and_wue():
    env = {
        "GREENAI_SITE": "enterprise",
        "GREENAI_GRID": "US-CA",
        "GREENAI_PUE": "1.4",
        "GREENAI_WUE": "0.5",
    }
    site = Site.from_env(env)
    assert site.name == "enterprise" and site.grid == "US-CA"
    assert site.pue.value == 1.4 and "GREENAI_PUE" in site.pue.source
    assert site.wue_l_per_kwh.value == 0.5 and site.wue_l_per_kwh.kind == "measured"


def test_from_env_with_nothing_set_is_the_default():
    assert Site.from_env({}) == Site.default()


def test_from_env_site_may_be_a_toml_path(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "from-file"\npue = 1.05\n')
    assert Site.from_env({"GREENAI_SITE": str(path)}).name == "from-file"


def test_resolve_gives_arguments_precedence_over_environment_over_preset():
    env = {"GREENAI_PUE": "1.3", "GREENAI_GRID": "DE"}
    site = Site.resolve("hyperscale", grid="FR", environ=env)
    assert site.name == "hyperscale"
    assert site.grid == "FR"  # argument beats environment
    assert site.pue.value == 1.3  # environment beats preset
    given = Site(pue=1.2)
    assert Site.resolve(given, environ=env) == given  # a Site object is used as is


def test_bad_number_in_environment_names_the_variable():
    with pytest.raises(SiteError, match="GREENAI_WUE"):
        Site.from_env({"GREENAI_WUE": "lots"})


# -- bad input ---------------------------------------------------------------------------


def test_unknown_country_code_names_the_value_the_file_and_what_to_do():
    with pytest.raises(SiteError) as info:
        Site(grid="XQ")
    message = str(info.value)
    assert "'XQ'" in message
    assert "grid_carbon.csv" in message
    assert "ISO 3166" in message and "list_regions" in message


def test_unknown_grid_from_environment_says_where_it_came_from():
    with pytest.raises(SiteError, match="GREENAI_GRID"):
        Site.from_env({"GREENAI_GRID": "Frnce"})


@pytest.mark.parametrize("pue", [0.99, 0.0, -1.0, float("nan"), float("inf")])
def test_pue_below_one_or_not_finite_is_refused(pue):
    with pytest.raises(SiteError, match="PUE"):
        Site(pue=pue)


def test_pue_below_one_in_a_toml_file_names_the_value_field_and_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("pue = 0.9\n")
    with pytest.raises(SiteError) as info:
        Site.from_toml(path)
    message = str(info.value)
    assert "0.9" in message and "'pue'" in message and str(path) in message
    assert "cannot be below 1.0" in message


def test_negative_wue_is_refused_naming_the_field():
    with pytest.raises(SiteError, match=r"WUE -0\.1 \(field 'wue_l_per_kwh'"):
        Site(wue_l_per_kwh=-0.1)


def test_negative_wue_from_environment_names_the_variable():
    with pytest.raises(SiteError, match="GREENAI_WUE.*cannot be negative"):
        Site.from_env({"GREENAI_WUE": "-1"})


@pytest.mark.parametrize("value", [True, "1.2", [1.2]])
def test_non_numbers_are_refused(value):
    with pytest.raises(SiteError, match="not a number"):
        Site(pue=value)


def test_bad_hydro_choice_is_refused():
    with pytest.raises(SiteError, match="included, excluded"):
        Site(hydro_evaporation="sometimes")


def copy_factors(tmp_path: Path) -> Path:
    target = tmp_path / "factors"
    shutil.copytree(FACTORS, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.mark.parametrize(
    ("file_name", "column"),
    [
        ("grid_carbon.csv", "carbon_intensity_g_per_kwh"),
        ("grid_water.csv", "ewif_hydro_included_l_per_kwh"),
    ],
)
def test_factor_file_missing_a_column_names_file_and_column(tmp_path, file_name, column):
    directory = copy_factors(tmp_path)
    path = directory / file_name
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        fields = [c for c in rows[0] if c != column]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SiteError) as info:
        Site(grid="FR", factors_dir=directory)
    message = str(info.value)
    assert str(path) in message and repr(column) in message
    assert "build_factors.py" in message


def test_factor_file_with_a_bad_number_names_line_and_column(tmp_path):
    directory = copy_factors(tmp_path)
    path = directory / "grid_carbon.csv"
    text = path.read_text(encoding="utf-8")
    fr_line = next(line for line in text.splitlines() if line.startswith("FR,"))
    path.write_text(text.replace(fr_line, fr_line.replace(",56.039,", ",n/a,")), encoding="utf-8")
    with pytest.raises(SiteError, match=r"grid_carbon\.csv, line \d+, column 'carbon_intensity"):
        Site(grid="FR", factors_dir=directory)


def test_preset_without_a_source_is_refused(tmp_path):
    directory = copy_factors(tmp_path)
    path = directory / "sites.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('source = "Uptime', 'note = "Uptime', 1), encoding="utf-8")
    with pytest.raises(SiteError, match=r"industry-average\.pue\] has no 'source'"):
        Site.from_preset("hyperscale", factors_dir=directory)


def test_missing_factor_file_says_how_to_restore_it(tmp_path):
    directory = copy_factors(tmp_path)
    (directory / "grid_water.csv").unlink()
    with pytest.raises(SiteError, match="grid_water.csv not found.*build_factors.py"):
        Site(grid="FR", factors_dir=directory)


# -- disclosure and display --------------------------------------------------------------


@pytest.mark.parametrize(
    "site",
    [
        Site.from_preset("hyperscale"),
        Site(pue=1.1, wue_l_per_kwh=0.3, grid="FR", hydro_evaporation="excluded"),
        Site(grid="ZZ", carbon_intensity_g_per_kwh=100.0, ewif_l_per_kwh=2.0),
    ],
)
def test_site_block_round_trips(site):
    data = site.to_dict()
    for factor in data["factors"].values():
        if factor is not None:
            assert set(factor) == {"value", "unit", "source", "year", "kind"}
    assert Site.from_dict(data) == site


def test_site_block_read_back_does_not_look_factors_up_again(tmp_path):
    data = Site(grid="FR").to_dict()
    data["factors"]["carbon_intensity_g_per_kwh"]["value"] = 1.0  # as written by an old table
    assert Site.from_dict(data).carbon_intensity_g_per_kwh.value == 1.0


def test_site_block_missing_a_factor_is_refused():
    data = Site(grid="FR").to_dict()
    del data["factors"]["pue"]
    with pytest.raises(SiteError, match="site block: factors has no pue"):
        Site.from_dict(data)


def test_describe_lists_every_factor_with_value_unit_kind_year_and_source():
    site = Site.from_preset("hyperscale").with_overrides(grid="FR", pue=1.2)
    text = site.describe()
    assert "'hyperscale'" in text and "FR (France)" in text
    for factor in site.factors().values():
        assert factor.source in text
        assert factor.unit in text
    assert "[measured]" in text and "[default, 2024]" in text and "[dataset, 2023]" in text


def test_format_presets_lists_each_preset_with_sources():
    text = format_presets()
    for name in list_presets():
        site = Site.from_preset(name)
        assert f"{name}: {site.description}" in text
        assert site.pue.source in text and site.wue_l_per_kwh.source in text


def test_factor_refuses_unknown_kind_and_non_finite_value():
    with pytest.raises(SiteError, match="kind"):
        Factor(1.0, "x", "s", kind="guessed")
    with pytest.raises(SiteError, match="finite"):
        Factor(float("nan"), "x", "s")


def test_importing_site_does_not_import_pandas():
    code = "import sys, greenai.site; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_unknown_preset_in_environment_names_the_variable():
    with pytest.raises(SiteError, match="unknown site preset 'nope'.*GREENAI_SITE"):
        Site.from_env({"GREENAI_SITE": "nope"})


def test_bad_kind_in_a_site_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "kind.toml"
    path.write_text('pue = { value = 1.2, kind = "guess" }\n')
    with pytest.raises(SiteError, match=r"kind\.toml: \[pue\]: factor kind 'guess'"):
        Site.from_toml(path)


def test_withdrawal_follows_the_same_hydro_treatment_as_consumption():
    water = shipped_row("grid_water.csv", "NO")  # hydro-heavy: the treatment matters
    for hydro in ("included", "excluded"):
        site = Site(grid="NO", hydro_evaporation=hydro)
        assert site.ewif_l_per_kwh.value == float(water[f"ewif_hydro_{hydro}_l_per_kwh"])
        withdrawal = site.ewif_withdrawal_l_per_kwh
        assert withdrawal.value == float(water[f"withdrawal_hydro_{hydro}_l_per_kwh"])
        assert withdrawal.value >= site.ewif_l_per_kwh.value
        assert f"evaporation {hydro}" in withdrawal.source
