"""Build embodied_boavizta.csv and cpu_die.csv from BoaviztAPI's component models, offline.

    python standards/factors/build_embodied.py            # rewrites the two generated files
    python standards/factors/build_embodied.py --out DIR  # writes them elsewhere

Needs the `boaviztapi` package (AGPL-3.0, Boavizta) installed in the interpreter that runs
this script; greenai itself never imports it (it pulls in fastapi, pandas and scipy and needs
Python >= 3.11). What is taken is numbers (impact factors and the results of Boavizta's
published formulas), each row naming the package version; see README.md in this directory.
Same inputs, same bytes: rows in a fixed order, fixed decimals, no timestamps.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = (
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
YEAR = 2026  # release year of boaviztapi 2.5.0 (PyPI, 2026-10)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _rows() -> list[dict[str, str]]:
    import pandas as pd
    from boaviztapi import data_dir
    from boaviztapi.compute import impacts_computation as ic
    from boaviztapi.models.component.case import ComponentCase
    from boaviztapi.models.component.cpu import ComponentCPU
    from boaviztapi.models.component.gpu import ComponentGPU
    from boaviztapi.models.component.hdd import ComponentHDD
    from boaviztapi.models.component.power_supply import ComponentPowerSupply
    from boaviztapi.models.component.ram import ComponentRAM
    from boaviztapi.models.component.ssd import ComponentSSD

    version = importlib.metadata.version("boaviztapi")
    base = f"BoaviztAPI {version} (Boavizta, AGPL-3.0)"

    def impacts(fn, component, scale=1.0):  # full manufacture impact: duration = service life
        life = component.usage.hours_life_time.value
        out = {}
        for kind in ("gwp", "adp", "wu"):
            try:
                out[kind] = fn(kind, life, component)[0] / scale
            except (KeyError, TypeError, NotImplementedError):
                out[kind] = None
        return out

    def row(component, model, per, found, source, note=""):
        return {
            "component": component,
            "model": model,
            "per": per,
            "carbon_kg": _fmt(found["gwp"]),
            "adp_kg_sb": _fmt(found["adp"]),
            "water_deprivation_m3_eq": _fmt(found.get("wu")),
            "source": f"{base}: {source}",
            "year": str(YEAR),
            "kind": "modelled",
            "note": note,
        }

    rows = []
    specs = pd.read_csv(Path(data_dir) / "crowdsourcing" / "gpu_specs.csv")
    for name in sorted(specs["name"]):
        gpu = ComponentGPU()
        gpu.name.set_input(name)
        rows.append(
            row(
                "gpu",
                name,
                "device",
                impacts(ic.gpu_impact_embedded, gpu),
                "GPU manufacture model (die, VRAM, printed wiring board, heatsink, casing, "
                "transport) with data/crowdsourcing/gpu_specs.csv",
            )
        )
    gpu = ComponentGPU()
    rows.append(
        row(
            "gpu",
            "default",
            "device",
            impacts(ic.gpu_impact_embedded, gpu),
            f"GPU manufacture model, default archetype ({gpu.name.value})",
            "Used when the run's GPU is not in this table.",
        )
    )
    cpu = ComponentCPU()
    rows.append(
        row(
            "cpu",
            "default",
            "device",
            impacts(ic.cpu_impact_embedded, cpu),
            f"CPU model, default archetype (die {cpu.die_size.value:g} mm2)",
            "Used when the host CPU is not in cpu_die.csv.",
        )
    )
    die = {k: ic.get_impact_factor(item="cpu", impact_type=k) for k in ("gwp", "adp")}
    rows.append(
        row(
            "cpu",
            "die",
            "mm2",
            {"gwp": die["gwp"]["die_impact"], "adp": die["adp"]["die_impact"]},
            "data/factors.yml cpu die_impact (CPU = die area x die_impact + impact)",
        )
    )
    rows.append(
        row(
            "cpu",
            "package",
            "device",
            {"gwp": die["gwp"]["impact"], "adp": die["adp"]["impact"]},
            "data/factors.yml cpu impact (packaging and everything but the die)",
        )
    )
    ram = ComponentRAM()
    ram.capacity.set_input(32)
    rows.append(
        row(
            "dram",
            "default",
            "GB",
            impacts(ic.ram_impact_embedded, ram, scale=32),
            f"RAM model, one 32 GB module at the mean density {ram.density.value:.4g} GB/cm2 "
            "of data/crowdsourcing/ram_manufacture.csv, per GB",
        )
    )
    ssd = ComponentSSD()
    ssd.capacity.set_input(1000)
    rows.append(
        row(
            "ssd",
            "default",
            "TB",
            impacts(ic.ssd_impact_embedded, ssd),
            f"SSD model, one 1 TB drive at the mean density {ssd.density.value:.4g} GB/cm2 "
            "of data/crowdsourcing/ssd_manufacture.csv, per TB",
        )
    )
    hdd = ComponentHDD()
    rows.append(
        row(
            "hdd",
            "default",
            "device",
            impacts(ic.hdd_impact_embedded, hdd),
            "HDD model (one 3.5-inch drive; Boavizta does not scale it with capacity)",
        )
    )
    psu = ComponentPowerSupply()
    rows.append(
        row(
            "psu",
            "default",
            "device",
            impacts(ic.power_supply_impact_embedded, psu),
            f"power supply model, default unit weight {psu.unit_weight.value:g} kg",
        )
    )
    # motherboard and assembly carry no service life of their own: their factor is the impact
    parts = [
        impacts(ic.casing_impact_embedded, ComponentCase()),
        *(
            {k: ic.get_impact_factor(item=item, impact_type=k)["impact"] for k in ("gwp", "adp")}
            for item in ("motherboard", "assembly")
        ),
    ]
    chassis = {
        k: None if any(p[k] is None for p in parts) else sum(p[k] for p in parts)
        for k in ("gwp", "adp")
    }
    rows.append(
        row(
            "server",
            "rack chassis",
            "device",
            chassis,
            "rack case + motherboard + assembly of the server model (CPUs, memory, storage "
            "and power supplies are counted on their own rows)",
        )
    )
    return rows


def _cpu_die_rows() -> list[dict[str, str]]:
    import pandas as pd
    from boaviztapi import data_dir

    specs = pd.read_csv(Path(data_dir) / "crowdsourcing" / "cpu_specs.csv")
    out = []
    for _, r in specs.sort_values("name").iterrows():
        if pd.isna(r["total_die_size"]):
            continue
        out.append(
            {
                "name": r["name"],
                "die_mm2": f"{float(r['total_die_size']):g}",
                "page": r["source"] if isinstance(r["source"], str) else "",
            }
        )
    return out


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embodied_boavizta.csv").write_text(_csv(_rows(), COLUMNS), encoding="utf-8")
    (args.out / "cpu_die.csv").write_text(
        _csv(_cpu_die_rows(), ("name", "die_mm2", "page")), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
