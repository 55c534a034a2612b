"""Tests of greenai/embodied.py: factor table, allocation, BLOOM reproduction, old files."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import greenai
from greenai import embodied
from greenai.errors import SiteError

ROOT = Path(__file__).resolve().parents[1]
BLOOM = ROOT / "examples" / "bloom_embodied.toml"
SMOKE = ROOT / "reports" / "reference" / "smoke" / "vm" / "embed-infer.json"


def test_every_factor_row_has_a_source_a_year_and_a_kind() -> None:
    rows = embodied.table().factors
    assert len(rows) > 40
    for f in rows:
        assert f.source.strip(), f
        assert 1990 <= f.year <= 2030, f
        assert f.kind in ("published", "modelled"), f
        assert f.carbon_kg >= 0 and math.isfinite(f.carbon_kg), f
        if f.water_l is not None:
            assert f.water_source and "mask layer" in f.water_source, f
    components = {f.component for f in rows}
    assert {"gpu", "cpu", "dram", "ssd", "hdd", "psu", "server"} <= components
    settings = embodied.table().settings
    for name, item in settings["defaults"].items():
        assert item["source"].strip() and isinstance(item["year"], int), name
    assert settings["wafer_water"]["litres_per_mask_layer"]["source"]
    for name, die in settings["wafer_water"]["dies"].items():
        assert die["die_source"] and die["mask_layers_source"], name


def test_a_row_without_a_source_is_refused(tmp_path: Path) -> None:
    src = embodied.table().directory
    for name in ("embodied.toml", "embodied_boavizta.csv", "cpu_die.csv"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    text = (src / "embodied_published.csv").read_text().splitlines()
    head, row = text[0], text[1]
    bad = row.replace(",2023,published,", ",,published,")
    (tmp_path / "embodied_published.csv").write_text(head + "\n" + bad + "\n")
    with pytest.raises(SiteError, match="line 2.*source and a year"):
        embodied.table(tmp_path)


def test_bloom_training_embodied_carbon_is_11_2_t_within_1_percent() -> None:
    result = embodied.account(BLOOM)
    tonnes = result.carbon_g / 1e6
    assert abs(tonnes - 11.2) / 11.2 < 0.01, tonnes
    by = {c.component: c for c in result.components}
    assert set(by) == {"gpu", "server"}
    assert by["gpu"].factor.kind == "published" and "Luccioni" in by["gpu"].factor.source
    assert result.allocation["server_share"] == 384 / 8


def test_allocation_scales_with_devices_time_life_and_utilisation() -> None:
    settings = embodied.Settings.default()
    server = embodied.Server(gpu="NVIDIA H100 SXM 80GB", gpus=8, chassis="rack chassis")
    one = embodied.allocate(server, settings, duration_s=3600, gpus_used=1)
    two = embodied.allocate(server, settings, duration_s=3600, gpus_used=2)
    long = embodied.allocate(server, settings, duration_s=7200, gpus_used=1)
    assert two.carbon_g == pytest.approx(2 * one.carbon_g)
    assert long.carbon_g == pytest.approx(2 * one.carbon_g)
    lazy = embodied.Settings.from_table({"utilisation": 0.425}, "test")
    assert embodied.allocate(server, lazy, duration_s=3600, gpus_used=1).carbon_g == (
        pytest.approx(2 * one.carbon_g)
    )
    gpu = one.components[0]
    life_s = 6 * 365.25 * 86400 * 0.85
    assert gpu.carbon_g == pytest.approx(gpu.factor.carbon_kg * 1000 * 3600 / life_s)


def test_reserved_idle_time_is_charged_or_not_as_the_setting_says() -> None:
    server = embodied.Server(gpu="NVIDIA A100 SXM4 80GB", gpus=1)
    on = embodied.Settings.default()
    off = embodied.Settings.from_table({"charge_reserved_idle": False}, "test")
    a = embodied.allocate(server, on, duration_s=100, reserved_idle_s=100)
    b = embodied.allocate(server, off, duration_s=100, reserved_idle_s=100)
    assert a.carbon_g == pytest.approx(2 * b.carbon_g)
    assert a.allocation["reserved_idle_charged"] is True
    assert b.allocation["reserved_idle_charged"] is False


def test_bad_settings_name_the_file_and_key() -> None:
    with pytest.raises(SiteError, match="site.toml.*utilisation.*\\(0, 1\\]"):
        embodied.Settings.from_table({"utilisation": 1.5}, "site.toml")
    with pytest.raises(SiteError, match="unknown key"):
        embodied.Settings.from_table({"life": 3}, "site.toml")


def test_wafer_water_follows_die_area() -> None:
    small = embodied.wafer_water_l(100, 60, 59)
    big = embodied.wafer_water_l(800, 60, 59)
    assert big / small > 8  # yield falls with area: more than proportional
    a100 = embodied.table().find("gpu", "NVIDIA A100 SXM4 80GB")
    assert a100.water_l == pytest.approx(embodied.wafer_water_l(826, 60, 59))


def test_site_file_sets_server_and_life(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        'preset = "hyperscale"\n[embodied]\nservice_life_years = 4\n'
        '[embodied.server]\ngpus = 8\ngpu = "NVIDIA H100 SXM 80GB"\n'
    )
    s = embodied.Settings.resolve(str(site), environ={})
    assert s.service_life_years.value == 4 and s.service_life_years.kind == "measured"
    server = embodied.server_for({"gpus": [{"name": "NVIDIA H100 80GB HBM3"}] * 2}, s)
    assert server.gpus == 8 and server.gpu == "NVIDIA H100 SXM 80GB"
    assert greenai.Site.resolve(str(site), environ={}).name == "hyperscale"


def test_old_result_without_embodied_gets_it_on_load(tmp_path: Path) -> None:
    doc = json.loads(SMOKE.read_text())
    doc.pop("embodied", None)
    doc.pop("integrity", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    m = greenai.load(old)
    assert m.embodied is not None and m.embodied.computed
    assert m.embodied.carbon_g > 0
    totals = m.embodied.totals
    assert totals["carbon_g"]["total"] == pytest.approx(m.footprint.carbon_g + m.embodied.carbon_g)
    again = greenai.Measurement.from_dict(json.loads(m.to_json()))
    assert again.embodied == m.embodied


def test_sci_is_energy_times_intensity_plus_embodied_per_unit() -> None:
    m = greenai.load(SMOKE)
    sci = m.embodied.sci
    fp = m.footprint
    kwh = fp.facility_energy_j / 3.6e6
    expected = (kwh * fp.factors["carbon_intensity_g_per_kwh"] + m.embodied.carbon_g) / m.units_done
    assert sci["sci_g_per_unit"] == pytest.approx(expected)
    assert sci["R_unit"] == m.unit


def test_import_greenai_does_not_read_the_embodied_tables() -> None:
    code = "import sys, greenai; print('greenai.embodied' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


LIFECYCLE = """
[lifecycle]
indices = ["carbon"]
description = "test: total carbon graded beside energy and water"

