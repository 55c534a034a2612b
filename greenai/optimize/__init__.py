"""Measured energy optimisation: find, apply and disclose the setting that saves energy.

>>> tuner = PowerLimitTuner(max_slowdown=0.05)
>>> with greenai.meter(task="training", unit="sample", tune=tuner) as m:
...     for batch in loader: step(batch); m.count(len(batch))
>>> m.result.optimisation # candidates, chosen setting, saving with its 95 % CI
"""

from __future__ import annotations

from greenai.optimize.knobs import CpuThreads, GpuPowerLimit, Knob, KnobError
from greenai.optimize.result import Candidate, Optimisation
from greenai.optimize.tuner import PowerLimitTuner, ThreadTuner, Tuner

__all__ = [
    "Candidate",
    "CpuThreads",
    "GpuPowerLimit",
    "Knob",
    "KnobError",
    "Optimisation",
    "PowerLimitTuner",
    "ThreadTuner",
    "Tuner",
]
