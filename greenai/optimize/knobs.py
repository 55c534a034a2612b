"""Settings greenai can change to save energy, each behind one small Knob interface.

A knob reads its current value, lists the values it allows, applies one and restores the
value it found. ``describe()`` gives what a process that did not make the change needs to
put it back (the journal and the node's state file keep it), and ``restore_described``
does that. SM clock locks or batch size would be further knobs of the same shape.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from greenai import units
from greenai.errors import GreenAIError

DEFAULT_POWER_STEP_W = 25.0  # Zeus's default step between GPU power limits


class KnobError(GreenAIError):
    """A setting could not be read, changed or restored; the message says what to do."""


class Knob(Protocol):
    """One setting: read it, list allowed values, apply one, restore the original."""

    name: str  # e.g. "gpu_power_limit"
    unit: str  # e.g. "W", "threads"

    def read(self) -> float:
        """Return the value in force now."""
        ...

    def allowed(self) -> tuple[float, ...]:
        """Return the values this knob may take, ascending."""
        ...

    def default(self) -> float:
        """Return the value the device or runtime uses when nobody has set one."""
        ...

    def apply(self, value: float) -> None:
        """Put value in force (the first call remembers the original)."""
        ...

    def restore(self) -> bool:
        """Put the original back; return True if anything was changed."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return what another process needs to restore the original (JSON)."""
        ...

    @property
    def changes_device(self) -> bool:
        """Return True when the setting outlives this process (it must be journaled)."""
        ...


# ------------------------------------------------------------------ NVIDIA power limit
_NO_PERMISSION_HELP = (
    "Setting a GPU power limit needs root (or CAP_SYS_ADMIN): run as root, or let an "
    "administrator run `nvidia-smi -pm 1` and grant the job the right, or tune CPU threads "
    "instead (greenai tune --knob threads)."
)


def _nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        raise KnobError(
            "GPU power limit: pynvml is not installed; pip install nvidia-ml-py"
        ) from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise KnobError(f"GPU power limit: NVML could not start: {exc}") from exc
    return pynvml


def _uuid(nvml: Any, handle: Any) -> str:
    value = nvml.nvmlDeviceGetUUID(handle)
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuPowerLimit:
    """The power limit (W) of one or more NVIDIA GPUs, all set to the same value."""

    name = "gpu_power_limit"
    unit = "W"
    changes_device = True

    def __init__(
        self,
        indices: Sequence[int] | None = None,
        *,
        step_w: float = DEFAULT_POWER_STEP_W,
        nvml: Any = None,
    ):
        self._nvml = nvml or _nvml()
        n = self._call(self._nvml.nvmlDeviceGetCount)
        wanted = list(range(n)) if indices is None else list(indices)
        if not wanted:
            raise KnobError("GPU power limit: no NVIDIA GPU here to tune")
        self._handles = [self._call(self._nvml.nvmlDeviceGetHandleByIndex, i) for i in wanted]
        self.uuids = [_uuid(self._nvml, h) for h in self._handles]
        self.step_w = step_w
        self._original_mw: list[int] | None = None
        self._changed = False

    def _call(self, fn: Any, *args: Any) -> Any:
        nvml = self._nvml
        try:
            return fn(*args)
        except nvml.NVMLError_NoPermission as exc:
            raise KnobError(f"GPU power limit: {exc}. {_NO_PERMISSION_HELP}") from exc
        except nvml.NVMLError_InvalidArgument as exc:
            raise KnobError(
                f"GPU power limit: {exc}: the value is outside the GPU's constraints "
                "(see nvidia-smi -q -d POWER)"
            ) from exc
        except nvml.NVMLError as exc:
            raise KnobError(f"GPU power limit: {type(exc).__name__}: {exc}") from exc

    def read(self) -> float:
        """Return the limit (W) of the first GPU."""
        return units.mw_to_w(
            self._call(self._nvml.nvmlDeviceGetPowerManagementLimit, self._handles[0])
        )

    def default(self) -> float:
        """Return the driver's default limit (W) of the first GPU."""
        return units.mw_to_w(
            self._call(self._nvml.nvmlDeviceGetPowerManagementDefaultLimit, self._handles[0])
        )

    def allowed(self) -> tuple[float, ...]:
        """Return limits (W) every GPU accepts, from the default down in steps, ascending."""
        lows, highs = [], []
        for h in self._handles:
            low, high = self._call(self._nvml.nvmlDeviceGetPowerManagementLimitConstraints, h)
            lows.append(units.mw_to_w(low))
            highs.append(units.mw_to_w(high))
        low, top = max(lows), min(min(highs), self.default())
        values = []
        v = top
        while v >= low - 1e-9:
            values.append(round(v, 3))
            v -= self.step_w
        return tuple(sorted(values))

    def apply(self, value: float) -> None:
        """Set every GPU's limit to value (W); KnobError says what to do when refused."""
        self.remember()
        limit_mw = int(round(value * units.MW_PER_W))
        for h in self._handles:
            self._call(self._nvml.nvmlDeviceSetPowerManagementLimit, h, limit_mw)
            self._changed = True

    def original(self) -> float:
        """Return the limit (W) found before the first change (the current one before it)."""
        if self._original_mw is None:
            return self.read()
        return units.mw_to_w(self._original_mw[0])

    def remember(self) -> None:
        """Read and keep the original limits now (before anything is journaled or changed)."""
        if self._original_mw is None:
            self._original_mw = [
                self._call(self._nvml.nvmlDeviceGetPowerManagementLimit, h) for h in self._handles
            ]

    def restore(self) -> bool:
        """Set every GPU back to the limit found before the first change."""
        if self._original_mw is None or not self._changed:
            return False
        for h, mw in zip(self._handles, self._original_mw, strict=True):
            if self._call(self._nvml.nvmlDeviceGetPowerManagementLimit, h) != mw:
                self._call(self._nvml.nvmlDeviceSetPowerManagementLimit, h, mw)
        self._changed = False
        return True

    def describe(self) -> dict[str, Any]:
        """Return the GPUs (by UUID) and their original limits in mW, as NVML takes them."""
        self.remember()
        return {
            "knob": self.name,
            "devices": [
                {"uuid": u, "limit_mw": mw}
                for u, mw in zip(self.uuids, self._original_mw or [], strict=True)
            ],
        }


