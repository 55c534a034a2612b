"""Linux hwmon sensors: Jetson and ARM-board INA3221/INA2xx rails, Intel GPUs, ACPI meters.

One generic reader of ``/sys/class/hwmon/hwmon*`` (the kernel's sysfs-interface ABI):

- ``energy<N>_input``: cumulative energy in uJ (i915/xe ``energy1_input``, amd_energy,
  some BMC-less boards). A COUNTER probe; the ABI value is an unsigned 64-bit integer, so
  it wraps at 2^64 uJ.
- ``power<N>_input`` / ``power<N>_average``: power in uW (INA2xx, amdgpu, ACPI
  ``power_meter`` on Grace-class servers). A POWER probe, integrated by the sampler.
- ``in<N>_input`` (mV) x ``curr<N>_input`` (mA): rails of an INA3221 (NVIDIA Jetson), which
  publishes no power file. A POWER probe of V x I.

Every reading comes from a sensor, so provenance is ``measured``. Rail names map to the
cpu/gpu/dram/system domains; what contains what is decided as RAPL's psys is: a container
(Jetson ``VDD_IN``/``POM_5V_IN``, xe ``card``, Grace ``Module``) is kept out of the total
while its parts are metered, and counts when it is the only channel of its device. Each
read opens the file afresh: when a device goes away (unbound, hot-unplugged) its sysfs
directory vanishes and the read fails with a clear error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenai import units
from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_ROOT = "GREENAI_HWMON_ROOT"
DEFAULT_ROOT = "/sys/class/hwmon"
WRAP_UJ = 2**64  # the sysfs ABI prints energy as an unsigned 64-bit integer (uJ)
# A ceiling for wrap safety when a sensor publishes no limit (a 64-bit uJ counter never
# wraps in practice, so this only keeps the sampler's arithmetic bounded).
ASSUMED_MAX_POWER_W = 5000.0

# compiled (and kept by re) where a hwmon device is listed, not on every start-up
_CHANNEL_RE = r"^(energy|power|curr|in)(\d+)_(input|average|label|enable)$"

# Board input rails: the whole module's input, containing every other rail of the device.
_INPUT_RAILS = ("VDD_IN", "POM_5V_IN")


def rail_domain(label: str) -> str:
    """Return the domain of a rail by its name (Jetson/ARM board conventions)."""
    name = label.upper()
    if "GPU" in name and "CPU" not in name:
        return "gpu"
    if "CPU" in name:  # VDD_CPU_GPU_CV on Orin: CPU, GPU and vision cores on one rail
        return "cpu"
    if "DDR" in name or "VDDRQ" in name or "DRAM" in name or "MEM" in name:
        return "dram"
    return "system"  # SOC, CV, IO, board input


def is_input_rail(label: str) -> bool:
    """Return True for a rail that feeds the whole board (contains the others)."""
    return label.upper() in _INPUT_RAILS or label.upper().endswith("_IN")


@dataclass
class HwmonProbe:
    """One hwmon channel: energy counter (J), power (W), or V x I (W)."""

    id: str
    domain: str
    method: Method
    device: str  # hwmon driver name (ina3221, i915, xe, power_meter, ...)
    label: str
    files: tuple[Path, ...]  # energy or power file; or (voltage, current)
    kind: str  # energy | power | vi
    counts_in_total: bool = True
    contained_in: str | None = None
    contains: str | None = None
    max_power_w: float | None = ASSUMED_MAX_POWER_W

    @property
    def wrap_j(self) -> float | None:
        return units.uj_to_j(WRAP_UJ) if self.kind == "energy" else None

    def _number(self, path: Path) -> int:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                raw = os.read(fd, 64)
            finally:
                os.close(fd)
        except FileNotFoundError as exc:
            raise ProbeError(f"{path}: the device went away (file no longer exists)") from exc
        except PermissionError as exc:
            raise ProbeError(f"{path}: permission denied") from exc
        except OSError as exc:
            raise ProbeError(f"{path}: {exc.strerror or exc}") from exc
        try:
            return int(raw)
        except ValueError as exc:
            raise ProbeError(f"{path}: not an integer: {raw!r}") from exc

    def read(self) -> float:
        """Return cumulative J (energy channels) or W (power and V x I channels)."""
        if self.kind == "energy":
            return units.uj_to_j(self._number(self.files[0]))
        if self.kind == "power":
            return units.uw_to_w(self._number(self.files[0]))
        millivolts = self._number(self.files[0])
        milliamps = self._number(self.files[1])
        return millivolts * milliamps / 1e6

    def info(self) -> dict[str, Any]:
        """Return the sensor, its files and units, and what it contains."""
        reading = {
            "energy": f"{self.files[0].name} (uJ, 64-bit counter)",
            "power": f"{self.files[0].name} (uW), integrated",
            "vi": f"{self.files[0].name} (mV) x {self.files[-1].name} (mA), integrated",
        }[self.kind]
        out: dict[str, Any] = {
            "source": "linux-hwmon",
            "name": f"{self.device} {self.label}",
            "hwmon": self.files[0].parent.name,
            "driver": self.device,
            "label": self.label,
            "reading": reading,
            "boundary": _boundary(self.device, self.label),
        }
        if self.contained_in:
            out["contained_in"] = self.contained_in
        if self.contains:
            out["contains"] = self.contains
        return out

    def close(self) -> None:
        """Nothing is held open between reads."""


def _boundary(device: str, label: str) -> str:
    if device in ("i915", "xe"):
        return f"Intel GPU {label or 'card'} (hwmon energy1_input)"
    if device == "power_meter":
        return f"ACPI power meter: {label or 'platform'}"
    if device.startswith("ina"):
        return f"board rail {label} (shunt sensor)"
    return f"{device} sensor {label}"


def hwmon_root() -> Path:
    """Return the hwmon root (GREENAI_HWMON_ROOT or /sys/class/hwmon)."""
    return Path(os.environ.get(ENV_ROOT, DEFAULT_ROOT))


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _device_domain(device: str, label: str) -> str:
    if device in ("i915", "xe", "amdgpu", "nouveau"):
        return "gpu"
    if device == "power_meter":
        low = label.lower()
        if low.startswith("cpu"):
            return "cpu"
        return "system"
    if device in ("amd_energy", "zenergy"):
        return "cpu"
    return rail_domain(label)


def _channels(path: Path) -> dict[int, dict[str, Path]]:
    chans: dict[int, dict[str, Path]] = {}
    try:
        entries = sorted(os.listdir(path))
    except OSError:
        return chans
    channel = re.compile(_CHANNEL_RE).match
    for entry in entries:
        m = channel(entry)
        if m:
            kind, index, attr = m.group(1), int(m.group(2)), m.group(3)
            chans.setdefault(index, {})[f"{kind}_{attr}"] = path / entry
    return chans


def _device_probes(dev: Path, device: str, found: Discovery, tag: str = "") -> list[HwmonProbe]:
    chans = _channels(dev)
    probes: list[HwmonProbe] = []
    oem = _text(dev / "device" / "power1_oem_info")  # Grace: "Module Power Socket 0"
    for index, files in sorted(chans.items()):
        label = ""
        for key in ("energy_label", "power_label", "in_label", "curr_label"):
            if key in files:
                label = _text(files[key]) or ""
                break
        if not label and oem and index == 1:
            label = oem
        name = label or f"channel{index}"
        if label.upper() == "NC":
            continue  # an INA3221 channel marked not connected (Jetson AGX Orin)
        if "in_enable" in files and _text(files["in_enable"]) == "0":
            found.unavailable.append(
                ProbeUnavailable(
                    f"hwmon:{device}/{name}",
                    f"{dev.name} channel {index} is disabled (in{index}_enable=0)",
                )
            )
            continue
        if "energy_input" in files:
            kind, used = "energy", (files["energy_input"],)
        elif "power_input" in files or "power_average" in files:
            kind, used = "power", (files.get("power_input") or files["power_average"],)
        elif "curr_input" in files and "in_input" in files:
            kind, used = "vi", (files["in_input"], files["curr_input"])
        else:
            continue
        probes.append(
            HwmonProbe(
                # an unlabelled channel of a driver with several devices (two Intel
                # GPUs) is told apart by its hwmon directory
                id=f"hwmon:{device}{tag if not label else ''}/{name}",
                domain=_device_domain(device, label),
                method=Method.COUNTER if kind == "energy" else Method.POWER,
                device=device,
                label=label,
                files=used,
                kind=kind,
            )
        )
    _resolve_containment(device, probes)
    return probes


def _resolve_containment(device: str, probes: list[HwmonProbe]) -> None:
    """Keep containers out of the total while their parts are metered (as RAPL psys)."""
    if len(probes) < 2:
        return
    if device in ("amd_energy", "zenergy"):  # per-core counters sit inside their socket's
        sockets = [p for p in probes if p.label.lower().startswith("esocket")]
        for p in probes:
            if p.label.lower().startswith("ecore"):
                p.counts_in_total = False
                p.contained_in = ", ".join(s.id for s in sockets) or None
        return
    low = {p.label.lower(): p for p in probes}
    container: HwmonProbe | None = None
    if device == "xe" and "card" in low:
        container = low["card"]  # xe: card = package + VRAM and board
    elif device == "power_meter" or device.startswith("ina"):
        return  # resolved across devices: _resolve_power_meters, _resolve_board_rails
    if container is None:
        return
    parts = [p for p in probes if p is not container]
    container.counts_in_total = False
    container.contains = ", ".join(p.id for p in parts)
    for p in parts:
        p.contained_in = container.id


def _resolve_board_rails(probes: list[HwmonProbe]) -> None:
    """A board input rail (Jetson ``VDD_IN``) contains every other shunt-sensor rail.

    Boards spread their rails over several INA3221s (TX2: GPU and SOC on one, ``VDD_IN``,
    CPU and DDR on another), so the rule spans the board, not one hwmon device.
    """
    rails = [p for p in probes if p.device.startswith("ina")]
    inputs = [p for p in rails if is_input_rail(p.label)]
    parts = [p for p in rails if p not in inputs]
    if not inputs or not parts:
        return
    for rail in inputs:
        rail.counts_in_total = False
        rail.contains = ", ".join(p.id for p in parts)
    for p in parts:
        p.contained_in = ", ".join(r.id for r in inputs)


def _resolve_power_meters(probes: list[HwmonProbe]) -> None:
    """ACPI power meters, one per hwmon device: Grace-class Module > Grace > CPU, SysIO.

    A Module meter covers the whole socket (Grace, memory, and the Hopper GPU on GH200,
    which NVML also meters), so it is compared, never added. A Grace meter contains the
    CPU and SysIO meters of its socket and counts only without them. A meter whose
    ``power1_oem_info`` does not say what it covers (most servers: the platform) is
    compared only, as the node wall is: what it overlaps is not known.
    """
    meters = [p for p in probes if p.device == "power_meter"]
    by_socket: dict[str, dict[str, HwmonProbe]] = {}
    for p in meters:
        low = p.label.lower()
        kind = next((k for k in ("module", "grace", "cpu", "sysio") if low.startswith(k)), None)
        if kind is None:
            p.counts_in_total = False
            p.contains = "the platform, as the firmware meters it (not stated: compared only)"
            continue
        socket = low.rsplit("socket", 1)[-1].strip() if "socket" in low else "0"
        by_socket.setdefault(socket, {})[kind] = p
    for kinds in by_socket.values():
        parts = [kinds[k] for k in ("cpu", "sysio") if k in kinds]
        grace = kinds.get("grace")
        if grace is not None and parts:
            grace.counts_in_total = False
            grace.contains = ", ".join(p.id for p in parts)
            for p in parts:
                p.contained_in = grace.id
        module = kinds.get("module")
        if module is not None:
            module.counts_in_total = False
            inner = [p.id for p in (grace, *parts) if p is not None]
            module.contains = ", ".join([*inner, "memory", "the GPU on GH200 (also NVML's)"])


def discover(root: Path | None = None, skip_drivers: tuple[str, ...] = ()) -> Discovery:
    """Return a probe for every readable hwmon energy/power channel, and why others fail."""
    root = root or hwmon_root()
    found = Discovery()
    if not root.is_dir():
        found.unavailable.append(
            ProbeUnavailable(
                "hwmon",
                f"{root} does not exist (not Linux, a container without /sys/class, "
                "or no hwmon driver loaded)",
                f"Set {ENV_ROOT} to a hwmon tree, or load the sensor driver (ina3221, i915).",
            )
        )
        return found
    devices = sorted(e for e in os.listdir(root) if e.startswith("hwmon"))
    drivers = [_text(root / e / "name") or e for e in devices]
    any_channel = False
    for entry in devices:
        dev = root / entry
        device = _text(dev / "name") or entry
        if device in skip_drivers:
            found.unavailable.append(
                ProbeUnavailable(
                    f"hwmon:{device}",
                    f"{entry} ({device}) is read through its vendor library instead; "
                    "skipped so it is not counted twice",
                )
            )
            continue
        tag = f"@{entry}" if drivers.count(device) > 1 else ""
        for probe in _device_probes(dev, device, found, tag):
            any_channel = True
            try:
                probe.read()
            except ProbeError as exc:
                perm = "permission denied" in str(exc)
                found.unavailable.append(
                    ProbeUnavailable(
                        probe.id,
                        str(exc),
                        "Run as root or grant read access to the sensor file (udev rule)."
                        if perm
                        else "",
                    )
                )
                continue
            found.probes.append(probe)
    _resolve_power_meters(found.probes)
    _resolve_board_rails(found.probes)
    if not any_channel:
        found.unavailable.append(
            ProbeUnavailable(
                "hwmon",
                f"no energy or power sensor under {root} ({len(devices)} hwmon devices, "
                "none with energy*/power*/curr* channels)",
            )
        )
    return found