[tasks.embeddings.lifecycle.carbon]
value = 0.5
unit = "g/1000 query"
source = "test reference"
"""


def _lifecycle_standard(tmp_path: Path, extra: str) -> Path:
    from greenai.standard import resolve_standard

    text = resolve_standard(None).read_text()
    text = text.replace('id = "greenai-2026.1"', 'id = "test-2026.1"', 1)
    path = tmp_path / "test-2026.1.toml"
    path.write_text(text + extra)
    return path


def test_default_standard_grades_no_lifecycle_index() -> None:
    m = greenai.load(SMOKE)
    assert greenai.load_standard().lifecycle == ()
    assert m.embodied.lifecycle_rating is None
    assert "lifecycle_rating" not in m.embodied.to_dict()


def test_a_standard_may_declare_a_lifecycle_carbon_index(tmp_path: Path) -> None:
    std_path = _lifecycle_standard(tmp_path, LIFECYCLE)
    std = greenai.load_standard(std_path)
    assert std.lifecycle == ("carbon",)
    assert dict(std.tasks["embeddings"].lifecycle)["carbon"].per_unit == pytest.approx(5e-4)
    assert greenai.load_standard(std_path).to_toml().count("[tasks.embeddings.lifecycle.carbon]")
    doc = json.loads(SMOKE.read_text())
    for key in ("site", "footprint", "rating", "embodied", "integrity"):
        doc.pop(key, None)
    old = tmp_path / "run.json"
    old.write_text(json.dumps(doc))
    m = greenai.load(old, standard=std_path)
    life = m.embodied.lifecycle_rating["carbon"]
    total = m.embodied.totals["per_unit"]["carbon_g"]
    assert life["index"] == pytest.approx(total / 5e-4)
    assert life["measured"] == pytest.approx(total * 1000)
    assert life["grade"] is None and life["reasons"] == list(m.rating.energy.reasons)
    assert m.rating.energy.grade is None  # energy and water are still graded as before


def test_a_lifecycle_reference_needs_its_index_declared(tmp_path: Path) -> None:
    from greenai.errors import StandardError

    extra = LIFECYCLE.replace('indices = ["carbon"]', 'indices = ["water"]')
    with pytest.raises(StandardError, match="lifecycle"):
        greenai.load_standard(_lifecycle_standard(tmp_path, extra))


def test_a_conformant_run_gets_a_lifecycle_grade_on_the_task_bands(tmp_path: Path) -> None:
    from dataclasses import replace

    std = greenai.load_standard(_lifecycle_standard(tmp_path, LIFECYCLE))
    m = greenai.load(SMOKE)
    rating = replace(m.rating, energy=replace(m.rating.energy, conformant=True, reasons=()))
    life = embodied.lifecycle_rating(m.embodied, rating, std)["carbon"]
    assert life["grade"] == std.tasks["embeddings"].bands.grade(life["index"])
    assert life["grade"] == "A"  # 46.7 ug per 1000 queries against 0.5 g


def test_cli_embodied_prints_the_bloom_figure_and_show_has_the_split(tmp_path: Path) -> None:
    from tests.cli import greenai_cli

    done = greenai_cli("embodied", str(BLOOM))
    assert done.returncode == 0, done.stderr
    assert "carbon 11.2 t CO2e" in done.stdout and "Luccioni" in done.stdout
    shown = greenai_cli("show", str(SMOKE))
    assert shown.returncode == 0, shown.stderr
    for text in ("embodied    carbon", "total       carbon", "per query", "SCI", "source:"):
        assert text in shown.stdout, text
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\ngpus_used = 8\n")
    failed = greenai_cli("embodied", str(bad))
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert "gpu_hours, duration_hours" in failed.stderr


def test_compare_and_label_show_the_split() -> None:
    from greenai.report import compare, label

    doc = greenai.load(SMOKE).to_dict()
    cmp = compare.compare([doc, doc])
    md = compare.to_markdown(cmp)
    assert "carbon per unit, operational + embodied" in md and "SCI" in md
    svg = label.to_label_svg(doc)
    assert "% embodied" in svg and "% fab" in svg


@pytest.mark.parametrize(
    ("nvml_name", "row"),
    [
        ("NVIDIA H200", "NVIDIA H200 SXM 141GB"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM 80GB"),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80GB"),
        ("Tesla T4", "NVIDIA T4"),
        ("NVIDIA L40S", "NVIDIA L40S 48GB"),
        ("NVIDIA L4", "NVIDIA L4"),
        ("NVIDIA A100", "default"),  # five A100 rows: not guessed
        ("NVIDIA GeForce RTX 4090", "default"),
    ],
)
def test_gpu_names_as_nvml_reports_them(nvml_name: str, row: str) -> None:
    found = embodied.table().find("gpu", nvml_name)
    assert found.model == row
    assert (row == "default") == ("default GPU used" in found.note)


def test_cpu_names_match_exactly_or_fall_back_to_the_default() -> None:
    t = embodied.table()
    epyc = t.find("cpu", "AMD EPYC 7763 64-Core Processor")
    assert epyc.model == "AMD EPYC 7763" and epyc.water_l is not None
    assert epyc.carbon_kg == pytest.approx(9.14 + 0.0197 * t.cpu_die_mm2["AMD EPYC 7763"])
    assert t.find("cpu", "AMD EPYC").model == "default"


def test_a_bad_site_file_marks_embodied_not_computed_and_warns(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('preset = "hyperscale"\n[embodied]\nutilisation = 2\n')
    m = greenai.load(SMOKE)
    with pytest.warns(greenai.GreenAIWarning, match="embodied not computed.*utilisation"):
        out = embodied.attach(m, str(site))
    assert not out.embodied.computed and "(0, 1]" in out.embodied.reason
    assert out.embodied.to_dict()["carbon_g"] is None


def test_server_source_and_year_from_the_site_file() -> None:
    s = embodied.Settings.from_table(
        {"server": {"gpus": 4, "source": "our inventory", "year": 2025}}, "site.toml"
    )
    server = embodied.server_for({"gpus": []}, s)
    assert server.gpus == 4 and "our inventory (2025)" in server.source
    whole = embodied.allocate(server, s, duration_s=60, gpus_used=0)
    assert whole.allocation["server_share"] == 1.0  # no GPU used: the whole server


def test_a_metered_gpu_run_carries_its_share_of_the_server(tmp_path: Path, clock) -> None:
    from greenai.meter import Meter
    from greenai.sampler import Sampler
    from tests.fakes.probes import ClockProbe, constant

    class H100(ClockProbe):
        def info(self) -> dict:
            return {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0"}

    site = tmp_path / "site.toml"
    site.write_text(
        'preset = "hyperscale"\n[embodied]\ncharge_reserved_idle = false\n'
        "[embodied.server]\ngpus = 8\ncpus = 2\ndram_gb = 2048\nssd_tb = 30\npsus = 4\n"
    )
    s = Sampler([H100("nvml:0", clock, constant(500.0), domain="gpu")], clock=clock)
    s.sample()
    with Meter("text-generation", "token", sampler=s, site=str(site)) as m:
        for _ in range(100):
            clock.advance(0.1)
            s.sample()
        m.count(1000)
    e = m.result.embodied
    assert e.computed and e.allocation["server_share"] == pytest.approx(1 / 8)
    gpu = next(c for c in e.components if c.component == "gpu")
    assert gpu.factor.model == "NVIDIA H100 SXM 80GB" and gpu.quantity == 8
    life_s = 6 * 365.25 * 86400 * 0.85
    assert gpu.carbon_g == pytest.approx(gpu.factor.carbon_kg * 1000 * 10.0 / life_s)
    ssd = next(c for c in e.components if c.component == "ssd")
    assert ssd.carbon_g == pytest.approx(ssd.factor.carbon_kg * 30 / 8 * 1000 * 10.0 / life_s)
    assert e.water_l is not None and gpu.water_l > 0
    assert e.per(1.0)["carbon_g"] == pytest.approx(e.carbon_g / 1000)
    again = greenai.Measurement.from_dict(json.loads(m.result.to_json()))
    assert again.embodied == e


def test_a_site_may_give_the_runs_share_of_the_server_for_a_vm() -> None:
    s = embodied.Settings.from_table(
        {"server_share": {"value": 0.0625, "source": "VM: 8 of 128 host threads"}}, "vm.toml"
    )
    server = embodied.server_for({"gpus": [], "cpu": "AMD EPYC", "memory_bytes": 32e9}, s)
    full = embodied.allocate(server, embodied.Settings.default(), duration_s=60)
    vm = embodied.allocate(server, s, duration_s=60)
    assert vm.carbon_g == pytest.approx(full.carbon_g * 0.0625)
    assert vm.allocation["server_share_given"]["source"] == "VM: 8 of 128 host threads"
    with pytest.raises(SiteError, match="must be a table"):
        embodied.Settings.from_table({"server": 3}, "vm.toml")


def test_the_boavizta_tables_rebuild_to_the_same_bytes(tmp_path: Path) -> None:
    pytest.importorskip(
        "boaviztapi", reason="boaviztapi is not installed (a build-time tool, not a dependency)"
    )
    script = ROOT / "standards" / "factors" / "build_embodied.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=300)
    for name in ("embodied_boavizta.csv", "cpu_die.csv"):
        shipped = ROOT / "standards" / "factors" / name
        assert (tmp_path / name).read_bytes() == shipped.read_bytes(), name


def test_hostile_inventories_and_settings_are_refused_or_ignored(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="gpus = 'eight': must be a whole number"):
        embodied.Settings.from_table({"server": {"gpus": "eight"}}, "s.toml")
    with pytest.raises(SiteError, match="must be a table"):
        embodied.Settings.from_table(3, "s.toml")  # type: ignore[arg-type]
    server = embodied.server_for(
        {"gpus": "x", "cpu": 5, "memory_bytes": -1}, embodied.Settings.default()
    )
    assert (server.gpus, server.cpu, server.dram_gb) == (0, None, 0.0)
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SiteError, match="not UTF-8"):
        embodied.account(binary)


def test_greenai_run_reads_the_embodied_table_of_its_site_file(tmp_path: Path) -> None:
    from tests.cli import greenai_cli

    site = tmp_path / "site.toml"
    site.write_text('preset = "hyperscale"\n[embodied]\nservice_life_years = 4\n')
    out = tmp_path / "run.json"
    done = greenai_cli("run", "-q", "--site", str(site), "-o", str(out), "--", "true")
    assert done.returncode == 0, done.stderr
    life = greenai.load(out).embodied.allocation["service_life_years"]
    assert life["value"] == 4 and life["kind"] == "measured"
    site.write_text('preset = "hyperscale"\n[embodied]\nutilisation = 2\n')
    refused = greenai_cli("run", "-q", "--site", str(site), "-o", str(out), "--", "true")
    assert refused.returncode == 2 and "utilisation" in refused.stderr
