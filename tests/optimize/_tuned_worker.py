"""A training process tuned on the fake GPU (real clock), killed by the tests mid-search.

argv: journal path. Prints "tuning" once the first candidate limit is in force.
"""

from __future__ import annotations

import sys
import time

import pynvml

import greenai
from greenai.optimize import PowerLimitTuner


def main() -> None:
    pynvml.nvmlInit()
    gpu = pynvml._State.gpus[0]
    announced = False
    with greenai.meter(
        "training", "sample", journal=sys.argv[1], tune=PowerLimitTuner(window_s=0.05)
    ) as m:
        for _ in range(100_000):
            time.sleep(32 / gpu.speed() / 10)
            m.count(32)
            if not announced and gpu.limit_mw() != gpu.default_limit_mw:
                print("tuning", flush=True)
                announced = True


if __name__ == "__main__":
    main()
