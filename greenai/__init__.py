"""greenai: meter the energy and water of AI work, rate it, and disclose it comparably.

with greenai.meter(task="image-classification", unit="sample") as m:
    ...
    m.count(len(batch))
print(m.result.energy_j, m.result.energy_per_unit_j, m.result.by_domain)
"""

from greenai._version import __version__
from greenai.channel import count
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

# Loaded on first use, so `import greenai` stays light (site and standard read data files,
# scoring and the reporters pull in numpy and matplotlib).
_LAZY = {
    "Site": "greenai.site",
    "Footprint": "greenai.footprint",
    "load_standard": "greenai.standard",
    "rate": "greenai.scoring",
    "RatingInput": "greenai.scoring",
    "DistributedMeter": "greenai.distributed",
    "merge": "greenai.distributed",
    "recover_journal": "greenai.recovery",
    "validate": "greenai.disclosure",
    "verify": "greenai.disclosure",
}


_SUBMODULES = ("population",)  # greenai.population.load(...) without an import line


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"greenai.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'greenai' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])


__all__ = [
    "DistributedMeter",
    "Footprint",
    "RatingInput",
    "Site",
    "load_standard",
    "merge",
    "rate",
    "recover_journal",
    "validate",
    "verify",
    "DisclosureError",
    "GreenAIError",
    "GreenAIWarning",
    "Measurement",
    "Meter",
    "ProbeError",
    "SiteError",
    "StandardError",
    "__version__",
    "count",
    "load",
    "measure",
    "meter",
]
