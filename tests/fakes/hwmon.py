"""A Linux hwmon tree written to disk, laid out as the kernel lays it out.

/sys/class/hwmon/hwmonN is a symlink to the device's hwmon directory. Sensors hold values
in the sysfs-interface units: in*_input mV, curr*_input mA, power*_input/average uW,
energy*_input uJ (an unsigned 64-bit counter that wraps at 2^64). A sensor updates only
at its conversion rate (``update_s``): between updates a read returns the last value, as
an INA3221 averaging samples does. ``remove`` deletes the device directory, as unbinding
the driver does (reads then fail with ENOENT).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WRAP_UJ = 2**64


@dataclass
class FakeChannel:
    """One channel: power_w(t) drives energy (uJ), power (uW) or V x I (mV, mA)."""

    device: FakeHwmonDevice
    index: int
    kind: str  # energy | power | vi
    power_w: Callable[[float], float]
    volts: float = 5.0
    total_uj: float = 0.0  # true energy since creation (unwrapped)
    start_uj: int = 0  # counter offset (to start near the wrap)
    update_s: float = 0.0  # conversion interval: values change only at its multiples
    last_t_s: float | None = None
    last_update_s: float | None = None
    attr: str = "input"  # power channel: input or average

    def update(self, t_s: float) -> None:
        if self.last_t_s is not None:
            mid = 0.5 * (self.last_t_s + t_s)
            self.total_uj += self.power_w(mid) * (t_s - self.last_t_s) * 1e6
        self.last_t_s = t_s
        if (
            self.update_s
            and self.last_update_s is not None
            and t_s - self.last_update_s < self.update_s - 1e-12
        ):
            return
        self.last_update_s = t_s
        self.publish(t_s)

    def publish(self, t_s: float) -> None:
        d, n = self.device, self.index
        if not d.path.exists():
            return
        if self.kind == "energy":
            d.write(f"energy{n}_input", (self.start_uj + int(self.total_uj)) % WRAP_UJ)
        elif self.kind == "power":
            d.write(f"power{n}_{self.attr}", int(round(self.power_w(t_s) * 1e6)))
        else:
            amps = self.power_w(t_s) / self.volts
            d.write(f"in{n}_input", int(round(self.volts * 1000)))
            d.write(f"curr{n}_input", int(round(amps * 1000)))


@dataclass
class FakeHwmonDevice:
    path: Path
    name: str
    channels: list[FakeChannel] = field(default_factory=list)

    def write(self, filename: str, value: int | str) -> None:
        target = self.path / filename
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o444
        if target.exists():
            os.chmod(target, 0o600)
        with open(target, "w") as fh:
            fh.write(f"{value}\n")
        os.chmod(target, mode)

    def add(
        self,
        index: int,
        kind: str,
        power_w: float | Callable[[float], float],
        label: str | None = None,
        **kwargs: object,
    ) -> FakeChannel:
        fn = power_w if callable(power_w) else (lambda _t, p=power_w: p)
        ch = FakeChannel(self, index, kind, fn, **kwargs)  # type: ignore[arg-type]
        prefix = {"energy": "energy", "power": "power", "vi": "in"}[kind]
        if label is not None:
            self.write(f"{prefix}{index}_label", label)
        if kind == "vi":
            self.write(f"in{index}_enable", 1)
        ch.publish(0.0)
        self.channels.append(ch)
        return ch

    def remove(self) -> None:
        """The device goes away (driver unbound, board hot-unplugged)."""
        shutil.rmtree(self.path)


class FakeHwmon:
    """A /sys/class/hwmon tree under ``base``; ``update(t)`` advances every sensor."""

    def __init__(self, base: Path):
        self.root = base / "class" / "hwmon"
        self.devices_dir = base / "devices" / "platform"
        self.root.mkdir(parents=True, exist_ok=True)
        self.devices: list[FakeHwmonDevice] = []

    def add_device(self, name: str, oem_info: str | None = None) -> FakeHwmonDevice:
        n = len(self.devices)
        path = self.devices_dir / f"dev{n}" / "hwmon" / f"hwmon{n}"
        path.mkdir(parents=True)
        (self.root / f"hwmon{n}").symlink_to(os.path.relpath(path, self.root))
        dev = FakeHwmonDevice(path, name)
        dev.write("name", name)
        if oem_info is not None:
            (path / "device").mkdir()
            dev.write("device/power1_oem_info", oem_info)
        self.devices.append(dev)
        return dev

    def update(self, t_s: float) -> None:
        for dev in self.devices:
            for ch in dev.channels:
                ch.update(t_s)


def jetson_orin(base: Path, vdd_in_w: float = 15.0) -> FakeHwmon:
    """An Orin NX/Nano INA3221: VDD_IN (module input), VDD_CPU_GPU_CV, VDD_SOC."""
    tree = FakeHwmon(base)
    dev = tree.add_device("ina3221")
    dev.add(1, "vi", vdd_in_w, label="VDD_IN", volts=5.0, update_s=0.0)
    dev.add(2, "vi", 6.0, label="VDD_CPU_GPU_CV", volts=5.0)
    dev.add(3, "vi", 3.0, label="VDD_SOC", volts=5.0)
    return tree
