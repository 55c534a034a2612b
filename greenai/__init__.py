"""greenai: meter the energy and water of AI work, rate it, and disclose it comparably.

with greenai.meter(task="image-classification", unit="sample") as m:
    ...
    m.count(len(batch))
print(m.result.energy_j, m.result.energy_per_unit_j, m.result.by_domain)
"""

from greenai._version import __version__
from greenai.errors import (
    DisclosureError,
    GreenAIError,
    GreenAIWarning,
    ProbeError,
    SiteError,
    StandardError,
)
from greenai.measurement import Measurement, load
from greenai.meter import Meter, measure, meter

__all__ = [
    "DisclosureError",
    "GreenAIError",
    "GreenAIWarning",
    "Measurement",
    "Meter",
    "ProbeError",
    "SiteError",
    "StandardError",
    "__version__",
    "load",
    "measure",
    "meter",
]
