"""hwmon probe: Jetson INA3221 rails, INA2xx power, Intel GPU energy, ACPI meters."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from greenai.meter import Meter
from greenai.probes import hwmon
from greenai.probes.base import Method
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.hwmon import WRAP_UJ, FakeHwmon, jetson_orin


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHwmon:
    t = FakeHwmon(tmp_path / "sys")
    monkeypatch.setenv("GREENAI_HWMON_ROOT", str(t.root))
    return t


def _run(probes, clock: FakeClock, seconds: float, step: float = 0.1):
    sampler = Sampler(probes, interval_s=step, clock=clock)
    m = Meter("t", "sample", sampler=sampler).start()
    for _ in range(round(seconds / step)):
        clock.advance(step)
        sampler.sample()
    return m.stop()


def _by_id(found):
    return {p.id: p for p in found.probes}


def test_jetson_rails_map_to_domains_and_vdd_in_contains_them(tmp_path, monkeypatch):
    tree = jetson_orin(tmp_path / "sys")
    monkeypatch.setenv("GREENAI_HWMON_ROOT", str(tree.root))
    probes = _by_id(hwmon.discover())
    assert set(probes) == {
        "hwmon:ina3221/VDD_IN",
        "hwmon:ina3221/VDD_CPU_GPU_CV",
        "hwmon:ina3221/VDD_SOC",
    }
    vdd_in = probes["hwmon:ina3221/VDD_IN"]
    assert not vdd_in.counts_in_total and vdd_in.domain == "system"
    assert "VDD_SOC" in vdd_in.info()["contains"]
    cpu = probes["hwmon:ina3221/VDD_CPU_GPU_CV"]
    assert cpu.counts_in_total and cpu.domain == "cpu"
    assert cpu.info()["contained_in"] == "hwmon:ina3221/VDD_IN"
    assert probes["hwmon:ina3221/VDD_SOC"].domain == "system"
    assert all(
        p.method is Method.POWER and p.method.provenance == "measured" for p in probes.values()
    )
    assert vdd_in.read() == pytest.approx(15.0)  # 5000 mV x 3000 mA


def test_not_connected_channels_are_skipped(tree: FakeHwmon):
    dev = tree.add_device("ina3221")
    dev.add(1, "vi", 0.0, label="NC")
    dev.add(2, "vi", 3.0, label="VDDQ_VDD2_1V8AO")
    assert [p.id for p in hwmon.discover().probes] == ["hwmon:ina3221/VDDQ_VDD2_1V8AO"]


def test_tx2_vdd_in_contains_the_rails_of_both_sensors(tree: FakeHwmon):
    first = tree.add_device("ina3221")
    first.add(1, "vi", 2.0, label="VDD_SYS_GPU")
    first.add(2, "vi", 1.5, label="VDD_SYS_SOC")
    second = tree.add_device("ina3221")
    second.add(1, "vi", 9.0, label="VDD_IN")
    second.add(2, "vi", 2.5, label="VDD_SYS_CPU")
    second.add(3, "vi", 1.0, label="VDD_SYS_DDR")
    probes = _by_id(hwmon.discover())
    counted = sorted(pid for pid, p in probes.items() if p.counts_in_total)
    assert counted == [
        "hwmon:ina3221/VDD_SYS_CPU",
        "hwmon:ina3221/VDD_SYS_DDR",
        "hwmon:ina3221/VDD_SYS_GPU",
        "hwmon:ina3221/VDD_SYS_SOC",
    ]
    assert "VDD_SYS_GPU" in probes["hwmon:ina3221/VDD_IN"].info()["contains"]
    domains = {pid: p.domain for pid, p in probes.items()}
    assert domains["hwmon:ina3221/VDD_SYS_DDR"] == "dram"
    assert domains["hwmon:ina3221/VDD_SYS_GPU"] == "gpu"


def test_input_rail_alone_counts(tree: FakeHwmon):
    tree.add_device("ina3221").add(1, "vi", 10.0, label="VDD_IN")
    (probe,) = hwmon.discover().probes
    assert probe.counts_in_total


def test_jetson_truth_with_conversion_rate_and_device_lost(tmp_path, monkeypatch, clock):
    tree = jetson_orin(tmp_path / "sys")
    # VDD_SOC updates only every 0.5 s (an INA3221 averaging 512 samples)
    soc = tree.devices[0].channels[2]
    soc.update_s = 0.5
    monkeypatch.setenv("GREENAI_HWMON_ROOT", str(tree.root))
    clock.on_advance(tree.update)
    found = hwmon.discover()
    sampler = Sampler(found.probes, interval_s=0.1, clock=clock)
    m = Meter("t", "sample", sampler=sampler).start()
    truth0 = [c.total_uj for c in tree.devices[0].channels]
    for _ in range(100):
        clock.advance(0.1)
        sampler.sample()
    lost_at_truth = [
        c.total_uj - t0 for c, t0 in zip(tree.devices[0].channels, truth0, strict=True)
    ]
    tree.devices[0].remove()  # the board's sensor goes away mid-run
    with pytest.warns(Warning, match="went away"):
        for _ in range(20):
            clock.advance(0.1)
            sampler.sample()
    result = m.stop()
    got = result.by_device
    assert got["hwmon:ina3221/VDD_IN"] == pytest.approx(lost_at_truth[0] / 1e6, rel=0.01)
    assert got["hwmon:ina3221/VDD_CPU_GPU_CV"] == pytest.approx(lost_at_truth[1] / 1e6, rel=0.01)
    assert got["hwmon:ina3221/VDD_SOC"] == pytest.approx(lost_at_truth[2] / 1e6, rel=0.01)
    assert got["hwmon:ina3221/VDD_IN"] == pytest.approx(150.0, rel=0.01)
    states = {d.id: d.status for d in result.devices}
    assert set(states.values()) == {"failed"}
    assert not result.domains["cpu"].complete


def test_intel_gpu_energy_counter_wraps_at_64_bits(tree: FakeHwmon, clock: FakeClock):
    dev = tree.add_device("i915")
    # 2^64 uJ less 100 J: 200 W wraps after 0.5 s of a 5 s run
    dev.add(1, "energy", lambda t: 200.0 + 10.0 * (t - 1000.0), start_uj=WRAP_UJ - 100_000_000)
    clock.on_advance(tree.update)
    (probe,) = hwmon.discover().probes
    assert probe.id == "hwmon:i915/channel1" and probe.domain == "gpu"
    assert probe.method is Method.COUNTER and probe.wrap_j == pytest.approx(2**64 / 1e6)
    t0 = dev.channels[0].total_uj
    result = _run([probe], clock, 5.0)
    truth = (dev.channels[0].total_uj - t0) / 1e6
    assert truth == pytest.approx(200 * 5 + 10 * 12.5)
    assert result.by_device[probe.id] == pytest.approx(truth, rel=0.01)
    assert not result.gaps


def test_xe_card_contains_pkg(tree: FakeHwmon):
    dev = tree.add_device("xe")
    dev.add(1, "energy", 120.0, label="card")
    dev.add(2, "energy", 90.0, label="pkg")
    probes = _by_id(hwmon.discover())
    assert not probes["hwmon:xe/card"].counts_in_total
    assert probes["hwmon:xe/pkg"].counts_in_total


def test_grace_acpi_power_meters(tree: FakeHwmon, clock: FakeClock):
    # one ACPI power_meter hwmon device per meter, as on Grace-class servers
    for oem, watts in (
        ("Module Power Socket 0", 300.0),
        ("Grace Power Socket 0", 160.0),
        ("CPU Power Socket 0", 120.0),
        ("SysIO Power Socket 0", 25.0),
        ("Grace Power Socket 1", 150.0),
    ):
        tree.add_device("power_meter", oem_info=oem).add(1, "power", watts, attr="average")
    found = hwmon.discover()
    probes = _by_id(found)
    counted = sorted(pid for pid, p in probes.items() if p.counts_in_total)
    assert counted == [
        "hwmon:power_meter/CPU Power Socket 0",
        "hwmon:power_meter/Grace Power Socket 1",  # alone on its socket: it counts
        "hwmon:power_meter/SysIO Power Socket 0",
    ]
    assert probes["hwmon:power_meter/CPU Power Socket 0"].domain == "cpu"
    module = probes["hwmon:power_meter/Module Power Socket 0"].info()
    assert "Grace Power Socket 0" in module["contains"] and "GH200" in module["contains"]
    clock.on_advance(tree.update)
    result = _run(found.probes, clock, 10.0)
    module_j = result.by_device["hwmon:power_meter/Module Power Socket 0"]
    assert module_j == pytest.approx(3000, rel=0.01)
    assert result.energy_j == pytest.approx((120 + 25 + 150) * 10, rel=0.01)


def test_two_intel_gpus_get_distinct_ids(tree: FakeHwmon):
    tree.add_device("i915").add(1, "energy", 100.0)
    tree.add_device("i915").add(1, "energy", 100.0)
    ids = [p.id for p in hwmon.discover().probes]
    assert ids == ["hwmon:i915@hwmon0/channel1", "hwmon:i915@hwmon1/channel1"]


def test_acpi_power_meter_of_unknown_cover_is_compared_only(tree: FakeHwmon):
    tree.add_device("power_meter").add(1, "power", 410.0, attr="average")
    (probe,) = hwmon.discover().probes
    assert not probe.counts_in_total and "platform" in probe.info()["contains"]


def test_permission_denied_and_disabled_channel_are_reported(tree: FakeHwmon):
    import json
    import os
    import subprocess

    from tests.fakes.powercap import unprivileged_command

    dev = tree.add_device("ina3221")
    dev.add(1, "vi", 5.0, label="VDD_IN")
    dev.add(2, "vi", 2.0, label="VDD_GPU")
    dev.write("in2_enable", 0)
    gpu = tree.add_device("i915")
    gpu.add(1, "energy", 50.0)
    energy = gpu.path / "energy1_input"
    if os.geteuid() == 0:  # root-only, as i915 makes it; the reader drops DAC override
        os.chown(energy, 65534, 65534)
        os.chmod(energy, 0o400)
    else:
        os.chmod(energy, 0)
    code = (
        "import json; from greenai.probes import hwmon; f = hwmon.discover(); "
        "print(json.dumps({'probes': [p.id for p in f.probes], "
        "'unavailable': [u.to_dict() for u in f.unavailable]}))"
    )
    argv = unprivileged_command([sys.executable, "-c", code])
    if argv is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "GREENAI_HWMON_ROOT": str(tree.root), "PYTHONPATH": str(repo)}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd="/")
    report = json.loads(out.stdout)
    reasons = {u["probe"]: u for u in report["unavailable"]}
    assert report["probes"] == ["hwmon:ina3221/VDD_IN"]
    assert "disabled" in reasons["hwmon:ina3221/VDD_GPU"]["reason"]
    assert "permission denied" in reasons["hwmon:i915/channel1"]["reason"]
    assert "udev" in reasons["hwmon:i915/channel1"]["remedy"]


def test_no_tree_and_empty_tree(tmp_path: Path, tree: FakeHwmon):
    missing = hwmon.discover(tmp_path / "nope")
    assert "does not exist" in missing.unavailable[0].reason
    tree.add_device("k10temp")  # a temperature sensor only
    empty = hwmon.discover()
    assert not empty.probes and "no energy or power sensor" in empty.unavailable[0].reason
