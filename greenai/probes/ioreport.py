"""Apple silicon energy without root: IOReport's ``Energy Model`` channels (macOS).

``libIOReport.dylib`` (private, what powermetrics itself reads) publishes per-block energy
since boot. greenai subscribes to the ``Energy Model`` group and, at each read, takes the
delta since its previous sample (``IOReportCreateSamplesDelta``): every channel's
``IOReportSimpleGetIntegerValue`` in its ``IOReportChannelGetUnitLabel`` unit (mJ, uJ or
nJ). Channels are summed into cpu (``CPU Energy``, or ``DIE_<n>_CPU Energy`` on Ultra
parts; the per-cluster channels are parts of it and skipped), gpu (``GPU Energy``), ane
(``ANE...``) and dram (``DRAM...``). The cumulative sums are counters that never wrap:
greenai adds deltas.

The binding uses ctypes against a private library; it has been exercised here only
through a stand-in of its function layer (``tests/fakes/ioreport.py``), never on a Mac,
so it is opt-in: ``GREENAI_IOREPORT=on``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_IOREPORT = "GREENAI_IOREPORT"  # off (default until tested on a Mac) | on
GROUP = "Energy Model"
UNIT_TO_J = {"mJ": 1e-3, "uJ": 1e-6, "µJ": 1e-6, "nJ": 1e-9}
MIN_RESAMPLE_S = 0.005  # probes of one sampler tick share one IOReport sample
CHANNEL_DOMAINS = {"cpu": "cpu", "gpu": "gpu", "ane": "gpu", "dram": "dram"}


def channel_kind(name: str) -> str | None:
    """Return cpu/gpu/ane/dram for an Energy Model channel that is a whole block, else None."""
    if name == "CPU Energy" or (name.startswith("DIE_") and name.endswith("_CPU Energy")):
        return "cpu"
    if name == "GPU Energy" or (name.startswith("DIE_") and name.endswith("_GPU Energy")):
        return "gpu"
    if name.startswith("ANE"):
        return "ane"
    if name.startswith("DRAM"):
        return "dram"
    return None  # per-cluster (ECPU, PCPU...), per-core, GPU SRAM...: inside a block above


class DeltaSource(Protocol):
    """What the session needs of IOReport: channel deltas since the previous call."""

    def deltas(self) -> list[tuple[str, str, str, int]]:  # (group, channel, unit, value)
        ...

    def close(self) -> None: ...


class IOReportSession:
    """Cumulative joules per block from IOReport deltas, shared by the four probes."""

    def __init__(self, source: DeltaSource, clock: Callable[[], float] = time.monotonic):
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self.total_j = dict.fromkeys(CHANNEL_DOMAINS, 0.0)
        self.seen: set[str] = set()
        self._sampled_at: float | None = None
        self.refresh()

    def refresh(self) -> None:
        """Take one delta sample now and add it."""
        try:
            rows = self._source.deltas()
        except ProbeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a ctypes failure becomes a probe error
            raise ProbeError(f"IOReport: {type(exc).__name__}: {exc}") from None
        for group, channel, unit, value in rows:
            if group != GROUP:
                continue
            kind = channel_kind(channel)
            if kind is None:
                continue
            factor = UNIT_TO_J.get(unit)
            if factor is None:
                raise ProbeError(f"IOReport: channel {channel!r} has unknown unit {unit!r}")
            self.total_j[kind] += value * factor
            self.seen.add(kind)
        self._sampled_at = self._clock()

    def energy_j(self, kind: str) -> float:
        """Return cumulative J of one block, resampling unless a sample was just taken."""
        with self._lock:
            now = self._clock()
            if self._sampled_at is None or now - self._sampled_at >= MIN_RESAMPLE_S:
                self.refresh()
            return self.total_j[kind]

    def close(self) -> None:
        self._source.close()


class IOReportProbe:
    """One Energy Model block (cpu, gpu, ane, dram) as a cumulative counter (J)."""

    method = Method.COUNTER
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, session: IOReportSession, kind: str):
        self.id = f"ioreport:{kind}"
        self.kind = kind
        self.domain = CHANNEL_DOMAINS[kind]
        self._session = session

    def read(self) -> float:
        return self._session.energy_j(self.kind)

    def info(self) -> dict[str, Any]:
        out = {
            "source": "ioreport",
            "name": f"Apple silicon {self.kind.upper()}",
            "reading": f"IOReport '{GROUP}' channel deltas (mJ/uJ/nJ), summed",
            "boundary": {
                "cpu": "SoC CPU clusters",
                "gpu": "SoC GPU",
                "ane": "Apple Neural Engine",
                "dram": "SoC-attached DRAM",
            }[self.kind],
        }
        if self.kind == "ane":
            out["accelerator"] = "Apple Neural Engine (counted in the gpu domain)"
        return out

    def close(self) -> None:
        self._session.close()


class CtypesIOReport:
    """The real binding: CoreFoundation + libIOReport through ctypes (macOS only)."""

    _UTF8 = 0x08000100

    def __init__(self) -> None:
        import ctypes

        c = ctypes
        self._c = c
        cf = c.CDLL("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
        ior = c.CDLL("/usr/lib/libIOReport.dylib")
        vp, u64 = c.c_void_p, c.c_uint64
        cf.CFStringCreateWithCString.restype = vp
        cf.CFStringCreateWithCString.argtypes = [vp, c.c_char_p, c.c_uint32]
        cf.CFStringGetCString.restype = c.c_bool
        cf.CFStringGetCString.argtypes = [vp, c.c_char_p, c.c_long, c.c_uint32]
        cf.CFDictionaryGetValue.restype = vp
        cf.CFDictionaryGetValue.argtypes = [vp, vp]
        cf.CFArrayGetCount.restype = c.c_long
        cf.CFArrayGetCount.argtypes = [vp]
        cf.CFArrayGetValueAtIndex.restype = vp
        cf.CFArrayGetValueAtIndex.argtypes = [vp, c.c_long]
        cf.CFRelease.argtypes = [vp]
        ior.IOReportCopyChannelsInGroup.restype = vp
        ior.IOReportCopyChannelsInGroup.argtypes = [vp, vp, u64, u64, u64]
        ior.IOReportCreateSubscription.restype = vp
        ior.IOReportCreateSubscription.argtypes = [vp, vp, c.POINTER(vp), u64, vp]
        ior.IOReportCreateSamples.restype = vp
        ior.IOReportCreateSamples.argtypes = [vp, vp, vp]
        ior.IOReportCreateSamplesDelta.restype = vp
        ior.IOReportCreateSamplesDelta.argtypes = [vp, vp, vp]
        for name in ("IOReportChannelGetGroup", "IOReportChannelGetChannelName"):
            getattr(ior, name).restype = vp
            getattr(ior, name).argtypes = [vp]
        ior.IOReportChannelGetUnitLabel.restype = vp
        ior.IOReportChannelGetUnitLabel.argtypes = [vp]
        ior.IOReportSimpleGetIntegerValue.restype = c.c_int64
        ior.IOReportSimpleGetIntegerValue.argtypes = [vp, c.c_int32]
        self._cf, self._ior = cf, ior
        group = self._cfstr(GROUP)
        channels = ior.IOReportCopyChannelsInGroup(group, None, 0, 0, 0)
        if not channels:
            raise ProbeError(f"IOReport: no '{GROUP}' channel group on this Mac")
        subscribed = vp()
        self._sub = ior.IOReportCreateSubscription(None, channels, c.byref(subscribed), 0, None)
        if not self._sub:
            raise ProbeError("IOReport: the subscription was refused")
        self._channels = subscribed
        self._key = self._cfstr("IOReportChannels")
        self._prev = ior.IOReportCreateSamples(self._sub, self._channels, None)

    def _cfstr(self, text: str) -> Any:
        return self._cf.CFStringCreateWithCString(None, text.encode(), self._UTF8)

    def _str(self, ref: Any) -> str:
        if not ref:
            return ""
        buf = self._c.create_string_buffer(256)
        ok = self._cf.CFStringGetCString(ref, buf, 256, self._UTF8)
        return buf.value.decode() if ok else ""

    def deltas(self) -> list[tuple[str, str, str, int]]:
        ior, cf = self._ior, self._cf
        cur = ior.IOReportCreateSamples(self._sub, self._channels, None)
        delta = ior.IOReportCreateSamplesDelta(self._prev, cur, None)
        cf.CFRelease(self._prev)
        self._prev = cur
        out = []
        try:
            array = cf.CFDictionaryGetValue(delta, self._key)
            for i in range(cf.CFArrayGetCount(array) if array else 0):
                ch = cf.CFArrayGetValueAtIndex(array, i)
                out.append(
                    (
                        self._str(ior.IOReportChannelGetGroup(ch)),
                        self._str(ior.IOReportChannelGetChannelName(ch)),
                        self._str(ior.IOReportChannelGetUnitLabel(ch)),
                        int(ior.IOReportSimpleGetIntegerValue(ch, 0)),
                    )
                )
        finally:
            cf.CFRelease(delta)
        return out

    def close(self) -> None:
        """Samples are released as they are replaced; the subscription lives with the process."""


def discover(
    env: Mapping[str, str] | None = None,
    source_factory: Callable[[], DeltaSource] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Discovery:
    """Return the IOReport probes, or why there are none (opt-in until tested on a Mac)."""
    env = os.environ if env is None else env
    found = Discovery()
    if source_factory is None:
        if sys.platform != "darwin":
            found.unavailable.append(ProbeUnavailable("ioreport", "not macOS (Apple silicon only)"))
            return found
        if env.get(ENV_IOREPORT, "off").lower() != "on":
            found.unavailable.append(
                ProbeUnavailable(
                    "ioreport",
                    "IOReport energy counters (no root needed) are opt-in: the ctypes binding "
                    "is not yet tested on a Mac",
                    f"Set {ENV_IOREPORT}=on to try it, or use powermetrics as root.",
                )
            )
            return found
        source_factory = CtypesIOReport
    try:
        session = IOReportSession(source_factory(), clock)
    except (ProbeError, OSError, AttributeError) as exc:
        found.unavailable.append(ProbeUnavailable("ioreport", f"IOReport: {exc}"))
        return found
    time.sleep(0.01)
    try:
        session.refresh()
    except ProbeError as exc:
        found.unavailable.append(ProbeUnavailable("ioreport", str(exc)))
        return found
    for kind in CHANNEL_DOMAINS:
        if kind in session.seen:
            found.probes.append(IOReportProbe(session, kind))
        else:
            found.unavailable.append(
                ProbeUnavailable(f"ioreport:{kind}", f"IOReport '{GROUP}' has no {kind} channel")
            )
    return found
