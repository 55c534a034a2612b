"""A stand-in for NVIDIA's ``pynvml`` (nvidia-ml-py) with NVML's units and error classes.

Put this directory first on sys.path (or PYTHONPATH) and ``import pynvml`` gets it.
Configure it in-process with ``configure(gpus, clock)`` or, for a subprocess, with the
env var GREENAI_FAKE_NVML naming a JSON file: {"gpus": [{...FakeGpu fields...}]}; a
subprocess uses the real monotonic clock. Without configuration, nvmlInit fails the way
it does on a machine without the driver (NVMLError_LibraryNotFound).

Units as NVML: energy in mJ (int, since driver load), power in mW (int), limits in mW.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Like pynvml's: ``NVMLError(code)`` builds the subclass that matches the code."""

    _value_class: dict[int, type] = {}

    def __new__(cls, value: int):
        if cls is NVMLError:
            cls = NVMLError._value_class.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _STRINGS.get(self.value, f"Unknown Error {self.value}")


def _error_class(name: str, code: int) -> type:
    cls = type(name, (NVMLError,), {})
    NVMLError._value_class[code] = cls
    return cls


NVMLError_Uninitialized = _error_class("NVMLError_Uninitialized", NVML_ERROR_UNINITIALIZED)
NVMLError_InvalidArgument = _error_class("NVMLError_InvalidArgument", NVML_ERROR_INVALID_ARGUMENT)
NVMLError_NotSupported = _error_class("NVMLError_NotSupported", NVML_ERROR_NOT_SUPPORTED)
NVMLError_NoPermission = _error_class("NVMLError_NoPermission", NVML_ERROR_NO_PERMISSION)
NVMLError_NotFound = _error_class("NVMLError_NotFound", NVML_ERROR_NOT_FOUND)
NVMLError_DriverNotLoaded = _error_class("NVMLError_DriverNotLoaded", NVML_ERROR_DRIVER_NOT_LOADED)
NVMLError_LibraryNotFound = _error_class("NVMLError_LibraryNotFound", NVML_ERROR_LIBRARY_NOT_FOUND)
NVMLError_GpuIsLost = _error_class("NVMLError_GpuIsLost", NVML_ERROR_GPU_IS_LOST)
NVMLError_Unknown = _error_class("NVMLError_Unknown", NVML_ERROR_UNKNOWN)

NVML_DEVICE_ARCH_VOLTA = 5
NVML_DEVICE_ARCH_AMPERE = 7
NVML_DEVICE_ARCH_HOPPER = 9


