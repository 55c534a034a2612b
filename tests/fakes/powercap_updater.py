"""Keep a fake powercap tree's counters moving in real time: python -m tests.fakes.powercap_updater.

Arguments: ZONE_DIR=POWER_W ... ; each energy_uj becomes int(P x (monotonic() - t0) x 1e6)
modulo the zone's max_energy_range_uj, rewritten in place every 0.2 ms until killed.
Writes t0 (monotonic seconds) to stdout first so the test knows the origin; on SIGTERM it
prints the longest gap between two rounds of writes (the staleness a reader may have seen).
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main(argv: list[str]) -> None:
    zones = []
    for arg in argv:
        path, _, power = arg.rpartition("=")
        with open(os.path.join(path, "max_energy_range_uj")) as fh:
            wrap = int(fh.read())
        fd = os.open(os.path.join(path, "energy_uj"), os.O_WRONLY)
        zones.append((fd, float(power), wrap))
    t0 = time.monotonic()
    print(f"{t0:.9f}", flush=True)
    max_gap = [0.0]

    def report(_signum: int, _frame: object) -> None:
        print(f"{max_gap[0]:.9f}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    last = t0
    while True:
        now = time.monotonic()
        max_gap[0] = max(max_gap[0], now - last)
        last = now
        t = now - t0
        for fd, power, wrap in zones:
            data = f"{int(power * t * 1e6) % wrap}\n".encode().ljust(24)
            os.pwrite(fd, data, 0)
        time.sleep(0.0002)


if __name__ == "__main__":
    main(sys.argv[1:])
