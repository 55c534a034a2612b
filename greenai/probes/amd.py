"""AMD Instinct and Radeon GPUs through AMD SMI (``import amdsmi``, ROCm 6+).

``amdsmi_get_energy_count`` returns a 64-bit energy accumulator and its resolution
(``counter_resolution``, uJ per tick, 15.3 on MI200/MI300): energy = ticks x resolution.
It is read at window edges like RAPL, the wrap at 2^64 ticks undone by the sampler. Where
the accumulator is not supported, socket power (``amdsmi_get_power_info``:
``current_socket_power``, else ``average_socket_power``, W) is integrated instead.

An MI300X split into compute partitions (CPX: eight logical GPUs per socket) shows one
processor handle per partition, but energy and power are the socket's: the first
partition of each socket (by PCI bus/device, function stripped) meters it; the others are
listed as contained in it, so the socket is counted once. The Python package loads
``libamd_smi.so`` when imported and fails (KeyError or OSError) without ROCm, so it is
imported only when an AMD GPU driver shows, and every failure is a reason, not a crash.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from greenai import units
from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_AMDSMI = "GREENAI_AMDSMI"  # auto (default): only where amdgpu/ROCm shows; on; off
_DRIVER_SIGNS = ("/dev/kfd", "/sys/module/amdgpu")
ACCUMULATOR_TICKS = 2**64
ASSUMED_MAX_POWER_W = 1000.0  # MI300X: 750 W; MI355X: 1400 W is covered by the cap query


def _err(amdsmi: Any, exc: Exception) -> str:
    info = getattr(exc, "err_info", None)
    return str(info or exc).strip().replace("\n", " ")


class AmdGpuProbe:
    """One AMD GPU socket: energy accumulator (J) when supported, else socket power (W)."""

    domain = "gpu"
    counts_in_total = True

    def __init__(self, amdsmi: Any, handle: Any, index: int, partitions: list[str]):
        self._amdsmi = amdsmi
        self._handle = handle
        self.index = index
        self.id = f"amdsmi:{index}"
        self.partitions = partitions
        self.bdf = self._optional(amdsmi.amdsmi_get_gpu_device_bdf)
        self.uuid = self._optional(amdsmi.amdsmi_get_gpu_device_uuid)
        asic = self._optional(amdsmi.amdsmi_get_gpu_asic_info) or {}
        self.name = asic.get("market_name") or "AMD GPU"
        self.partition_mode = self._optional(amdsmi.amdsmi_get_gpu_compute_partition)
        cap = self._optional(amdsmi.amdsmi_get_power_cap_info) or {}
        max_cap = cap.get("max_power_cap")
        self.max_power_w = ASSUMED_MAX_POWER_W
        if isinstance(max_cap, (int, float)) and max_cap > 0:
            # uW in the library's struct; some releases already give W
            self.max_power_w = units.uw_to_w(max_cap) if max_cap > 100_000 else float(max_cap)
        self.resolution_uj: float | None = None
        self._power_key: str | None = None
        try:
            count = amdsmi.amdsmi_get_energy_count(handle)
            self.resolution_uj = float(count["counter_resolution"])
            if not self.resolution_uj > 0:
                raise ProbeError(f"GPU {index}: energy counter resolution {self.resolution_uj}")
            self.method = Method.COUNTER
        except amdsmi.AmdSmiException as exc:
            if "NOT_SUPPORTED" not in _err(amdsmi, exc):
                raise ProbeError(
                    f"GPU {index} ({self.name}): energy count: {_err(amdsmi, exc)}"
                ) from exc
            self.method = Method.POWER
            info = self._power_info()
            for key in ("current_socket_power", "average_socket_power"):
                if isinstance(info.get(key), (int, float)):
                    self._power_key = key
                    break
            if self._power_key is None:
                raise ProbeError(
                    f"GPU {index} ({self.name}): neither the energy accumulator nor socket "
                    "power is supported"
                ) from None

    @property
    def wrap_j(self) -> float | None:
        if self.resolution_uj is None:
            return None
        return units.uj_to_j(ACCUMULATOR_TICKS * self.resolution_uj)

    def _optional(self, fn: Any) -> Any:
        try:
            return fn(self._handle)
        except self._amdsmi.AmdSmiException:
            return None

    def _power_info(self) -> dict[str, Any]:
        try:
            return self._amdsmi.amdsmi_get_power_info(self._handle)
        except self._amdsmi.AmdSmiException as exc:
            raise ProbeError(
                f"GPU {self.index} ({self.name}): power: {_err(self._amdsmi, exc)}"
            ) from exc

    def read(self) -> float:
        """Return cumulative energy (J) for accumulator GPUs, socket power (W) otherwise."""
        amdsmi = self._amdsmi
        try:
            if self.method is Method.COUNTER:
                count = amdsmi.amdsmi_get_energy_count(self._handle)
                return units.uj_to_j(count["energy_accumulator"] * self.resolution_uj)
        except amdsmi.AmdSmiException as exc:
            raise ProbeError(f"GPU {self.index} ({self.bdf}): {_err(amdsmi, exc)}") from exc
        value = self._power_info().get(self._power_key or "")
        if not isinstance(value, (int, float)):
            raise ProbeError(f"GPU {self.index} ({self.bdf}): {self._power_key} is {value!r}")
        return float(value)

    def info(self) -> dict[str, Any]:
        """Return name, UUID, PCI address, partitioning and how energy is read."""
        out: dict[str, Any] = {
            "source": "amdsmi",
            "name": self.name,
            "uuid": self.uuid,
            "bdf": self.bdf,
            "power_limit_w": self.max_power_w,
            "reading": (
                f"amdsmi_get_energy_count: energy_accumulator x counter_resolution "
                f"({self.resolution_uj:g} uJ), 64-bit"
                if self.method is Method.COUNTER
                else f"amdsmi_get_power_info {self._power_key} (W), integrated"
            ),
            "boundary": "GPU socket (package, HBM included)",
        }
        if self.partition_mode:
            out["compute_partition"] = self.partition_mode
        if len(self.partitions) > 1:
            out["contains"] = ", ".join(self.partitions)
        return out

    def close(self) -> None:
        """Handles need no release; amdsmi shutdown is left to process exit."""


def _driver_present() -> bool:
    return not sys.platform.startswith("linux") or any(os.path.exists(p) for p in _DRIVER_SIGNS)


def _socket_key(bdf: str | None, index: int) -> str:
    if not bdf:
        return f"#{index}"
    return bdf.rsplit(".", 1)[0]  # 0000:0c:00.3 -> 0000:0c:00 (partitions differ in function)


def discover(env: dict[str, str] | None = None) -> Discovery:
    """Return one probe per AMD GPU socket, and why others (or amdsmi) are unusable."""
    env = os.environ if env is None else env
    found = Discovery()
    mode = env.get(ENV_AMDSMI, "auto").lower()
    if mode == "off":
        found.unavailable.append(ProbeUnavailable("amdsmi", f"{ENV_AMDSMI}=off"))
        return found
    if mode == "auto" and "amdsmi" not in sys.modules and not _driver_present():
        found.unavailable.append(
            ProbeUnavailable(
                "amdsmi",
                "no AMD GPU driver here (no /dev/kfd or /sys/module/amdgpu)",
                f"Install ROCm and the amdgpu driver, or set {ENV_AMDSMI}=on to try amdsmi.",
            )
        )
        return found
    try:
        import amdsmi
    except ImportError:
        found.unavailable.append(
            ProbeUnavailable("amdsmi", "amdsmi is not installed", "pip install 'greenai[amd]'")
        )
        return found
    except Exception as exc:  # noqa: BLE001 - amdsmi raises KeyError/OSError without ROCm
        found.unavailable.append(
            ProbeUnavailable(
                "amdsmi",
                f"amdsmi cannot load libamd_smi.so ({type(exc).__name__}: {exc}): ROCm is missing",
                "Install ROCm 6 or newer (it ships libamd_smi.so).",
            )
        )
        return found
    try:
        amdsmi.amdsmi_init()
        handles = list(amdsmi.amdsmi_get_processor_handles())
    except amdsmi.AmdSmiException as exc:
        found.unavailable.append(
            ProbeUnavailable("amdsmi", f"AMD SMI could not start: {_err(amdsmi, exc)}")
        )
        return found
    if not handles:
        found.unavailable.append(ProbeUnavailable("amdsmi", "AMD SMI sees no GPU"))
        return found
    sockets: dict[str, list[tuple[int, Any, str | None]]] = {}
    for i, h in enumerate(handles):
        try:
            bdf = amdsmi.amdsmi_get_gpu_device_bdf(h)
        except amdsmi.AmdSmiException:
            bdf = None
        sockets.setdefault(_socket_key(bdf, i), []).append((i, h, bdf))
    for members in sockets.values():
        index, handle, _ = members[0]
        ids = [f"amdsmi:{i}" for i, _, _ in members]
        try:
            probe = AmdGpuProbe(amdsmi, handle, index, ids)
        except ProbeError as exc:
            found.unavailable.append(ProbeUnavailable(f"amdsmi:{index}", str(exc)))
            continue
        found.probes.append(probe)
        for i, _, bdf in members[1:]:
            found.unavailable.append(
                ProbeUnavailable(
                    f"amdsmi:{i}",
                    f"compute partition {bdf} shares its socket's energy: metered once, "
                    f"by {probe.id}",
                )
            )
    return found