@dataclass
class FakeGpu:
    """One fake GPU. power_w is constant or a function of time (s)."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    power_w: float | Callable[[float], float] = 300.0
    energy_supported: bool = True  # False: a pre-Volta GPU, power only
    arch: int = NVML_DEVICE_ARCH_HOPPER
    power_limit_mw: int = 700_000
    lost_at_s: float | None = None  # after this time every call raises GpuIsLost
    energy_not_supported_at_s: float | None = None  # energy call starts failing NotSupported
    start_energy_mj: int = 123_456_789  # the counter runs since the driver loaded
    # issue 14 (validation kit): how real readings deviate; the defaults keep readings exact
    power_scale: float = 1.0  # power reads this times the power the counter accumulates
    energy_update_period_s: float = 0.0  # counter steps this often (~0.1 s on real GPUs)
    power_average_s: float = 0.0  # power is a trailing mean over this long (1 s on Hopper)

    def power_at(self, t_s: float) -> float:
        return self.power_w(t_s) if callable(self.power_w) else float(self.power_w)


class _State:
    gpus: list[FakeGpu] | None = None
    clock: Callable[[], float] = time.monotonic
    t0: float | None = None
    initialised = 0
    driver = "550.54.15"
    calls = 0


def configure(gpus: list[FakeGpu] | None, clock: Callable[[], float] = time.monotonic) -> None:
    """Set the fake GPUs (None: no driver) and the clock; resets NVML state."""
    _State.gpus = gpus
    _State.clock = clock
    _State.t0 = clock()
    _State.initialised = 0


def _load_env_config() -> None:
    path = os.environ.get("GREENAI_FAKE_NVML")
    if _State.gpus is None and path:
        with open(path) as fh:
            doc = json.load(fh)
        configure([gpu_from_config(g) for g in doc["gpus"]])


def _check_init() -> None:
    if not _State.initialised:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)


def nvmlInit() -> None:
    _load_env_config()
    if _State.gpus is None:
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
    if _State.t0 is None:
        _State.t0 = _State.clock()
    _State.initialised += 1


def nvmlShutdown() -> None:
    _check_init()
    _State.initialised -= 1


def nvmlSystemGetDriverVersion() -> str:
    _check_init()
    return _State.driver


def nvmlDeviceGetCount() -> int:
    _check_init()
    return len(_State.gpus or [])


class _Handle:
    def __init__(self, index: int):
        self.index = index

    @property
    def gpu(self) -> FakeGpu:
        return (_State.gpus or [])[self.index]


def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
    _check_init()
    if not 0 <= index < len(_State.gpus or []):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _Handle(index)


def nvmlDeviceGetHandleByUUID(uuid: str | bytes) -> _Handle:
    _check_init()
    text = uuid.decode() if isinstance(uuid, bytes) else uuid
    for i, g in enumerate(_State.gpus or []):
        if g.uuid == text:
            return _Handle(i)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def _live(handle: _Handle) -> tuple[FakeGpu, float]:
    _check_init()
    _State.calls += 1
    gpu = handle.gpu
    t = _State.clock()
    if gpu.lost_at_s is not None and t - (_State.t0 or 0.0) >= gpu.lost_at_s:
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    return gpu, t


def nvmlDeviceGetName(handle: _Handle) -> str:
    return _live(handle)[0].name


def nvmlDeviceGetUUID(handle: _Handle) -> str:
    return _live(handle)[0].uuid


def nvmlDeviceGetArchitecture(handle: _Handle) -> int:
    return _live(handle)[0].arch


def nvmlDeviceGetEnforcedPowerLimit(handle: _Handle) -> int:
    return _live(handle)[0].power_limit_mw


def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:
    gpu, t = _live(handle)
    return int(round(_reported_power_w(gpu, t) * 1000))


def nvmlDeviceGetTotalEnergyConsumption(handle: _Handle) -> int:
    gpu, t = _live(handle)
    rel = t - (_State.t0 or 0.0)
    if not gpu.energy_supported or (
        gpu.energy_not_supported_at_s is not None and rel >= gpu.energy_not_supported_at_s
    ):
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    rel = _counter_time_s(gpu, rel)
    if callable(gpu.power_w):
        # integrate the trace by the midpoint rule at 1 ms: tests use smooth traces
        steps = max(int(rel / 0.001), 1)
        h = rel / steps
        joules = sum(gpu.power_w(_State.t0 + (k + 0.5) * h) for k in range(steps)) * h
    else:
        joules = gpu.power_w * rel
    return gpu.start_energy_mj + int(joules * 1000)


# --- issue 14: realism of readings (counter update period, averaged and biased power) ---


def _counter_time_s(gpu: FakeGpu, rel_s: float) -> float:
    """Return the time (s since t0) of the counter's last update, as a stepping counter does."""
    period = gpu.energy_update_period_s
    return rel_s if period <= 0 else period * int(rel_s / period)


def _reported_power_w(gpu: FakeGpu, t_s: float) -> float:
    """Return power as NVML reports it: a trailing mean (Ampere and newer), times power_scale."""
    window = min(gpu.power_average_s, t_s - (_State.t0 or 0.0))
    if window <= 0 or not callable(gpu.power_w):
        return gpu.power_at(t_s) * gpu.power_scale
    steps = max(int(window / 0.001), 1)  # midpoint rule at 1 ms, as the counter
    h = window / steps
    mean = sum(gpu.power_w(t_s - window + (k + 0.5) * h) for k in range(steps)) / steps
    return mean * gpu.power_scale


# ===================================================================== power limits (issue 12)
# A GPU whose power and speed follow its power limit, and NVML's power-limit calls. Power
# tracks the limit up to what the work demands; throughput is flat above a knee and falls
# below it (a static floor keeps very low limits inefficient). The limit lives in a file
# when ``limit_file`` is set, so another process sees it, as it would see a real driver's.


