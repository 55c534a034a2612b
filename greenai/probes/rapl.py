"""Linux powercap (RAPL) probes: Intel and AMD CPUs through the same sysfs tree.

Zones look like ``intel-rapl:0`` (package-0), ``intel-rapl:0:0`` (core), ``intel-rapl:0:1``
(uncore), ``intel-rapl:0:2`` (dram), ``intel-rapl:1`` (psys on many laptops and servers).
Package contains core and uncore; psys contains package and dram: only zones that do
not overlap count towards the total. ``intel-rapl-mmio`` repeats package energy through
another interface and is skipped. Each probe keeps its ``energy_uj`` file open and reads
it with ``pread`` (no process and no open() per sample); wraparound is undone by the
sampler from ``wrap_j``.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenai import units
from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_ROOT = "GREENAI_POWERCAP_ROOT"
DEFAULT_ROOT = "/sys/class/powercap"
# When a zone publishes no max power, assume a generous ceiling so the wrap-safe poll
# interval stays conservative (the highest-TDP server CPUs are ~500 W per package).
ASSUMED_MAX_POWER_W = 1000.0

_ZONE_BOUNDARY = {  # what a zone measures, as Intel's SDM and the powercap docs say
    "package": "CPU package (cores, uncore, caches, integrated GPU)",
    "core": "CPU cores of the package",
    "uncore": "uncore of the package (integrated GPU on client parts)",
    "dram": "DRAM attached to the package",
    "psys": "platform (SoC and board: package, DRAM, PCH, more)",
}
# compiled (and kept by re) where a powercap folder is listed, not on every start-up
_ZONE_RE = r"^(intel-rapl(?:-mmio)?):(\d+(?::\d+)*)$"

PERMISSION_REMEDY = (
    "energy_uj is readable only by root since CVE-2020-8694. Run as root, or grant read "
    "access: `sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj` (until reboot), or a udev rule "
    '`ACTION=="add", SUBSYSTEM=="powercap", RUN+="/bin/chmod o+r /sys%p/energy_uj"`. '
    "Falling back to the CPU model."
)


@dataclass
class RaplZoneProbe:
    """One powercap zone read as a cumulative energy counter (J)."""

    id: str
    domain: str
    zone_name: str
    path: Path
    counts_in_total: bool
    wrap_j: float | None
    max_power_w: float | None
    contained_in: str | None = None
    method: Method = Method.COUNTER
    _fd: int | None = field(default=None, repr=False)
    raw_per_j: float = units.UJ_PER_J  # read_raw gives microjoules

    def open(self) -> None:
        """Open energy_uj for repeated reads; raise ProbeError if it cannot be read."""
        energy_file = self.path / "energy_uj"
        try:
            self._fd = os.open(energy_file, os.O_RDONLY)
            # the sampler's fast path: one pread, no Python frame (close() drops it, so a
            # closed zone never reads a descriptor number the process has reused)
            self.read_raw = functools.partial(os.pread, self._fd, 32, 0)  # type: ignore[method-assign]
            self.read()
        except PermissionError as exc:
            self.close()
            raise ProbeError(f"{energy_file}: permission denied") from exc
        except OSError as exc:
            self.close()
            raise ProbeError(f"{energy_file}: {exc.strerror or exc}") from exc

    def read_raw(self) -> bytes:
        """Return energy_uj as read (the sampler's fast path; read() names an error)."""
        return os.pread(self._fd, 32, 0)  # type: ignore[arg-type]  # closed: TypeError

    def read(self) -> float:
        """Return the raw counter in joules (wraps at wrap_j)."""
        if self._fd is None:
            raise ProbeError(f"{self.id}: probe is closed")
        try:
            raw = os.pread(self._fd, 32, 0)
            return units.uj_to_j(int(raw))
        except OSError as exc:
            raise ProbeError(f"{self.path / 'energy_uj'}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise ProbeError(f"{self.path / 'energy_uj'}: not an integer: {raw!r}") from exc

    def info(self) -> dict[str, Any]:
        """Return static facts about the zone."""
        out: dict[str, Any] = {
            "source": "linux-powercap",
            "zone": self.path.name,
            "zone_name": self.zone_name,
            "max_energy_range_j": self.wrap_j,
            "boundary": _ZONE_BOUNDARY.get(self.zone_name.split("-")[0].lower(), self.zone_name),
        }
        if self.max_power_w is not None:
            out["max_power_w"] = self.max_power_w
        if self.contained_in:
            out["contained_in"] = self.contained_in
        return out

    def close(self) -> None:
        """Close the energy file."""
        self.__dict__.pop("read_raw", None)  # back to the method: closed, it raises
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def powercap_root() -> Path:
    """Return the powercap root directory (GREENAI_POWERCAP_ROOT or /sys/class/powercap)."""
    return Path(os.environ.get(ENV_ROOT, DEFAULT_ROOT))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_number(path: Path) -> float | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _zone_max_power_w(zone: Path) -> float | None:
    """Return the largest max_power (or power limit) any constraint publishes, in W."""
    best: float | None = None
    for name in ("max_power_uw", "power_limit_uw"):
        for f in sorted(zone.glob(f"constraint_*_{name}")):
            value = _read_number(f)
            if value and value > 0:
                watts = units.uw_to_w(value)
                best = watts if best is None else max(best, watts)
        if best is not None:
            return best
    return None


def _classify(zone_name: str, is_subzone: bool) -> tuple[str, bool]:
    """Return (domain, counts_in_total) for a zone name (psys resolved by the caller)."""
    name = zone_name.lower()
    if name.startswith("package"):
        return "cpu", True
    if name == "dram":
        return "dram", True
    if name == "psys":
        return "system", False
    if name in ("core", "uncore"):
        return "cpu", False
    # Unknown zones are recorded but never summed: we cannot know what they overlap.
    return ("cpu" if is_subzone else "system"), False


def discover(root: Path | None = None) -> Discovery:
    """Return a probe for every readable RAPL zone, and why each other zone is unusable."""
    root = root or powercap_root()
    found = Discovery()
    if not root.is_dir():
        found.unavailable.append(
            ProbeUnavailable(
                "rapl",
                f"{root} does not exist (no powercap: not Linux, a VM or container without RAPL, "
                "or the intel_rapl/amd_energy driver is not loaded)",
                "Use bare metal with `modprobe intel_rapl_common`, or set GREENAI_POWERCAP_ROOT.",
            )
        )
        return found

    zones: list[tuple[str, str, Path]] = []  # (control, index, path)
    zone = re.compile(_ZONE_RE).match
    for entry in sorted(os.listdir(root)):
        m = zone(entry)
        if m:
            zones.append((m.group(1), m.group(2), root / entry))
    if not zones:
        found.unavailable.append(ProbeUnavailable("rapl", f"{root} has no intel-rapl zones", ""))
        return found

    names = {(c, i): _read_text(p / "name") or f"zone-{i}" for c, i, p in zones}
    has_package = any(
        c == "intel-rapl" and ":" not in i and n.startswith("package")
        for (c, i), n in names.items()
    )
    for control, index, path in zones:
        zone_name = names[(control, index)]
        is_subzone = ":" in index
        probe_id = f"rapl:{zone_name}" if not is_subzone else None
        if control == "intel-rapl-mmio":
            found.unavailable.append(
                ProbeUnavailable(
                    f"rapl-mmio:{zone_name}",
                    f"{path.name} reports the same energy as the intel-rapl {zone_name} zone "
                    "through MMIO; skipped so it is not counted twice",
                )
            )
            continue
        domain, counts = _classify(zone_name, is_subzone)
        contained_in = None
        if is_subzone:
            parent_index = index.rsplit(":", 1)[0]
            parent_name = names.get((control, parent_index), f"zone-{parent_index}")
            probe_id = f"rapl:{parent_name}/{zone_name}"
            if zone_name.lower() == "dram":
                # Package energy excludes DRAM, so a dram subzone adds to the total.
                probe_id = f"rapl:dram-{parent_name.removeprefix('package-')}"
            else:
                contained_in = f"rapl:{parent_name}"
        elif zone_name.lower() == "psys":
            if has_package:
                contained_in = "rapl:package-*, rapl:dram-*"
            else:
                counts = True
        wrap_uj = _read_number(path / "max_energy_range_uj")
        probe = RaplZoneProbe(
            id=probe_id or f"rapl:{zone_name}",
            domain=domain,
            zone_name=zone_name,
            path=path,
            counts_in_total=counts,
            wrap_j=units.uj_to_j(wrap_uj) if wrap_uj else None,
            max_power_w=_zone_max_power_w(path) or ASSUMED_MAX_POWER_W,
            contained_in=contained_in,
        )
        if _read_text(path / "enabled") == "0":
            found.unavailable.append(
                ProbeUnavailable(probe.id, f"{path.name} is disabled (enabled=0)")
            )
            continue
        try:
            probe.open()
        except ProbeError as exc:
            permission = "permission denied" in str(exc)
            found.unavailable.append(
                ProbeUnavailable(
                    probe.id,
                    str(exc),
                    PERMISSION_REMEDY if permission else "Check the powercap driver.",
                )
            )
            continue
        found.probes.append(probe)
    return found
