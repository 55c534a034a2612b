"""Benchmark harness: layout, statistics, resumability, Ctrl-C, ranking across hosts."""

from __future__ import annotations

import html
import json
import math
import random
import re
import time

import pytest

from greenai.bench import harness, stats
from greenai.bench.suite import SuiteError, load_suite, parse_suite
from greenai.bench.workloads import Workload, WorkloadUnavailable, make
from greenai.probes.base import Method
from tests.fakes.probes import ClockProbe


def _suite(reps: int = 2, window: float = 0.15, extra: list | None = None):
    workloads = [
        {
            "id": "gemm",
            "kind": "gemm",
            "task": "matrix-multiply",
            "params": {"n": 64},
            "warmup_s": 0.05,
            "repetitions": reps,
            "min_duration_s": window,
        },
        {
            "id": "embed",
            "kind": "embed-infer",
            "task": "embeddings",
            "params": {"batch": 8, "d_in": 32, "d_out": 16},
            "warmup_s": 0.05,
            "repetitions": reps,
            "min_duration_s": window,
        },
        *(extra or []),
    ]
    return parse_suite({"suite": {"id": "tiny", "idle_baseline_s": 0.1}, "workload": workloads})


def _noisy_probe(seed: int = 0):
    rng = random.Random(seed)
    return ClockProbe(
        "rapl:package-0", time.monotonic, lambda _t: 50.0 + rng.gauss(0, 15.0), method=Method.POWER
    )


def test_t_quantiles_and_summary():
    assert stats.t975(1) == 12.706 and stats.t975(30) == 2.042
    assert 1.96 < stats.t975(200) < 1.98
    s = stats.summarise([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.std == pytest.approx(1.2909944)
    spread = math.exp(3.182 * 1.2909944 / (2.5 * 2))  # log scale: mean x/÷ spread
    assert (s.ci95_low, s.ci95_high) == pytest.approx((2.5 / spread, 2.5 * spread))
    assert stats.summarise([5.0]).ci95_low == 5.0


def test_ci_shrinks_as_repetitions_grow():
    # the same noisy power trace, summarised over more and more repetitions
    rng = random.Random(7)
    draws = [100.0 + rng.gauss(0, 10.0) for _ in range(64)]
    widths = [stats.summarise(draws[:n]).ci95_half_width for n in (4, 16, 64)]
    assert widths[0] > widths[1] > widths[2]


def test_harness_ci_shrinks_with_repetitions_on_a_noisy_fake(tmp_path):
    widths = []
    for reps in (3, 12):
        run = harness.run_suite(
            _suite(reps=reps, window=0.05),
            tmp_path / f"r{reps}",
            probes=[_noisy_probe(reps)],
            force=True,
            interval_s=0.01,
        )
        e = run.results["gemm"]["benchmark"]["energy_per_unit_j"]
        widths.append((e["ci95_high"] - e["ci95_low"]) / e["mean"])
    assert widths[1] < widths[0]


def test_layout_disclosures_and_summary(tmp_path):
    run = harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()], interval_s=0.02)
    d = tmp_path / "tiny" / harness.host_id()
    assert run.directory == d
    assert sorted(p.name for p in d.iterdir()) == [
        "embed.json",
        "gemm.json",
        "summary.html",
        "summary.json",
    ]
    doc = json.loads((d / "embed.json").read_text())
    b = doc["benchmark"]
    assert doc["repetitions"] == 2 and len(b["repetitions"]) == 2
    assert all(r["duration_s"] >= 0.15 for r in b["repetitions"])
    assert b["energy_per_unit_j"]["ci95_low"] <= b["energy_per_unit_j"]["mean"]
    assert b["throughput_units_per_s"]["mean"] > 0
    assert doc["idle"]["power_w"] > 0 and "net_energy_per_unit_j" in b
    assert doc["rating"]["standard"]["id"] == "greenai-2026.3"
    assert doc["rating"]["energy"]["index"] is not None  # embeddings is a task class
    # the harness discloses what the workload is, and embeddings does not grade a matrix product
    assert doc["work"] == {"workload": "greenai-embed-fp32", "phase": "inference"}
    assert doc["rating"]["energy"]["grade"] is None
    gemm = json.loads((d / "gemm.json").read_text())
    assert gemm["work"]["workload"] == "greenai-gemm-fp32"
    assert gemm["rating"]["task"] == "greenai-gemm-fp32"  # matrix-multiply is its alias
    summary = json.loads((d / "summary.json").read_text())
    assert summary["complete"] and {w["workload"] for w in summary["workloads"]} == {
        "gemm",
        "embed",
    }
    html = (d / "summary.html").read_text()
    # no resource is fetched from anywhere: the only URLs are XML namespace names
    assert "<svg" in html and "http" not in re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)


