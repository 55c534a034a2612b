from __future__ import annotations

import pytest

from greenai.probes.memory import DramModelProbe, dimm_count, ram_power_w


def test_dram_model_is_codecarbons_current_one_and_sourced():
    probe = DramModelProbe(installed_bytes=64 * 2**30, arm=False)
    assert probe.read() == pytest.approx(20.0)  # 4 DIMMs x 5 W
    assert probe.info()["dimms_assumed"] == 4
    assert "CodeCarbon 3.3.2" in probe.info()["source"]
    assert probe.method.provenance == "modelled"
    assert ram_power_w(8) == 10.0  # at least two DIMMs' worth
    assert ram_power_w(4096) == pytest.approx(5 * 4 + 4.5 * 4 + 4 * 8 + 3.5 * 16)  # 32 DIMMs
    assert ram_power_w(1, arm=True) == 3.0
    assert dimm_count(256) == 8 and dimm_count(1024) == 8 and dimm_count(2048) == 16


@pytest.mark.parametrize("gib", [0.5, 2, 3.7, 8, 15.6, 31, 48, 64, 100, 128, 192, 256, 768, 4096])
@pytest.mark.parametrize("arm", [False, True])
def test_dram_model_equals_codecarbon_332(gib, arm):
    ram = pytest.importorskip("codecarbon.external.ram")
    theirs = ram.RAM(tracking_mode="machine")
    theirs.is_arm_cpu = arm
    assert ram_power_w(gib, arm) == pytest.approx(theirs._calculate_ram_power(gib))
    assert dimm_count(gib) == theirs._estimate_dimm_count(gib)
