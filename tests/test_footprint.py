"""Footprint: the arithmetic, published figures reproduced, and the disclosure block."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenai import units
from greenai.errors import DisclosureError
from greenai.footprint import Footprint, Water, compute
from greenai.site import Site

FACTORS = Path(__file__).resolve().parents[1] / "standards" / "factors"
MWH_IN_KWH = 1000.0


def shipped(name: str, region: str, column: str) -> float:
    with (FACTORS / name).open(encoding="utf-8", newline="") as f:
        return float(next(r for r in csv.DictReader(f) if r["region"] == region)[column])


def site_with(
    pue: float = 1.2,
    wue: float = 0.5,
    carbon: float = 400.0,
    ewif: float = 2.0,
    withdrawal: float | None = None,
) -> Site:
    return Site(
        pue=pue,
        wue_l_per_kwh=wue,
        carbon_intensity_g_per_kwh=carbon,
        ewif_l_per_kwh=ewif,
        ewif_withdrawal_l_per_kwh=withdrawal,
        grid="TEST",
    )


# -- the formulas ------------------------------------------------------------------------


def test_each_quantity_follows_its_formula():
    it_energy_j = units.kwh_to_j(10.0)
    fp = compute(it_energy_j, site_with(pue=1.5, wue=0.4, carbon=300.0, ewif=3.0, withdrawal=7.0))
    assert fp.computed and fp.reason is None
    assert fp.facility_energy_j == pytest.approx(units.kwh_to_j(15.0))
    assert fp.water_l.onsite == pytest.approx(4.0)  # 10 kWh x 0.4 L/kWh
    assert fp.water_l.offsite == pytest.approx(45.0)  # 10 x 1.5 x 3.0
    assert fp.water_l.total == pytest.approx(49.0)
    assert fp.carbon_g == pytest.approx(4500.0)  # 10 x 1.5 x 300
    assert fp.offsite_water_withdrawal_l == pytest.approx(105.0)  # 10 x 1.5 x 7, not in total
    assert fp.factors == {
        "pue": 1.5,
        "wue_l_per_kwh": 0.4,
        "carbon_intensity_g_per_kwh": 300.0,
        "ewif_l_per_kwh": 3.0,
        "ewif_withdrawal_l_per_kwh": 7.0,
    }


def test_no_withdrawal_factor_means_no_withdrawal_figure():
    fp = compute(1e6, site_with(withdrawal=None))
    assert fp.offsite_water_withdrawal_l is None
    assert "ewif_withdrawal_l_per_kwh" not in fp.factors


def test_per_unit_and_per_thousand_units():
    fp = compute(units.kwh_to_j(2.0), site_with(), units_done=4000, unit="token")
    assert fp.per_unit.unit == "token" and fp.per_unit.per == 1
    assert fp.per_unit.it_energy_j == pytest.approx(units.kwh_to_j(2.0) / 4000)
    assert fp.per_unit.carbon_g == pytest.approx(fp.carbon_g / 4000)
    assert fp.per_1000_units.per == 1000
    assert fp.per_1000_units.water_l.total == pytest.approx(fp.water_l.total / 4)


@pytest.mark.parametrize("units_done", [None, 0])
def test_no_units_means_no_per_unit_figures(units_done):
    fp = compute(1e6, site_with(), units_done=units_done, unit="sample")
    assert fp.per_unit is None and fp.per_1000_units is None


def test_zero_energy_is_a_zero_footprint():
    fp = compute(0.0, site_with())
    assert (fp.facility_energy_j, fp.water_l.total, fp.carbon_g) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("energy", [-1.0, float("nan"), float("inf")])
def test_bad_energy_is_refused(energy):
    with pytest.raises(ValueError, match="it_energy_j"):
        compute(energy, site_with())


def test_negative_unit_count_is_refused():
    with pytest.raises(ValueError, match="units_done"):
        compute(1.0, site_with(), units_done=-5)


# -- properties --------------------------------------------------------------------------

energies = st.floats(min_value=0.0, max_value=1e15, allow_nan=False)
sites = st.builds(
    site_with,
    pue=st.floats(min_value=1.0, max_value=3.0),
    wue=st.floats(min_value=0.0, max_value=5.0),
    carbon=st.floats(min_value=0.0, max_value=1500.0),
    ewif=st.floats(min_value=0.0, max_value=20.0),
    withdrawal=st.none() | st.floats(min_value=0.0, max_value=100.0),
)


@given(energy=energies, scale=st.floats(min_value=0.0, max_value=1e3), site=sites)
def test_footprint_is_linear_in_energy(energy, scale, site):
    one, scaled = compute(energy, site), compute(energy * scale, site)
    for a, b in [
        (one.facility_energy_j, scaled.facility_energy_j),
        (one.water_l.onsite, scaled.water_l.onsite),
        (one.water_l.offsite, scaled.water_l.offsite),
        (one.carbon_g, scaled.carbon_g),
    ]:
        assert b == pytest.approx(a * scale, rel=1e-9, abs=1e-9)


@given(energy=energies, site=sites, units_done=st.floats(min_value=1e-3, max_value=1e9))
def test_total_is_onsite_plus_offsite_and_units_add_back_up(energy, site, units_done):
    fp = compute(energy, site, units_done=units_done, unit="query")
    block = fp.to_dict()["water_l"]
    assert block["total"] == block["onsite"] + block["offsite"]
    assert fp.facility_energy_j >= fp.it_energy_j
    assert fp.per_unit.carbon_g * units_done == pytest.approx(fp.carbon_g, rel=1e-9, abs=1e-12)
    assert fp.per_1000_units.water_l.total == pytest.approx(
        1000 * fp.per_unit.water_l.total, rel=1e-9, abs=1e-12
    )


@given(energy=energies, withdrawal=st.floats(min_value=0.0, max_value=100.0))
def test_withdrawal_never_enters_consumption(energy, withdrawal):
    without = compute(energy, site_with(withdrawal=None))
    with_factor = compute(energy, site_with(withdrawal=withdrawal))
    assert with_factor.water_l == without.water_l


# -- acceptance: FR vs CN differ exactly by the shipped factors ---------------------------


def test_fr_and_cn_differ_in_carbon_and_offsite_water_by_the_ratio_of_shipped_factors():
    it_energy_j = 7.2e9
    base = Site.from_preset("hyperscale")
    fr = compute(it_energy_j, base.with_overrides(grid="FR"))
    cn = compute(it_energy_j, base.with_overrides(grid="CN"))
    carbon_ratio = shipped("grid_carbon.csv", "CN", "carbon_intensity_g_per_kwh") / shipped(
        "grid_carbon.csv", "FR", "carbon_intensity_g_per_kwh"
    )
    water_ratio = shipped("grid_water.csv", "CN", "ewif_hydro_included_l_per_kwh") / shipped(
        "grid_water.csv", "FR", "ewif_hydro_included_l_per_kwh"
    )
    assert cn.carbon_g / fr.carbon_g == pytest.approx(carbon_ratio, rel=1e-12)
    assert cn.water_l.offsite / fr.water_l.offsite == pytest.approx(water_ratio, rel=1e-12)
    assert cn.water_l.onsite == fr.water_l.onsite
    assert cn.facility_energy_j == fr.facility_energy_j
    assert carbon_ratio > 5  # the two grids are far apart, so the test can fail


# -- published figures reproduced from the papers' own inputs -----------------------------

# Li, Yang, Islam and Ren (2023), "Making AI Less 'Thirsty': Uncovering and Addressing the
# Secret Water Footprint of AI Models", arXiv:2304.03271, Table 1, row "U.S. Average".
# Inputs: GPT-3 training energy 1,287 MWh (from Patterson et al. 2021, which the paper
# treats as server energy), PUE 1.170, on-site WUE 0.550 L/kWh, off-site EWIF 3.142 L/kWh.
# Published (million litres, 3 decimals): on-site 0.708, off-site 4.731, total 5.439.
LI_ENERGY_MWH = 1287.0
LI_PUE = 1.170
LI_WUE_L_PER_KWH = 0.550
LI_EWIF_L_PER_KWH = 3.142
LI_PUBLISHED_ML = {"onsite": 0.708, "offsite": 4.731, "total": 5.439}

# Patterson et al. (2021), "Carbon Emissions and Large Neural Network Training",
# arXiv:2104.10350, Table 4, GPT-3: total energy 1,287 MWh at PUE 1.10, grid
# 0.429 kg CO2e/kWh, published 552 tCO2e. The 1,287 MWh already includes the PUE
# (10,000 V100 x 14.8 days x 330 W x 1.10 = 1,289 MWh), so IT energy = 1,287 / 1.10 MWh.
PATTERSON_FACILITY_ENERGY_MWH = 1287.0
PATTERSON_PUE = 1.10
PATTERSON_INTENSITY_G_PER_KWH = 429.0
PATTERSON_PUBLISHED_T = 552


def test_li_2023_gpt3_training_water_is_reproduced():
    site = Site(
        name="Li et al. 2023, U.S. average",
        pue=LI_PUE,
        wue_l_per_kwh=LI_WUE_L_PER_KWH,
        ewif_l_per_kwh=LI_EWIF_L_PER_KWH,
        grid="US",
    )
    fp = compute(units.kwh_to_j(LI_ENERGY_MWH * MWH_IN_KWH), site)
    ours_ml = {k: v / 1e6 for k, v in fp.water_l.to_dict().items()}
    print("\nLi et al. 2023 GPT-3 training water (million L), paper vs greenai:")
    for key, published in LI_PUBLISHED_ML.items():
        print(f"  {key:8} {published:.3f}  {ours_ml[key]:.6f}")
        assert round(ours_ml[key], 3) == published


def test_patterson_2021_gpt3_training_carbon_is_reproduced():
    site = Site(
        name="Patterson et al. 2021, GPT-3",
        pue=PATTERSON_PUE,
        carbon_intensity_g_per_kwh=PATTERSON_INTENSITY_G_PER_KWH,
        grid="US",
    )
    it_energy_kwh = PATTERSON_FACILITY_ENERGY_MWH * MWH_IN_KWH / PATTERSON_PUE
    fp = compute(units.kwh_to_j(it_energy_kwh), site)
    tonnes = fp.carbon_g / 1e6
    print(f"\nPatterson et al. 2021 GPT-3 carbon (t CO2e): paper {PATTERSON_PUBLISHED_T}")
    print(f"  greenai {tonnes:.3f}")
    assert units.j_to_kwh(fp.facility_energy_j) / MWH_IN_KWH == pytest.approx(1287.0)
    assert round(tonnes) == PATTERSON_PUBLISHED_T


# -- not computed, and the disclosure block ----------------------------------------------


def test_not_computed_keeps_the_reason_and_the_energy():
    fp = Footprint.not_computed("unknown grid region 'XQ'", it_energy_j=123.0)
    assert not fp.computed
    assert fp.reason == "unknown grid region 'XQ'"
    assert fp.it_energy_j == 123.0 and fp.carbon_g is None and fp.water_l is None
    block = fp.to_dict()
    assert block["computed"] is False and block["reason"] == fp.reason
    assert Footprint.from_dict(json.loads(json.dumps(block))) == fp


def test_footprint_block_round_trips_through_json():
    fp = compute(3.6e8, Site(grid="FR"), units_done=250, unit="sample")
    block = json.loads(json.dumps(fp.to_dict()))
    assert block["water_basis"] == "consumption"
    assert block["water_l"]["total"] == fp.water_l.total
    assert block["site"] == "custom" and block["grid"] == "FR"
    assert Footprint.from_dict(block) == fp


def test_malformed_footprint_block_is_a_disclosure_error():
    with pytest.raises(DisclosureError, match="footprint block"):
        Footprint.from_dict({"computed": True, "water_l": {"onsite": 1.0}})


def test_water_total_is_derived():
    assert Water(onsite=1.5, offsite=2.25).total == 3.75
