"""`greenai rate` and `greenai standard calibrate` on real disclosures."""

from __future__ import annotations

from pathlib import Path

from greenai.meter import Meter
from greenai.sampler import Sampler
from tests.cli import greenai_cli
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant

_cli = greenai_cli


def _population(folder: Path, n: int) -> None:
    for i in range(n):
        clock = FakeClock()
        s = Sampler([ClockProbe("rapl:package-0", clock, constant(20.0 + i))], clock=clock)
        s.sample()
        work = {"phase": "inference", "dataset": "EnergyStarAI/sentence_similarity"}
        with Meter("embeddings", "query", sampler=s, handle_signals=False, work=work) as m:
            for _ in range(70):
                clock.advance(1.0)
                s.sample()
            m.count(10_000)
        m.result.save(folder / f"run{i:03d}.json")


def test_rate_and_calibrate(tmp_path):
    _population(tmp_path, 40)
    out = _cli("rate", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "run0" in ln]
    assert len(lines) == 40 and "measured" not in lines[0]
    draft = tmp_path.parent / "draft.toml"
    res = _cli(
        "standard",
        "calibrate",
        str(tmp_path),
        "--method",
        "quantile",
        "--bands",
        "5",
        "--id",
        "test-2027.1",
        "--version",
        "2027.1",
        "-o",
        str(draft),
    )
    assert res.returncode == 0, res.stderr
    text = draft.read_text()
    assert "quantile" in text and "40" in text
    moved = _cli("rate", str(tmp_path), "--standard", str(draft), "--against", "greenai-2026.1")
    assert moved.returncode == 0 and "moved" in moved.stdout
    graded = [
        ln.split()[3]
        for ln in _cli("rate", str(tmp_path), "--standard", str(draft)).stdout.splitlines()
        if "run0" in ln
    ]
    # quantile bands: each of the 5 grades holds 1/5 of the population
    assert {g: graded.count(g) for g in set(graded)} == {g: 8 for g in "ABCDE"}


def test_calibrate_refuses_a_small_population(tmp_path):
    _population(tmp_path, 5)
    res = _cli("standard", "calibrate", str(tmp_path), "-o", str(tmp_path / "d.toml"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "embeddings" in res.stderr


def test_rate_o_skips_a_file_whose_figures_the_rating_refuses_and_writes_the_rest(tmp_path):
    import json

    from greenai import disclosure

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _population(src, 3)
    doc = json.loads((src / "run001.json").read_text())
    doc["units_done"] = 1e25  # the schema takes it; no real run counts that much
    doc.pop("integrity", None)
    (src / "run001.json").write_text(json.dumps(disclosure.seal(doc)))
    res = _cli("rate", str(src), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["run000.json", "run002.json"]
    assert f"skipped: {src / 'run001.json'}: units_done: 1e+25 is beyond any real run" in res.stderr
    assert sum("run00" in ln for ln in res.stdout.splitlines()) == 2