@dataclass
class FakeLimitedGpu(FakeGpu):
    """A busy GPU whose power (W) and throughput (units/s) follow its power limit."""

    min_limit_mw: int = 200_000
    max_limit_mw: int = 700_000
    default_limit_mw: int = 700_000
    demand_w: float = 560.0  # what the work draws when nothing caps it
    knee_w: float = 400.0  # below this limit throughput falls quickly
    static_w: float = 100.0  # power that does no work
    loss_at_knee: float = 0.03  # throughput lost between demand and knee
    peak_units_per_s: float = 1000.0
    privileged: bool = True  # False: setting a limit raises NoPermission, as for non-root
    limit_file: str | None = None

    def __post_init__(self) -> None:
        self._acc_mj = float(self.start_energy_mj)
        self._acc_t: float | None = None
        if self.limit_file and not os.path.exists(self.limit_file):
            self._write_limit(self.default_limit_mw)

    def limit_mw(self) -> int:
        if self.limit_file:
            with open(self.limit_file) as fh:
                return int(fh.read().strip())
        return self.power_limit_mw

    def _write_limit(self, value_mw: int) -> None:
        if self.limit_file:
            tmp = f"{self.limit_file}.tmp{os.getpid()}"
            with open(tmp, "w") as fh:
                fh.write(str(int(value_mw)))
            os.replace(tmp, self.limit_file)
        self.power_limit_mw = int(value_mw)

    def draw_w(self, limit_w: float | None = None) -> float:
        """Return the power drawn (W) under a limit (W; default: the current one)."""
        limit = self.limit_mw() / 1000 if limit_w is None else limit_w
        return min(limit, self.demand_w)

    def speed(self, limit_w: float | None = None) -> float:
        """Return throughput (units/s) under a limit (W; default: the current one)."""
        limit = self.limit_mw() / 1000 if limit_w is None else limit_w
        if limit >= self.demand_w:
            return self.peak_units_per_s
        if limit >= self.knee_w:
            lost = self.loss_at_knee * (self.demand_w - limit) / (self.demand_w - self.knee_w)
            return self.peak_units_per_s * (1.0 - lost)
        share = max(limit - self.static_w, 0.0) / (self.knee_w - self.static_w)
        return self.peak_units_per_s * (1.0 - self.loss_at_knee) * share**0.9

    def accrue(self, t: float) -> float:
        """Fold the energy (mJ) drawn since the last call at the limit in force; return it."""
        if self._acc_t is not None and t > self._acc_t:
            self._acc_mj += self.draw_w() * (t - self._acc_t) * 1000
        self._acc_t = t
        return self._acc_mj


_plain_energy = nvmlDeviceGetTotalEnergyConsumption
_plain_power = nvmlDeviceGetPowerUsage


def nvmlDeviceGetTotalEnergyConsumption(handle: _Handle) -> int:  # noqa: F811
    if not isinstance(handle.gpu, FakeLimitedGpu):
        return _plain_energy(handle)
    gpu, t = _live(handle)
    return int(gpu.accrue(t))


def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:  # noqa: F811
    if not isinstance(handle.gpu, FakeLimitedGpu):
        return _plain_power(handle)
    gpu, _ = _live(handle)
    return int(round(gpu.draw_w() * 1000))


def _limited(handle: _Handle) -> FakeLimitedGpu:
    gpu, _ = _live(handle)
    if not isinstance(gpu, FakeLimitedGpu):
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return gpu


def nvmlDeviceGetPowerManagementLimit(handle: _Handle) -> int:
    return _limited(handle).limit_mw()


def nvmlDeviceGetPowerManagementDefaultLimit(handle: _Handle) -> int:
    return _limited(handle).default_limit_mw


def nvmlDeviceGetPowerManagementLimitConstraints(handle: _Handle) -> list[int]:
    gpu = _limited(handle)
    return [gpu.min_limit_mw, gpu.max_limit_mw]


def nvmlDeviceSetPowerManagementLimit(handle: _Handle, limit: int) -> None:
    gpu, t = _live(handle)
    if not isinstance(gpu, FakeLimitedGpu):
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    if not gpu.privileged:
        raise NVMLError(NVML_ERROR_NO_PERMISSION)
    if not gpu.min_limit_mw <= int(limit) <= gpu.max_limit_mw:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    gpu.accrue(t)  # energy so far was drawn under the old limit
    gpu._write_limit(int(limit))


def gpu_from_config(fields: dict) -> FakeGpu:
    """Return the fake GPU a GREENAI_FAKE_NVML entry describes (limited when it says so)."""
    fields = dict(fields)
    if fields.pop("limited", False):
        return FakeLimitedGpu(**fields)
    return FakeGpu(**fields)
