"""A Linux powercap tree written to disk, laid out as the kernel lays it out.

/sys/class/powercap/intel-rapl:0 is a symlink into /sys/devices/virtual/powercap/intel-rapl/,
subzones live inside their parent and are linked from the class directory too, energy_uj
wraps at max_energy_range_uj and can be made root-only (mode 0400, as since CVE-2020-8694).
Counters are rewritten in place (same inode) so readers holding the file open see updates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# A typical server package range: 2^32 uJ is ~4295 J on old parts; ~262 kJ on newer ones.
DEFAULT_RANGE_UJ = 262_143_328_850


@dataclass
class FakeZone:
    """One zone: energy accumulates at power_w(t) and wraps at max_range_uj."""

    path: Path
    name: str
    power_w: Callable[[float], float]
    max_range_uj: int
    total_uj: float = 0.0
    last_t_s: float | None = None
    frozen: bool = False  # a counter that stops advancing

    @property
    def energy_file(self) -> Path:
        return self.path / "energy_uj"

    def counter_uj(self) -> int:
        return int(self.total_uj) % self.max_range_uj

    def update(self, t_s: float) -> None:
        if self.last_t_s is not None and not self.frozen:
            # midpoint rule is exact for the constant and linear traces tests use
            mid = 0.5 * (self.last_t_s + t_s)
            self.total_uj += self.power_w(mid) * (t_s - self.last_t_s) * 1e6
        self.last_t_s = t_s
        self.write(self.counter_uj())

    def write(self, value_uj: int) -> None:
        # r+ keeps the inode: an fd the probe holds open sees the new value
        mode = self.energy_file.stat().st_mode
        os.chmod(self.energy_file, 0o600)
        with open(self.energy_file, "r+") as fh:
            fh.seek(0)
            fh.write(f"{value_uj}\n")
            fh.truncate()
        os.chmod(self.energy_file, mode & 0o777)

    def reset(self) -> None:
        """Make the counter start again from 0 (a driver reload, not a wrap)."""
        self.total_uj = 0.0
        self.write(0)


class FakePowercap:
    """Build a powercap tree under ``root`` and advance its counters with a clock."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "class" / "powercap"
        self.devices = base / "devices" / "virtual" / "powercap"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.devices / "intel-rapl").mkdir(parents=True, exist_ok=True)
        (self.root / "intel-rapl").symlink_to(
            os.path.relpath(self.devices / "intel-rapl", self.root)
        )
        self.zones: dict[str, FakeZone] = {}

    def add_zone(
        self,
        index: str,
        name: str,
        power_w: float | Callable[[float], float] = 10.0,
        max_range_uj: int = DEFAULT_RANGE_UJ,
        max_power_uw: int | None = None,
        root_only: bool = False,
        enabled: bool = True,
        control: str = "intel-rapl",
        start_uj: float = 0.0,
    ) -> FakeZone:
        """Add zone ``control:index`` (e.g. "0", "0:2") named ``name``; return it."""
        zone_id = f"{control}:{index}"
        parts = index.split(":")
        if len(parts) == 1:
            parent_dir = self.devices / control
        else:
            parent_dir = self.zones[f"{control}:{':'.join(parts[:-1])}"].path
        path = parent_dir / zone_id
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        (path / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
        (path / "enabled").write_text("1\n" if enabled else "0\n")
        if max_power_uw is not None:
            (path / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
            (path / "constraint_0_power_limit_uw").write_text(f"{max_power_uw}\n")
        (path / "energy_uj").write_text("0\n")
        os.chmod(path / "energy_uj", 0o400 if root_only else 0o444)
        (self.root / zone_id).symlink_to(os.path.relpath(path, self.root))
        fn = power_w if callable(power_w) else (lambda _t, p=power_w: p)
        zone = FakeZone(path, name, fn, max_range_uj, total_uj=start_uj)
        zone.write(zone.counter_uj())
        self.zones[zone_id] = zone
        return zone

    def update(self, t_s: float) -> None:
        """Bring every counter to time t_s."""
        for zone in self.zones.values():
            zone.update(t_s)

    def energy_j(self, zone_id: str) -> float:
        """Return the true (unwrapped) energy of a zone so far, in J."""
        return self.zones[zone_id].total_uj / 1e6


def server_tree(base: Path, **kwargs: object) -> FakePowercap:
    """Return a two-domain server tree: package-0 (core, uncore, dram) and psys."""
    tree = FakePowercap(base)
    tree.add_zone("0", "package-0", power_w=120.0, max_power_uw=280_000_000, **kwargs)
    tree.add_zone("0:0", "core", power_w=80.0, **kwargs)
    tree.add_zone("0:1", "uncore", power_w=15.0, **kwargs)
    tree.add_zone("0:2", "dram", power_w=20.0, **kwargs)
    tree.add_zone("1", "psys", power_w=170.0, **kwargs)
    return tree


def make_unreadable_to_others(tree: FakePowercap) -> None:
    """Make every energy_uj readable only by an owner that is not the test's process.

    As root, ownership goes to another uid (mode 0400 stays, as in /sys since
    CVE-2020-8694) and the reader must run without CAP_DAC_OVERRIDE (see
    ``unprivileged_command``); as a normal user, the mode goes to 0000.
    """
    for zone in tree.zones.values():
        if os.geteuid() == 0:
            os.chown(zone.energy_file, 65534, 65534)
            os.chmod(zone.energy_file, 0o400)
        else:
            os.chmod(zone.energy_file, 0)


def unprivileged_command(argv: list[str]) -> list[str] | None:
    """Return argv wrapped so that root loses its power to bypass file modes, or None."""
    if os.geteuid() != 0:
        return argv
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *argv]
