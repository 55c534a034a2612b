from __future__ import annotations

import pytest

from greenai.probes.memory import W_PER_GIB, DramModelProbe


def test_dram_model_is_per_gib_and_sourced():
    probe = DramModelProbe(installed_bytes=64 * 2**30)
    assert probe.read() == pytest.approx(24.0)  # 3 W per 8 GiB
    assert W_PER_GIB == 0.375
    assert "CodeCarbon" in probe.info()["source"]
    assert probe.method.provenance == "modelled"
