"""The core API in one script: context manager, phases, units, a decorator, a site.

    pip install greenai
    python examples/meter_basics.py        # writes basics.json; then: greenai show basics.json

Runs anywhere: without readable RAPL or a GPU the energy is modelled, and says so.
"""

import numpy as np

import greenai

rng = np.random.default_rng(0)
weights = rng.standard_normal((512, 256), dtype=np.float32)

# A site: where the work ran. Preset factors (with sources) plus a grid region.
site = greenai.Site.from_preset("hyperscale").with_overrides(grid="FR")

with greenai.meter(task="embeddings", unit="query", site=site, output="basics.json") as m:
    for _epoch in range(3):
        with m.phase("encode"):
            for _ in range(200):
                queries = rng.standard_normal((32, 512), dtype=np.float32)
                (queries @ weights).sum()
                m.count(len(queries))  # functional units done
        with m.phase("check"):
            np.linalg.norm(weights)

r = m.result
print(f"energy {r.energy_j:.3f} J [{r.provenance}], {r.energy_per_unit_j * 1e3:.4f} mJ per query")
print("by domain:", {k: round(v, 3) for k, v in r.by_domain.items()})
print("phases:", {p.name: round(p.energy_j, 3) for p in r.phases})
print(f"water {m.footprint.water_l.total * 1e6:.2f} uL, carbon {m.footprint.carbon_g * 1e3:.3f} mg")
print("rating:", m.rating.energy.verdict)


@greenai.measure(task="embeddings", unit="query", units=len)
def embed(batch: np.ndarray) -> np.ndarray:
    return batch @ weights


embed(rng.standard_normal((64, 512), dtype=np.float32))
print(f"one call: {embed.last_result.energy_per_unit_j * 1e3:.4f} mJ per query")
