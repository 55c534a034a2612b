"""Unit conversions: the only place where conversion factors appear."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
S_PER_HOUR = 3600.0
S_PER_YEAR = 365.25 * 24 * S_PER_HOUR  # Julian year: service lives are given in years


def years_to_s(years: float) -> float:
    """Return seconds from (Julian) years."""
    return years * S_PER_YEAR


def hours_to_s(hours: float) -> float:
    """Return seconds from hours."""
    return hours * S_PER_HOUR


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
CARBON_UNITS_G = {"mg": 1e-3, "g": 1.0, "kg": 1e3, "t": 1e6}  # CO2e masses a standard may state


def energy_to_j(value: float, unit: str) -> float:
    """Return joules from an energy in one of ENERGY_UNITS_J (KeyError for another unit)."""
    return value * ENERGY_UNITS_J[unit]


def water_to_l(value: float, unit: str) -> float:
    """Return litres from a water volume in one of WATER_UNITS_L (KeyError for another unit)."""
    return value * WATER_UNITS_L[unit]


# ----------------------------------------------------------------------- for people
# Every figure shown to a person (terminal, HTML, Markdown, labels, charts) is formatted
# here; JSON keeps base units (J, W, L, g, s, units per second).
MISSING = "–"
SI_PREFIXES = (
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "µ"),
    (1e-9, "n"),
)
# Functional units that are amounts of compute: shown per kFLOP ... per EFLOP as fits.
# Lower case, as units are matched case-insensitively (a milli-FLOP means nothing).
FLOP_UNITS = {
    "flop": 1.0,
    "kflop": 1e3,
    "mflop": 1e6,
    "gflop": 1e9,
    "tflop": 1e12,
    "pflop": 1e15,
    "eflop": 1e18,
}
_FLOP_PREFIXES = ((1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P"), (1e18, "E"))


def _finite(value: float | None) -> bool:
    return value is not None and not isinstance(value, bool) and math.isfinite(value)


def si_prefix(magnitude: float) -> tuple[float, str]:
    """Return (scale, prefix) that puts a magnitude in 1..999 (the smallest prefix below)."""
    return next(((s, p) for s, p in SI_PREFIXES if magnitude >= s * 0.9995), SI_PREFIXES[-1])


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Return a value with an SI prefix and `digits` significant digits ('870 J', '1.11 mL')."""
    if not _finite(value):
        return MISSING
    assert value is not None
    if value == 0:
        return f"0 {unit}".rstrip()
    scale, prefix = si_prefix(abs(value))
    text = f"{value / scale:.{digits}g}"
    if "e" in text:  # beyond the prefixes: plain scientific notation
        text, prefix = f"{value:.{digits - 1}e}", ""
    return f"{text} {prefix}{unit}".rstrip()


def significant(value: float, digits: int = 3) -> str:
    """Return value to `digits` significant digits, without exponent ('320', '45,210', '0.0012')."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if not 1e-9 <= magnitude < 1e15:
        return f"{value:.{digits - 1}e}"
    rounded = float(f"{magnitude:.{digits}g}")  # 9.996 -> 10.0: decimals from the rounded value
    decimals = max(0, digits - 1 - math.floor(math.log10(rounded)))
    return f"{value:,.{decimals}f}"


@dataclass(frozen=True)
class Scale:
    """How to show one kind of figure: multiply the base-unit value by `factor`, add `label`."""

    factor: float
    label: str

    def number(self, value: float | None, digits: int = 3) -> str:
        """Return the value scaled, without its label (for CI bounds and table cells)."""
        if not _finite(value):
            return MISSING
        assert value is not None
        return significant(value * self.factor, digits)

    def __call__(self, value: float | None, digits: int = 3) -> str:
        """Return the value scaled, with its label ('85.3 J/TFLOP')."""
        text = self.number(value, digits)
        return text if text == MISSING else f"{text} {self.label}"


def _unit_name(unit: object) -> str:
    """Return a functional unit's name as shown; 'unit' when there is none (or not text)."""
    return unit if isinstance(unit, str) and unit else "unit"


def energy_per_unit_scale(j_per_unit: float | None, unit: str | None) -> Scale:
    """Return the Scale that shows J per functional unit readably (mJ/query, J/TFLOP)."""
    return per_unit_scale(j_per_unit, unit, "J")


def per_unit_scale(value: float | None, unit: str | None, quantity: str = "J") -> Scale:
    """Return the Scale that shows a quantity (J, L, g CO2e) per functional unit readably:
    '70.5 µJ/query', '130 J/TFLOP' (per amount of compute, the FLOP prefix moves, not J's)."""
    unit = _unit_name(unit)
    flop = FLOP_UNITS.get(unit.lower())
    magnitude = abs(value) if _finite(value) and value else 1.0
    if flop is not None:
        per_flop = magnitude / flop
        for scale, prefix in _FLOP_PREFIXES:
            if 0.9995 <= per_flop * scale < 999.5:
                return Scale(scale / flop, f"{quantity}/{prefix}FLOP")
        unit = unit_label(unit)
    scale, prefix = si_prefix(magnitude)
    return Scale(1 / scale, f"{prefix}{quantity}/{unit}")


def per_unit(value: float | None, unit: str | None, quantity: str = "J") -> str:
    """Return a quantity per functional unit in its one spelling ('130 J/TFLOP')."""
    return per_unit_scale(value, unit, quantity)(value)


def parse_functional_unit(text: object) -> tuple[float, str] | None:
    """Return (amount, unit) of a standard's functional unit text ('1000 gflop', 'token');
    None when it is not of that form."""
    if not isinstance(text, str) or not text.strip():
        return None
    parts = text.split()
    if len(parts) == 1:
        return 1.0, parts[0]
    try:
        amount_ = float(parts[0])
    except ValueError:
        return None
    return (amount_, " ".join(parts[1:])) if math.isfinite(amount_) and amount_ > 0 else None


