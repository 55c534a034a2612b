"""A stand-in for the ``amdsmi`` package (AMD SMI, ROCm 6+), as its documented API behaves.

Functions take processor handles from ``amdsmi_get_processor_handles()`` and raise
``AmdSmiLibraryException`` (a subclass of ``AmdSmiException``) with the library's status
codes. ``amdsmi_get_energy_count`` returns ``energy_accumulator`` (uint64 ticks, wrapping
at 2^64), ``counter_resolution`` (uJ per tick, a float) and ``timestamp`` (ns); the
accumulator advances only every ``update_s`` (1 ms on MI300). ``amdsmi_get_power_info``
reports W (0xFFFF fields become "N/A"). A GPU split into compute partitions shows one
handle per partition with BDFs differing in the PCI function; only partition 0 reports
energy and power (the others: NOT_SUPPORTED). ``lost`` makes every call on a GPU fail
with NOT_FOUND, as after a GPU reset or a hot-unplug; ``no_perm`` with NO_PERM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_INIT_ERROR = 18
AMDSMI_STATUS_NOT_FOUND = 31
_INFO = {
    AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
    AMDSMI_STATUS_NO_PERM: "AMDSMI_STATUS_NO_PERM - Permission Denied",
    AMDSMI_STATUS_INIT_ERROR: "AMDSMI_STATUS_INIT_ERROR - Initialization error",
    AMDSMI_STATUS_NOT_FOUND: "AMDSMI_STATUS_NOT_FOUND - Device Not found",
}
WRAP_TICKS = 2**64


class AmdSmiException(Exception):
    """Base smi exception class"""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int):
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        self.err_info = _INFO.get(err_code, f"AMDSMI_STATUS_{err_code}")

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {self.err_info}"

    def get_error_code(self) -> int:
        return self.err_code


@dataclass
class FakeAmdGpu:
    bdf: str
    market_name: str = "AMD Instinct MI300X"
    power_w: Callable[[float], float] = lambda _t: 500.0
    counter_resolution: float = 15.3
    start_ticks: int = 0
    partition: int = 0  # 0: the socket's primary partition
    partition_mode: str = "SPX"
    energy_supported: bool = True
    update_s: float = 0.001
    max_power_cap_uw: int = 750_000_000
    lost: bool = False
    no_perm: bool = False
    total_uj: float = 0.0
    published_uj: float = 0.0
    last_t: float | None = None
    last_update: float | None = None
    now: float = 0.0

    def advance(self, t: float) -> None:
        if self.last_t is not None:
            self.total_uj += self.power_w(0.5 * (self.last_t + t)) * (t - self.last_t) * 1e6
        self.last_t = self.now = t
        if self.last_update is None or t - self.last_update >= self.update_s - 1e-12:
            self.last_update = t
            self.published_uj = self.total_uj


_state: dict[str, object] = {"gpus": [], "init_error": False, "initialised": False}


def configure(gpus: list[FakeAmdGpu] | None, init_error: bool = False) -> None:
    _state.update(gpus=list(gpus or []), init_error=init_error, initialised=False)


def _gpu(handle: FakeAmdGpu) -> FakeAmdGpu:
    if not _state["initialised"]:
        raise AmdSmiLibraryException(32)
    if handle.lost:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_FOUND)
    if handle.no_perm:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NO_PERM)
    return handle


def amdsmi_init(flag: int = 2) -> None:
    if _state["init_error"]:
        raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
    _state["initialised"] = True


def amdsmi_shut_down() -> None:
    _state["initialised"] = False


def amdsmi_get_processor_handles() -> list[FakeAmdGpu]:
    if not _state["initialised"]:
        raise AmdSmiLibraryException(32)
    return list(_state["gpus"])  # type: ignore[arg-type]


def amdsmi_get_gpu_device_bdf(h: FakeAmdGpu) -> str:
    return _gpu(h).bdf


def amdsmi_get_gpu_device_uuid(h: FakeAmdGpu) -> str:
    return f"{abs(hash(_gpu(h).bdf)) % 16**8:08x}-0000-1000-80ff-{h.partition:012x}"


def amdsmi_get_gpu_asic_info(h: FakeAmdGpu) -> dict[str, object]:
    return {"market_name": _gpu(h).market_name, "vendor_id": 0x1002, "device_id": 0x74A1}


def amdsmi_get_gpu_compute_partition(h: FakeAmdGpu) -> str:
    return _gpu(h).partition_mode


def amdsmi_get_power_cap_info(h: FakeAmdGpu) -> dict[str, int]:
    cap = _gpu(h).max_power_cap_uw
    return {
        "power_cap": cap,
        "default_power_cap": cap,
        "dpm_cap": 0,
        "min_power_cap": 0,
        "max_power_cap": cap,
    }


def amdsmi_get_energy_count(h: FakeAmdGpu) -> dict[str, float | int]:
    g = _gpu(h)
    if g.partition or not g.energy_supported:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    ticks = (g.start_ticks + int(g.published_uj / g.counter_resolution)) % WRAP_TICKS
    return {
        "energy_accumulator": ticks,
        "counter_resolution": g.counter_resolution,
        "timestamp": int((g.last_update or 0.0) * 1e9),
    }


def amdsmi_get_power_info(h: FakeAmdGpu) -> dict[str, object]:
    g = _gpu(h)
    if g.partition:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    watts = int(round(g.power_w(g.now)))
    return {
        "socket_power": watts,
        "current_socket_power": watts,
        "average_socket_power": "N/A",
        "gfx_voltage": "N/A",
        "soc_voltage": "N/A",
        "mem_voltage": "N/A",
        "power_limit": g.max_power_cap_uw // 1_000_000,
    }
