"""A stand-in for IOReport's function layer: ``Energy Model`` channel deltas, as on an M2 Max.

IOReport keeps, per channel, an integer energy count in the channel's unit label since
boot; ``IOReportCreateSamplesDelta`` of two samples gives the integer difference. The
channels are those a Mac shows (per-cluster ``ECPU``/``PCPU`` inside ``CPU Energy``,
``GPU SRAM`` beside ``GPU Energy``, ``ANE``, ``DRAM``), in their units (GPU in nJ, the
rest in mJ), plus a channel of another group that must be ignored. ``lost`` makes
sampling fail, as when the subscription is torn down.
"""

from __future__ import annotations

from collections.abc import Callable

from greenai.errors import ProbeError

# channel -> (unit, share of its block's power): clusters split the CPU's energy
CHANNELS = {
    "ECPU": ("mJ", "cpu", 0.25),
    "PCPU": ("mJ", "cpu", 0.75),
    "CPU Energy": ("mJ", "cpu", 1.0),
    "GPU Energy": ("nJ", "gpu", 1.0),
    "GPU SRAM": ("mJ", "gpu", 0.1),
    "ANE": ("mJ", "ane", 1.0),
    "DRAM": ("mJ", "dram", 1.0),
}
UNIT = {"mJ": 1e3, "nJ": 1e9}  # per J


class FakeIOReport:
    def __init__(self, clock: Callable[[], float], power_w: dict[str, Callable[[float], float]]):
        self.clock = clock
        self.power_w = power_w
        self.true_j = dict.fromkeys(power_w, 0.0)
        self._last_t = clock()
        self._count = dict.fromkeys(CHANNELS, 0)
        self._prev = dict(self._count)
        self.lost = False

    def _advance(self) -> None:
        t = self.clock()
        dt = t - self._last_t
        if dt > 0:
            mid = 0.5 * (t + self._last_t)
            for block, fn in self.power_w.items():
                self.true_j[block] += fn(mid) * dt
        self._last_t = t
        for name, (unit, block, share) in CHANNELS.items():
            self._count[name] = int(self.true_j[block] * share * UNIT[unit])

    def deltas(self) -> list[tuple[str, str, str, int]]:
        if self.lost:
            raise ProbeError("IOReport: IOReportCreateSamples returned NULL (subscription gone)")
        self._advance()
        out = [
            ("Energy Model", name, CHANNELS[name][0], self._count[name] - self._prev[name])
            for name in CHANNELS
        ]
        out.append(("CPU Stats", "CPU Core Performance States", "24Mticks", 12345))
        self._prev = dict(self._count)
        return out

    def close(self) -> None:
        pass