def rate_scale(units_per_s: float | None, unit: str | None) -> Scale:
    """Return the Scale that shows a throughput readably (GFLOP/s, 1,250 query/s)."""
    unit = _unit_name(unit)
    flop = FLOP_UNITS.get(unit.lower())
    magnitude = abs(units_per_s) if _finite(units_per_s) and units_per_s else 1.0
    if flop is not None:
        scale, prefix = si_prefix(magnitude * flop)
        if prefix in ("m", "µ", "n"):
            scale, prefix = 1.0, ""
        return Scale(flop / scale, f"{prefix}FLOP/s")
    if magnitude >= 1e7:
        scale, prefix = si_prefix(magnitude)
        return Scale(1 / scale, f"{prefix} {unit}/s")
    return Scale(1.0, f"{unit}/s")


def with_ci(
    scale: Scale,
    mean: float | None,
    low: float | None,
    high: float | None,
    n: int | None = None,
) -> str:
    """Return '85.3 J/TFLOP ±2.5 % (95 % CI 83.2-87.5, n=3)'; the bounds in the mean's unit."""
    text = scale(mean)
    if text == MISSING or not (_finite(low) and _finite(high)):
        return text
    assert mean is not None and low is not None and high is not None
    count = f", n={n}" if n is not None else ""
    if n is not None and n < 2:
        return f"{text} (n=1, no interval)"
    relative = max(high - mean, mean - low) / abs(mean) if mean else math.inf
    sep = "-" if low >= 0 else " to "
    pct = f"{relative * 100:.2g}" if relative < 0.1 else f"{relative * 100:.0f}"
    return (
        f"{text} ±{pct} % (95 % CI {scale.number(low, 2 if relative >= 0.1 else 3)}{sep}"
        f"{scale.number(high, 2 if relative >= 0.1 else 3)}{count})"
    )


def duration(seconds: float | None) -> str:
    """Return a duration readably: '121 ms', '12.3 s', '2 min 05 s', '1 h 02 min'."""
    if not _finite(seconds):
        return MISSING
    assert seconds is not None
    if abs(seconds) < 59.95:
        return si(seconds, "s")
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def amount(value: float | None, unit: str | None) -> str:
    """Return a count of functional units ('1,000 query', '8.85 M token', '3.14 GFLOP').

    Amounts of compute are shown with the FLOP prefix that fits, spelled as FLOP units are
    everywhere else ('GFLOP', never 'gflop' or '3.1e-06 pflop').
    """
    if not _finite(value):
        return MISSING
    assert value is not None
    name = _unit_name(unit)
    flop = FLOP_UNITS.get(name.lower())
    if flop is not None:
        total = value * flop
        if total == 0:
            return "0 FLOP"
        scale, prefix = next(
            ((s, p) for s, p in reversed(_FLOP_PREFIXES) if abs(total) >= s * 0.9995), (1.0, "")
        )
        return f"{significant(total / scale)} {prefix}FLOP"
    if float(value).is_integer() and abs(value) < 1e7:
        return f"{int(value):,} {name}"
    if abs(value) >= 1e7:
        scale, prefix = si_prefix(abs(value))
        return f"{significant(value / scale)} {prefix} {name}"
    return f"{significant(value)} {name}"


def unit_label(unit: str | None) -> str:
    """Return a functional unit's name as shown: FLOP units in their one spelling ('GFLOP')."""
    name = _unit_name(unit)
    flop = FLOP_UNITS.get(name.lower())
    if flop is None:
        return name
    return f"{name[:-4].upper()}FLOP" if len(name) > 4 else "FLOP"


def index(value: float | None) -> str:
    """Return an efficiency index as a plain number, 3 significant digits ('0.0000916', '2.61')."""
    if not _finite(value):
        return MISSING
    assert value is not None
    return significant(value, 3)


def percent(fraction: float | None) -> str:
    """Return a fraction as a percentage without exponent ('2.5 %', '44,300 %')."""
    if not _finite(fraction):
        return MISSING
    assert fraction is not None
    pct = fraction * 100
    return f"{significant(pct, 2) if abs(pct) < 10 else significant(pct, 3)} %"


def plain(value: object, digits: int = 4) -> str:
    """Return a figure without unit for a table: integers as integers, floats to `digits`
    significant digits, never in exponent notation; booleans as yes/no."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return MISSING
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.0f}"
        return significant(value, digits)
    return str(value)


def machine(value: float) -> str:
    """Return a float exactly (its shortest round-trip digits) without exponent notation,
    for CSV and other files that programs read back ('0.000022681883640464665')."""
    if not math.isfinite(value):
        return repr(value)
    from decimal import Decimal

    text = format(Decimal(repr(value)), "f")
    return text


def si_axis(ax_axis: object, unit: str = "") -> None:
    """Give a matplotlib axis readable SI tick labels (EngFormatter: '500 m', '1.5 k'), no
    offset or exponent text ('1e-7' above the axis)."""
    from matplotlib.ticker import EngFormatter

    ax_axis.set_major_formatter(EngFormatter(unit=unit, places=None, sep=" "))  # type: ignore[attr-defined]


def placement(rank: int, population: int) -> str:
    """Return where a run ranks among `population` results, lower energy first: 'best of 23',
    'rank 5 of 23, top 22 %', 'above all 23' (a rank past the last result)."""
    if rank <= 1:
        return f"best of {population}"
    if rank > population:
        return f"above all {population}"
    return f"rank {rank} of {population}, top {significant(100.0 * rank / population, 2)} %"