def test_rerun_skips_finished_workloads_and_force_reruns(tmp_path):
    harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()], interval_s=0.02)
    calls = []

    def counting(kind, params, device="cpu"):
        calls.append(kind)
        return make(kind, params, device)

    again = harness.run_suite(
        _suite(), tmp_path, probes=[_noisy_probe()], workload_factory=counting
    )
    assert calls == [] and sorted(again.reused) == ["embed", "gemm"]
    harness.run_suite(
        _suite(),
        tmp_path,
        probes=[_noisy_probe()],
        force=True,
        workload_factory=counting,
        interval_s=0.02,
    )
    assert calls == ["gemm", "embed-infer"]


class _Interrupting(Workload):
    name, unit = "boom", "query"

    def step(self) -> float:
        raise KeyboardInterrupt


def test_ctrl_c_keeps_finished_results_and_rerun_finishes_the_rest(tmp_path):
    extra = [
        {
            "id": "zzz",
            "kind": "boom",
            "task": "embeddings",
            "warmup_s": 0.0,
            "repetitions": 1,
            "min_duration_s": 0.05,
        }
    ]
    suite = parse_suite(
        {
            "suite": {"id": "tiny"},
            "workload": [
                {
                    "id": "gemm",
                    "kind": "gemm",
                    "task": "matrix-multiply",
                    "params": {"n": 32},
                    "warmup_s": 0.0,
                    "repetitions": 1,
                    "min_duration_s": 0.05,
                },
                *extra,
                {
                    "id": "embed",
                    "kind": "embed-infer",
                    "task": "embeddings",
                    "warmup_s": 0.0,
                    "repetitions": 1,
                    "min_duration_s": 0.05,
                },
            ],
        }
    )

    def factory(kind, params, device="cpu"):
        return _Interrupting(params) if kind == "boom" else make(kind, params, device)

    run = harness.run_suite(suite, tmp_path, probes=[_noisy_probe()], workload_factory=factory)
    assert run.interrupted and list(run.results) == ["gemm"]
    d = tmp_path / "tiny" / harness.host_id()
    assert not (d / "zzz.json").exists() and not (d / "embed.json").exists()
    assert json.loads((d / "summary.json").read_text())["complete"] is False
    ran = []

    def fine(kind, params, device="cpu"):
        ran.append(kind)
        return make("embed-infer" if kind == "boom" else kind, params, device)

    rerun = harness.run_suite(suite, tmp_path, probes=[_noisy_probe()], workload_factory=fine)
    assert rerun.reused == ["gemm"] and ran == ["boom", "embed-infer"]
    assert json.loads((d / "summary.json").read_text())["complete"] is True


def test_unavailable_workload_is_skipped_with_its_reason(tmp_path):
    def factory(kind, params, device="cpu"):
        if kind == "embed-infer":
            raise WorkloadUnavailable("PyTorch is not installed")
        return make(kind, params, device)

    run = harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()], workload_factory=factory)
    assert run.skipped == {"embed": "PyTorch is not installed"}
    summary = json.loads((run.directory / "summary.json").read_text())
    assert summary["skipped"] == [{"workload": "embed", "reason": "PyTorch is not installed"}]


def test_report_ranks_hosts(tmp_path):
    for host, power in (("fast-host", 20.0), ("slow-host", 200.0)):
        run = harness.run_suite(
            _suite(),
            tmp_path / host,
            interval_s=0.02,
            probes=[ClockProbe("rapl:package-0", time.monotonic, lambda _t, p=power: p)],
        )
        summary = json.loads((run.directory / "summary.json").read_text())
        summary["host"] = host
        (run.directory / "summary.json").write_text(json.dumps(summary))
    from greenai.report.bench import comparability, ranking, summary_html

    summaries = harness.load_results([tmp_path])
    ranked = ranking(summaries)
    assert [h.split()[0] for h, _ in ranked["gemm"]] == ["fast-host", "slow-host"]
    cmp = comparability(summaries)
    assert set(cmp) == {"gemm", "embed"} and cmp["gemm"].integrity == ("hash-only", "hash-only")
    assert cmp["gemm"].comparable  # same task, unit and boundary on both hosts
    page = summary_html(summaries, comparisons=cmp)
    assert page.index("fast-host") < page.index("slow-host")
    assert "all hosts' results are comparable" in page


def test_shipped_suites_load_and_smoke_fits_three_minutes_with_every_task_a_class():
    from greenai.standard import load_standard

    smoke = load_suite("smoke")
    assert smoke.planned_s() < 180
    default = load_standard(None)
    for w in smoke.workloads:
        task = default.task_class(w.task)
        assert task is not None, w.task  # every smoke workload can be rated
        assert task.accepts_unit(make(w.kind, w.params).unit), w.id
    assert {w.kind for w in load_suite("standard").workloads} >= {
        "gemm",
        "mlp-train",
        "embed-infer",
        "cnn-train",
        "text-generate",
        "image-classify",
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"suite": {"id": "x"}}, "no \\[\\[workload\\]\\]"),
        ({"suite": {"id": "x", "colour": 1}, "workload": []}, "unknown key"),
        ({"suite": {"id": "x"}, "workload": [{"id": "a", "kind": "gemm"}]}, "task: missing"),
        (
            {
                "suite": {"id": "x"},
                "workload": [{"id": "a", "kind": "gemm", "task": "t", "repetitions": 0}],
            },
            "repetitions",
        ),
        (
            {"suite": {"id": "x"}, "workload": [{"id": "a", "kind": "g", "task": "t"}] * 2},
            "duplicate",
        ),
        (
            {
                "suite": {"id": "x"},
                "workload": [{"id": "a", "kind": "g", "task": "t", "min_duration_s": -1}],
            },
            "min_duration_s",
        ),
    ],
)
def test_bad_suite_files(doc, message):
    with pytest.raises(SuiteError, match=message):
        parse_suite(doc, "s.toml")


