"""NVIDIA GPUs through NVML (``import pynvml``, from the nvidia-ml-py package).

Volta and newer expose a total-energy counter (mJ since the driver loaded): it is read at
window edges and is exact to its ~100 ms update. Older GPUs only give power (mW), which
the sampler integrates. On Ampere (except GA100) and newer, power is a 1 s average.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from greenai import units
from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

# NVML architecture ids from nvml.h (NVML_DEVICE_ARCH_*): from Ampere on, power is averaged.
_ARCH_NAMES = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada",
    9: "hopper",
    10: "blackwell",
}
_AVERAGED_POWER_FROM_ARCH = 7


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_cuda_visible_devices(value: str | None) -> list[str] | None:
    """Return the entries of CUDA_VISIBLE_DEVICES (None when unset: every GPU is visible).

    Like the CUDA runtime, parsing stops at the first entry that is neither an index nor
    a UUID (e.g. "-1"), and an empty value hides every GPU.
    """
    if value is None:
        return None
    entries: list[str] = []
    for raw in value.split(","):
        item = raw.strip()
        if item.isdigit() or item.startswith(("GPU-", "MIG-")):
            entries.append(item)
        else:
            break
    return entries


class NvmlGpuProbe:
    """One NVIDIA GPU: energy counter (J) when supported, else power (W)."""

    domain = "gpu"
    counts_in_total = True
    wrap_j = None  # a 64-bit mJ counter: wraps after ~584 million years at 1 kW

    def __init__(self, nvml: Any, handle: Any, index: int, cuda_index: int):
        self._nvml = nvml
        self._handle = handle
        self.index = index
        self.cuda_index = cuda_index
        self.name = _text(nvml.nvmlDeviceGetName(handle))
        self.uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        self.id = f"nvml:{cuda_index}"
        self.max_power_w = self._optional(nvml.nvmlDeviceGetEnforcedPowerLimit, units.mw_to_w)
        self.arch = self._optional(getattr(nvml, "nvmlDeviceGetArchitecture", None), int)
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            self.method = Method.COUNTER
        except nvml.NVMLError_NotSupported:
            self.method = Method.POWER
        except nvml.NVMLError as exc:
            raise ProbeError(f"GPU {index} ({self.name}): energy counter: {exc}") from exc
        if self.method is Method.POWER:
            self.read()  # fail now, at discovery, if power cannot be read either
            self.read_raw = None
            self.raw_per_j = None
        else:  # the sampler's fast path: the raw mJ counter, no wrapper (read() names errors)
            self.read_raw = functools.partial(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
            self.raw_per_j = units.MJ_PER_J

    def _optional(self, fn: Any, convert: Any) -> Any:
        if fn is None:
            return None
        try:
            return convert(fn(self._handle))
        except self._nvml.NVMLError:
            return None

    def read(self) -> float:
        """Return cumulative energy (J) for counter GPUs, power (W) otherwise."""
        nvml = self._nvml
        try:
            if self.method is Method.COUNTER:
                return units.mj_to_j(nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
            return units.mw_to_w(nvml.nvmlDeviceGetPowerUsage(self._handle))
        except nvml.NVMLError as exc:
            raise ProbeError(
                f"GPU {self.cuda_index} ({self.uuid}): {type(exc).__name__}: {exc}"
            ) from exc

    def info(self) -> dict[str, Any]:
        """Return name, UUID, power limit, driver version and how power is reported."""
        out: dict[str, Any] = {
            "source": "nvml",
            "name": self.name,
            "uuid": self.uuid,
            "nvml_index": self.index,
            "cuda_index": self.cuda_index,
            "power_limit_w": self.max_power_w,
            "driver_version": _driver_version(self._nvml),
            "boundary": "whole GPU board (GPU, memory, board), as NVML reports it",
            "reading": "nvmlDeviceGetTotalEnergyConsumption (mJ)"
            if self.method is Method.COUNTER
            else "nvmlDeviceGetPowerUsage (mW), integrated",
        }
        if self.arch is not None:
            out["architecture"] = _ARCH_NAMES.get(self.arch, str(self.arch))
            if self.method is Method.POWER and self.arch >= _AVERAGED_POWER_FROM_ARCH:
                out["power_averaging"] = "1 s moving average (NVML, Ampere and newer)"
        return out

    def close(self) -> None:
        """Handles need no release; NVML shutdown is left to process exit."""


def _driver_version(nvml: Any) -> str | None:
    try:
        return _text(nvml.nvmlSystemGetDriverVersion())
    except nvml.NVMLError:
        return None


ENV_NVML = "GREENAI_NVML"  # auto (default): only where an NVIDIA driver shows; on; off
_DRIVER_SIGNS = (
    "/dev/nvidiactl",
    "/proc/driver/nvidia/version",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
)


def _driver_present() -> bool:
    import sys

    if not sys.platform.startswith("linux"):
        return True  # no cheap sign to look for: let NVML itself say
    return any(os.path.exists(p) for p in _DRIVER_SIGNS)


def discover(env: dict[str, str] | None = None) -> Discovery:
    """Return one probe per GPU visible to this process, and why others are unusable."""
    import sys

    env = os.environ if env is None else env
    found = Discovery()
    mode = env.get(ENV_NVML, "auto").lower()
    if mode == "off":
        found.unavailable.append(ProbeUnavailable("nvml", f"{ENV_NVML}=off"))
        return found
    if mode == "auto" and "pynvml" not in sys.modules and not _driver_present():
        # importing pynvml costs ~20 ms of every meter's start-up; skip it where no driver is
        found.unavailable.append(
            ProbeUnavailable(
                "nvml",
                "no NVIDIA driver here (no /dev/nvidiactl or /proc/driver/nvidia)",
                f"Install the NVIDIA driver, or set {ENV_NVML}=on to probe NVML anyway.",
            )
        )
        return found
    try:
        import pynvml as nvml
    except ImportError:
        found.unavailable.append(
            ProbeUnavailable("nvml", "pynvml is not installed", "pip install nvidia-ml-py")
        )
        return found
    try:
        nvml.nvmlInit()
        count = nvml.nvmlDeviceGetCount()
    except nvml.NVMLError as exc:
        found.unavailable.append(
            ProbeUnavailable(
                "nvml",
                f"NVML could not start: {exc} (no NVIDIA GPU or driver here)",
                "Install the NVIDIA driver, or ignore this on machines without NVIDIA GPUs.",
            )
        )
        return found

    wanted = parse_cuda_visible_devices(env.get("CUDA_VISIBLE_DEVICES"))
    selected: list[tuple[int, Any]] = []  # (cuda index, handle)
    if wanted is None:
        for i in range(count):
            selected.append((i, i))
    else:
        if not wanted:
            found.unavailable.append(
                ProbeUnavailable("nvml", "CUDA_VISIBLE_DEVICES hides every GPU from this process")
            )
        uuids: list[str] | None = None
        for cuda_index, item in enumerate(wanted):
            if item.isdigit():
                if int(item) >= count:
                    found.unavailable.append(
                        ProbeUnavailable(
                            f"nvml:{cuda_index}",
                            f"CUDA_VISIBLE_DEVICES names GPU {item}, but NVML sees {count}",
                        )
                    )
                    break  # CUDA ignores the rest after an invalid ordinal
                selected.append((cuda_index, int(item)))
            elif item.startswith("MIG-"):
                found.unavailable.append(
                    ProbeUnavailable(
                        f"nvml:{cuda_index}",
                        f"{item} is a MIG instance: NVML meters the whole GPU, not an instance",
                        "Meter the parent GPU from a process that owns it.",
                    )
                )
            else:
                if uuids is None:
                    uuids = [_uuid_at(nvml, i) for i in range(count)]
                hits = [i for i, u in enumerate(uuids) if u and u.startswith(item)]
                if len(hits) != 1:
                    found.unavailable.append(
                        ProbeUnavailable(
                            f"nvml:{cuda_index}",
                            f"CUDA_VISIBLE_DEVICES entry {item} matches {len(hits)} GPUs",
                        )
                    )
                    break
                selected.append((cuda_index, hits[0]))
    for cuda_index, nvml_index in selected:
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(nvml_index)
            found.probes.append(NvmlGpuProbe(nvml, handle, nvml_index, cuda_index))
        except (nvml.NVMLError, ProbeError) as exc:
            found.unavailable.append(
                ProbeUnavailable(f"nvml:{cuda_index}", f"GPU {nvml_index}: {exc}")
            )
    return found


def _uuid_at(nvml: Any, index: int) -> str | None:
    try:
        return _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(index)))
    except nvml.NVMLError:
        return None
