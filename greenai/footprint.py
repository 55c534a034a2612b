"""Footprint of a run: facility energy, on-site and off-site water, and carbon.

Pure functions of (IT energy, site): no clock, no files.

    facility energy  = IT energy x PUE
    on-site water    = IT energy x WUE                  (cooling, consumption)
    off-site water   = IT energy x PUE x EWIF           (power plants, consumption)
    carbon           = IT energy x PUE x grid intensity

Water is consumption (water evaporated, not returned). Where the grid has a withdrawal
factor, off-site withdrawal is reported on its own and never added to consumption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greenai import units
from greenai.errors import DisclosureError
from greenai.site import Site

PER_THOUSAND = 1000.0


@dataclass(frozen=True)
class Water:
    """Water volumes in litres: on-site (facility cooling) and off-site (power generation)."""

    onsite: float
    offsite: float

    @property
    def total(self) -> float:
        """Return on-site + off-site litres."""
        return self.onsite + self.offsite

    def scaled(self, factor: float) -> Water:
        """Return both volumes multiplied by factor."""
        return Water(onsite=self.onsite * factor, offsite=self.offsite * factor)

    def to_dict(self) -> dict[str, float]:
        """Return {onsite, offsite, total} in litres."""
        return {"onsite": self.onsite, "offsite": self.offsite, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Water:
        """Return the Water that to_dict() wrote (total is recomputed, not read)."""
        return cls(onsite=float(data["onsite"]), offsite=float(data["offsite"]))


@dataclass(frozen=True)
class PerUnits:
    """The footprint of `per` functional units (per 1 sample, per 1000 queries, ...)."""

    unit: str
    per: float
    it_energy_j: float
    facility_energy_j: float
    water_l: Water
    offsite_water_withdrawal_l: float | None
    carbon_g: float

    def to_dict(self) -> dict[str, Any]:
        """Return the per-unit figures with their unit and count."""
        return {
            "unit": self.unit,
            "per": self.per,
            "it_energy_j": self.it_energy_j,
            "facility_energy_j": self.facility_energy_j,
            "water_l": self.water_l.to_dict(),
            "offsite_water_withdrawal_l": self.offsite_water_withdrawal_l,
            "carbon_g": self.carbon_g,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerUnits:
        """Return the PerUnits that to_dict() wrote."""
        return cls(
            unit=data["unit"],
            per=float(data["per"]),
            it_energy_j=float(data["it_energy_j"]),
            facility_energy_j=float(data["facility_energy_j"]),
            water_l=Water.from_dict(data["water_l"]),
            offsite_water_withdrawal_l=_optional_float(data.get("offsite_water_withdrawal_l")),
            carbon_g=float(data["carbon_g"]),
        )


@dataclass(frozen=True)
class Footprint:
    """Facility energy (J), water (L, consumption) and carbon (g CO2e) of a run.

    When `computed` is False the figures are None and `reason` says why (a bad site,
    an unknown grid); the measurement itself is unaffected. `factors` holds the value
    of each site factor used; their sources are in the site block of the disclosure.
    """

    computed: bool
    reason: str | None = None
    site: str | None = None
    grid: str | None = None
    it_energy_j: float | None = None
    facility_energy_j: float | None = None
    water_l: Water | None = None
    offsite_water_withdrawal_l: float | None = None
    carbon_g: float | None = None
    unit: str | None = None
    units_done: float | None = None
    per_unit: PerUnits | None = None
    per_1000_units: PerUnits | None = None
    factors: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def not_computed(cls, reason: str, it_energy_j: float | None = None) -> Footprint:
        """Return a footprint marked as not computed, keeping the reason for the disclosure."""
        return cls(computed=False, reason=reason, it_energy_j=it_energy_j)

    def to_dict(self) -> dict[str, Any]:
        """Return the disclosure's footprint block."""
        return {
            "computed": self.computed,
            "reason": self.reason,
            "site": self.site,
            "grid": self.grid,
            "it_energy_j": self.it_energy_j,
            "facility_energy_j": self.facility_energy_j,
            "water_basis": "consumption",
            "water_l": None if self.water_l is None else self.water_l.to_dict(),
            "offsite_water_withdrawal_l": self.offsite_water_withdrawal_l,
            "carbon_g": self.carbon_g,
            "unit": self.unit,
            "units_done": self.units_done,
            "per_unit": None if self.per_unit is None else self.per_unit.to_dict(),
            "per_1000_units": (
                None if self.per_1000_units is None else self.per_1000_units.to_dict()
            ),
            "factors": dict(self.factors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "footprint block") -> Footprint:
        """Return the Footprint that to_dict() wrote; DisclosureError naming `where` if not."""
        if isinstance(data, Mapping) and data.get("computed") is True:
            # a computed footprint states its figures: later steps (embodied, reports) use them
            for key in ("it_energy_j", "facility_energy_j", "water_l", "carbon_g"):
                if data.get(key) is None:
                    raise DisclosureError(
                        f'{where}.{key}: missing, but the footprint says "computed": true '
                        '(write the figure, or "computed": false with a reason)'
                    )
        try:
            return cls(
                computed=bool(data["computed"]),
                reason=data.get("reason"),
                site=data.get("site"),
                grid=data.get("grid"),
                it_energy_j=_optional_float(data.get("it_energy_j")),
                facility_energy_j=_optional_float(data.get("facility_energy_j")),
                water_l=None if data.get("water_l") is None else Water.from_dict(data["water_l"]),
                offsite_water_withdrawal_l=_optional_float(data.get("offsite_water_withdrawal_l")),
                carbon_g=_optional_float(data.get("carbon_g")),
                unit=data.get("unit"),
                units_done=_optional_float(data.get("units_done")),
                per_unit=(
                    None if data.get("per_unit") is None else PerUnits.from_dict(data["per_unit"])
                ),
                per_1000_units=(
                    None
                    if data.get("per_1000_units") is None
                    else PerUnits.from_dict(data["per_1000_units"])
                ),
                factors={k: float(v) for k, v in (data.get("factors") or {}).items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DisclosureError(f"{where}: malformed ({exc!r})") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def compute(
    it_energy_j: float,
    site: Site,
    units_done: float | None = None,
    unit: str | None = None,
) -> Footprint:
    """Return the footprint of it_energy_j joules of IT energy run at `site`.

    Per-unit figures (per unit and per 1000 units) are given when units_done > 0.
    Raises ValueError for a negative or non-finite energy or unit count.
    """
    if not math.isfinite(it_energy_j) or it_energy_j < 0:
        raise ValueError(f"it_energy_j must be a finite number >= 0, got {it_energy_j!r}")
    if units_done is not None and (not math.isfinite(units_done) or units_done < 0):
        raise ValueError(f"units_done must be a finite number >= 0, got {units_done!r}")
    pue = site.pue.value
    it_energy_kwh = units.j_to_kwh(it_energy_j)
    facility_energy_kwh = it_energy_kwh * pue
    water_l = Water(
        onsite=it_energy_kwh * site.wue_l_per_kwh.value,
        offsite=facility_energy_kwh * site.ewif_l_per_kwh.value,
    )
    withdrawal = site.ewif_withdrawal_l_per_kwh
    withdrawal_l = None if withdrawal is None else facility_energy_kwh * withdrawal.value
    carbon_g = facility_energy_kwh * site.carbon_intensity_g_per_kwh.value
    facility_energy_j = it_energy_j * pue

    per_unit = per_1000_units = None
    if units_done is not None and units_done > 0:
        label = unit or "unit"

        def per(count: float) -> PerUnits:
            share = count / units_done
            return PerUnits(
                unit=label,
                per=count,
                it_energy_j=it_energy_j * share,
                facility_energy_j=facility_energy_j * share,
                water_l=water_l.scaled(share),
                offsite_water_withdrawal_l=None if withdrawal_l is None else withdrawal_l * share,
                carbon_g=carbon_g * share,
            )

        per_unit, per_1000_units = per(1.0), per(PER_THOUSAND)

    return Footprint(
        computed=True,
        site=site.name,
        grid=site.grid,
        it_energy_j=it_energy_j,
        facility_energy_j=facility_energy_j,
        water_l=water_l,
        offsite_water_withdrawal_l=withdrawal_l,
        carbon_g=carbon_g,
        unit=unit,
        units_done=units_done,
        per_unit=per_unit,
        per_1000_units=per_1000_units,
        factors={key: factor.value for key, factor in site.factors().items()},
    )