def test_torch_workloads_skip_with_a_reason_without_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(WorkloadUnavailable, match="PyTorch is not installed"):
            make("cnn-train", {}, "auto")
    else:
        w = make("cnn-train", {"batch": 2, "image_size": 8}, "cpu")
        w.setup()
        assert w.step() == 2.0


def test_report_keeps_two_hosts_of_the_same_name_and_says_a_true_duplicate_once(tmp_path):
    import shutil

    from greenai.report.bench import ranking, summary_html

    powers = {"before": 20.0, "after": 200.0}
    for name, power in powers.items():  # two result sets of the same host name
        harness.run_suite(
            _suite(reps=2, window=0.05),
            tmp_path / name,
            interval_s=0.02,
            probes=[ClockProbe("rapl:package-0", time.monotonic, lambda _t, p=power: p)],
        )
    host = harness.host_id()
    summaries = harness.load_results([tmp_path / "before", tmp_path / "after"])
    assert list(summaries) == [f"{host} (tiny)", f"{host} (2) (tiny)"]
    assert summaries.duplicates == []
    assert [s["directory"] for s in summaries.values()] == [
        str(tmp_path / n / "tiny" / host) for n in powers
    ]
    ranked = ranking(summaries)
    assert [label for label, _ in ranked["gemm"]] == [f"{host} (tiny)", f"{host} (2) (tiny)"]
    page = summary_html(summaries)
    assert "2 result sets" in page and str(tmp_path / "after") in page

    shutil.copytree(tmp_path / "before", tmp_path / "copy")  # same bytes: one result
    again = harness.load_results([tmp_path / "before", tmp_path / "copy", tmp_path / "after"])
    assert len(again) == 2
    assert again.duplicates == [
        (str(tmp_path / "copy" / "tiny" / host / "summary.json"), f"{host} (tiny)")
    ]
    assert "counted once" in summary_html(again)


def test_suite_summary_shows_total_energy_duration_water_carbon_and_why_not_graded(tmp_path):
    run = harness.run_suite(
        _suite(reps=2, window=0.05),
        tmp_path,
        interval_s=0.02,
        probes=[ClockProbe("rapl:package-0", time.monotonic, lambda _t: 50.0)],
    )
    summary = json.loads((run.directory / "summary.json").read_text())
    page = (run.directory / "summary.html").read_text()
    for row in summary["workloads"]:
        doc = json.loads((run.directory / row["file"]).read_text())
        assert row["energy_j"] == doc["energy_j"] and row["duration_s"] == doc["duration_s"]
        from greenai import units

        for shown in (
            units.si(row["energy_j"], "J"),
            units.duration(row["duration_s"]),
            units.si(row["water_l"], "L"),
            units.si(row["carbon_g"], "g CO2e"),
        ):
            assert f"<td>{shown}</td>" in page, shown
        assert row["verdict"] and html.escape(row["verdict"]) in page
    for header in ("energy (total)", "duration", "water", "carbon", "energy grade", "verdict"):
        assert f">{header}</th>" in page
    text = harness.summary_table(summary["workloads"])
    assert len(text) == len(summary["workloads"])
    for line, row in zip(text, summary["workloads"], strict=True):
        assert line.startswith(f"{row['workload']}: ") and "95 % CI" in line
        assert (
            f"energy {units.si(row['energy_j'], 'J')} in {units.duration(row['duration_s'])}"
            in line
        )
        assert f"carbon {units.si(row['carbon_g'], 'g CO2e')}" in line
        assert f"no grade: {row['verdict']}" in line


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_is_alive(tmp_path):
    from greenai.errors import DisclosureError

    refusals: list[str] = []

    def factory(kind, params, device="cpu"):
        if not refusals:  # the first run is inside its first workload: start a second one
            with pytest.raises(DisclosureError) as err:
                harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()])
            refusals.append(str(err.value))
        return make(kind, params, device)

    run = harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()], workload_factory=factory)
    assert sorted(run.results) == ["embed", "gemm"]
    assert len(refusals) == 1 and "another live greenai run" in refusals[0]
    assert f"pid {__import__('os').getpid()}" in refusals[0]
    assert not list(tmp_path.rglob("*.lock"))  # released: a later run goes ahead
    again = harness.run_suite(_suite(), tmp_path, probes=[_noisy_probe()])
    assert sorted(again.reused) == ["embed", "gemm"]
