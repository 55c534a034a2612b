"""Unit conversions: the only place where conversion factors appear."""

from __future__ import annotations

J_PER_KWH = 3.6e6
J_PER_WH = 3.6e3
UJ_PER_J = 1e6
MJ_PER_J = 1e3  # millijoules per joule (NVML reports mJ)
MW_PER_W = 1e3  # milliwatts per watt (NVML reports mW)
UW_PER_W = 1e6  # microwatts per watt (powercap constraints)
L_PER_US_GAL = 3.785411784
BYTES_PER_GB = 1e9
G_PER_LB = 453.59237


def uj_to_j(energy_uj: float) -> float:
    """Return joules from microjoules."""
    return energy_uj / UJ_PER_J


def mj_to_j(energy_mj: float) -> float:
    """Return joules from millijoules."""
    return energy_mj / MJ_PER_J


def mw_to_w(power_mw: float) -> float:
    """Return watts from milliwatts."""
    return power_mw / MW_PER_W


def uw_to_w(power_uw: float) -> float:
    """Return watts from microwatts."""
    return power_uw / UW_PER_W


def j_to_kwh(energy_j: float) -> float:
    """Return kilowatt-hours from joules."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Return joules from kilowatt-hours."""
    return energy_kwh * J_PER_KWH


def j_to_wh(energy_j: float) -> float:
    """Return watt-hours from joules."""
    return energy_j / J_PER_WH


def gal_per_mwh_to_l_per_kwh(gal_per_mwh: float) -> float:
    """Return litres per kWh from US gallons per MWh."""
    return gal_per_mwh * L_PER_US_GAL / 1000.0


def lb_per_mwh_to_g_per_kwh(lb_per_mwh: float) -> float:
    """Return grams per kWh from pounds per MWh."""
    return lb_per_mwh * G_PER_LB / 1000.0


def bytes_to_gb(size_bytes: float) -> float:
    """Return gigabytes (10^9 bytes) from bytes."""
    return size_bytes / BYTES_PER_GB

BYTES_PER_GIB = 2**30


def bytes_to_gib(size_bytes: float) -> float:
    """Return gibibytes (2^30 bytes) from bytes."""
    return size_bytes / BYTES_PER_GIB


# Units a standard file may state references in (see greenai/standard.py).
J_PER_MWH = 3.6e9
ENERGY_UNITS_J = {
    "J": 1.0,
    "kJ": 1e3,
    "MJ": 1e6,
    "Wh": J_PER_WH,
    "kWh": J_PER_KWH,
    "MWh": J_PER_MWH,
}
WATER_UNITS_L = {"mL": 1e-3, "L": 1.0, "m3": 1e3}


def energy_to_j(value: float, unit: str) -> float:
    """Return joules from an energy in one of ENERGY_UNITS_J (KeyError for another unit)."""
    return value * ENERGY_UNITS_J[unit]


def water_to_l(value: float, unit: str) -> float:
    """Return litres from a water volume in one of WATER_UNITS_L (KeyError for another unit)."""
    return value * WATER_UNITS_L[unit]