def _restore_gpu_limits(doc: dict[str, Any]) -> list[str]:
    nvml = _nvml()
    done = []
    for device in doc["devices"]:
        uuid, limit_mw = str(device["uuid"]), int(device["limit_mw"])
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
            if nvml.nvmlDeviceGetPowerManagementLimit(handle) != limit_mw:
                nvml.nvmlDeviceSetPowerManagementLimit(handle, limit_mw)
        except nvml.NVMLError_NoPermission as exc:
            raise KnobError(
                f"GPU {uuid}: cannot restore its power limit: {exc}. {_NO_PERMISSION_HELP}"
            ) from exc
        except nvml.NVMLError as exc:
            raise KnobError(f"GPU {uuid}: cannot restore its power limit: {exc}") from exc
        done.append(f"GPU {uuid} power limit {units.mw_to_w(limit_mw):g} W")
    return done


# ------------------------------------------------------------------ CPU threads
def _thread_choices(n: int) -> tuple[float, ...]:
    values = {n}
    k = 1
    while k < n:
        values.add(k)
        k *= 2
    return tuple(float(v) for v in sorted(values))


class CpuThreads:
    """Threads the workload's math library uses: torch.set_num_threads in this process,
    OMP_NUM_THREADS (and MKL/OpenBLAS) for a command. Nothing outlives the process."""

    name = "cpu_threads"
    unit = "threads"
    changes_device = False
    ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

    def __init__(self, cpus: int | None = None):
        if cpus is None:
            usable = getattr(os, "sched_getaffinity", None)
            cpus = len(usable(0)) if usable else (os.cpu_count() or 1)
        self.cpus = cpus
        self._value: float | None = None
        self._original: float | None = None

    def _torch(self) -> Any:
        return sys.modules.get("torch")  # only a torch the workload already imported

    def read(self) -> float:
        """Return the threads in force: torch's if loaded, else the env var, else all CPUs."""
        if self._value is not None:
            return self._value
        torch = self._torch()
        if torch is not None:
            return float(torch.get_num_threads())
        env = os.environ.get("OMP_NUM_THREADS", "")
        return float(env) if env.isdigit() else float(self.cpus)

    def default(self) -> float:
        """Return one thread per usable CPU (what the libraries pick by default)."""
        return float(self.cpus)

    def allowed(self) -> tuple[float, ...]:
        """Return 1, 2, 4, ... up to the CPUs usable by this process."""
        return _thread_choices(self.cpus)

    def apply(self, value: float) -> None:
        """Use value threads (torch at once; commands started later through env())."""
        if self._original is None:
            self._original = self.read()
        self._value = float(value)
        torch = self._torch()
        if torch is not None:
            torch.set_num_threads(int(value))

    def env(self) -> dict[str, str]:
        """Return the environment variables a command needs for the value in force."""
        return {k: str(int(self.read())) for k in self.ENV_VARS}

    def restore(self) -> bool:
        """Put torch's thread count back; commands run later get no override."""
        if self._original is None:
            return False
        torch = self._torch()
        if torch is not None:
            torch.set_num_threads(int(self._original))
        self._value = self._original = None
        return True

    def describe(self) -> dict[str, Any]:
        """Return the knob name (nothing to restore from another process)."""
        return {"knob": self.name}


def restore_described(doc: dict[str, Any]) -> list[str]:
    """Restore what ``describe()`` recorded; return what was restored (KnobError if refused)."""
    try:
        if doc["knob"] == GpuPowerLimit.name:
            return _restore_gpu_limits(doc)
        if doc["knob"] == CpuThreads.name:
            return []
    except (KeyError, TypeError, ValueError) as exc:
        raise KnobError(f"a recorded setting is malformed ({exc!r}): {doc!r}") from exc
    raise KnobError(f"unknown knob {doc.get('knob')!r} in a recorded setting")
