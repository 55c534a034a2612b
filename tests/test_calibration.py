"""Calibration: band edges from a population (quantile, log-equal), refusals, population I/O."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from greenai.calibration import (
    CalibrationError,
    calibrate,
    load_population,
    population_from_columns,
    save_population_csv,
)
from greenai.errors import DisclosureError
from greenai.scoring import Population, RatingInput, rate_many
from greenai.standard import GRADES, load_standard, parse_standard

REFERENCE_J = 0.285 * 3.6  # text-classification: 0.285 Wh per 1000 queries, per query
# the datasets the default standard's classes fix (a conformant run discloses it)
DATASETS = {
    "text-classification": "EnergyStarAI/text_classification",
    "embeddings": "EnergyStarAI/sentence_similarity",
}


def _disclosure(rng: random.Random, task: str = "text-classification", **changes) -> dict:
    """A result JSON document of a conformant run whose energy index is log-normal around 1."""
    units = rng.choice([1000, 5000, 20000])
    index = math.exp(rng.gauss(0.0, 1.0))
    doc = {
        "kind": "greenai.measurement",
        "status": "ok",
        "task": task,
        "unit": "query",
        "units_done": units,
        "duration_s": rng.uniform(60.0, 900.0),
        "energy_j": index * REFERENCE_J * units,
        "domains": {
            "cpu": {"energy_j": 1.0, "provenance": "measured", "complete": True},
            "gpu": {"energy_j": 1.0, "provenance": "measured", "complete": True},
        },
        "idle": None,
        "sampling": {"interval_s": 0.1},
        "footprint": {"computed": True, "water_l": {"total": index * units * 1e-6}},
        "work": {"phase": "inference", "dataset": DATASETS.get(task)},
    }
    doc.update(changes)
    return doc


def _population(n: int, seed: int = 1, **changes) -> Population:
    rng = random.Random(seed)
    return Population.from_inputs(
        [RatingInput.from_disclosure(_disclosure(rng, **changes)) for _ in range(n)]
    )


def _band_counts(population: Population, std, kind: str = "energy") -> list[int]:
    grades = rate_many(population, std).grades(kind)
    return [grades.count(g) for g in GRADES[: len(std.tasks["text-classification"].bands.bands)]]


# ----------------------------------------------------------------------- quantile
@pytest.mark.parametrize("n_bands", [5, 7])
def test_quantile_calibration_puts_about_one_nth_in_each_band(n_bands: int):
    population = _population(1000)
    std = load_standard()
    draft = calibrate(population, std, method="quantile", n_bands=n_bands, on="2026-03-01")
    bands = draft.tasks["text-classification"].bands
    assert bands.grades == GRADES[:n_bands]
    assert (bands.method, bands.population, bands.date) == ("quantile", 1000, "2026-03-01")
    counts = _band_counts(population, draft)
    assert sum(counts) == 1000
    for count in counts:
        assert abs(count - 1000 / n_bands) <= 3, counts
    # water has its own population of indices and is calibrated the same way
    water_counts = _band_counts(population, draft, "water")
    assert all(abs(c - 1000 / n_bands) <= 3 for c in water_counts), water_counts


def test_calibration_records_method_population_and_date_in_the_file():
    population = _population(200)
    draft = calibrate(
        population, load_standard(), n_bands=5, min_population=50, on="2026-03-01", source="runs/"
    )
    text = draft.to_toml()
    for line in ('method = "quantile"', "population = 200", "date = 2026-03-01"):
        assert line in text
    again = parse_standard(text)
    assert again == draft
    assert again.calibration.method == "quantile" and again.calibration.population == 200
    assert again.calibration.source == "runs/"
    assert again.calibration.calibrated == ("text-classification", "text-classification (water)")
    assert draft.status == "draft" and draft.id == "greenai-2026.3-calibrated"
    # references, sources and requirements are carried over unchanged
    before, after = load_standard().tasks, again.tasks
    assert after["text-classification"].energy == before["text-classification"].energy
    assert after["training"] == before["training"]


def test_log_equal_calibration_uses_equal_widths_on_the_log_index():
    population = _population(300)
    table = rate_many(population, load_standard())
    draft = calibrate(population, load_standard(), method="log-equal", n_bands=4, on="2026-03-01")
    edges = draft.tasks["text-classification"].bands.edges
    lo, hi = np.nanmin(table.energy_index), np.nanmax(table.energy_index)
    expected = np.geomspace(lo, hi, 5)[1:-1]
    assert np.allclose(edges, expected, rtol=1e-5)
    assert np.allclose(np.diff(np.log(edges)), math.log(hi / lo) / 4, rtol=1e-4)


def test_ties_still_give_strictly_increasing_edges():
    population = _population(100, energy_j=REFERENCE_J * 1000, units_done=1000, footprint=None)
    draft = calibrate(population, load_standard(), n_bands=5, on="2026-03-01")
    edges = draft.tasks["text-classification"].bands.edges
    assert all(b > a for a, b in zip(edges, edges[1:], strict=False))
    with pytest.raises(CalibrationError, match="same index"):
        calibrate(population, load_standard(), method="log-equal", on="2026-03-01")


# ----------------------------------------------------------------------- refusals
def test_a_class_with_too_few_results_is_refused_and_keeps_its_bands():
    rng = random.Random(3)
    inputs = [RatingInput.from_disclosure(_disclosure(rng)) for _ in range(60)]
    inputs += [RatingInput.from_disclosure(_disclosure(rng, task="embeddings")) for _ in range(12)]
    std = load_standard()
    draft = calibrate(Population.from_inputs(inputs), std, min_population=30, on="2026-03-01")
    assert draft.tasks["embeddings"].bands == std.tasks["embeddings"].bands
    assert draft.tasks["text-classification"].bands != std.tasks["text-classification"].bands
    assert "embeddings: 12 conformant results < 30 minimum" in draft.calibration.refused
    # the classes without a single result share one entry, not one line each
    (empty,) = [r for r in draft.calibration.refused if r.startswith("no results: ")]
    assert "image-generation" in empty and "embeddings" not in empty
    too_few = "cannot calibrate embeddings: 12 conformant results < 30"
    with pytest.raises(CalibrationError, match=too_few):
        calibrate(Population.from_inputs(inputs), std, tasks=["embeddings"], on="2026-03-01")


def test_nothing_to_calibrate_is_an_error_that_says_why():
    with pytest.raises(CalibrationError, match="no task class could be calibrated from 5 results"):
        calibrate(_population(5), load_standard(), on="2026-03-01")


def test_only_conformant_results_count_unless_asked():
    population = _population(40, duration_s=5.0)  # too short for the default standard
    with pytest.raises(CalibrationError, match="0 conformant results"):
        calibrate(population, load_standard(), on="2026-03-01")
    draft = calibrate(population, load_standard(), conformant_only=False, on="2026-03-01")
    assert draft.tasks["text-classification"].bands.population == 40


def test_bad_arguments_are_refused():
    population = _population(40)
    with pytest.raises(ValueError, match="method"):
        calibrate(population, load_standard(), method="fifths")
    with pytest.raises(ValueError, match="n_bands"):
        calibrate(population, load_standard(), n_bands=9)
    with pytest.raises(CalibrationError, match="not a task class"):
        calibrate(population, load_standard(), tasks=["protein-folding"])


# ----------------------------------------------------------------------- population input
def test_load_population_reads_a_folder_recursively_and_skips_bad_files(tmp_path: Path):
    rng = random.Random(5)
    for i in range(12):
        folder = tmp_path / f"site{i % 3}" / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"run{i}.json").write_text(json.dumps(_disclosure(rng)))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"kind": "something else"}))
    (tmp_path / "notes.txt").write_text("ignored")
    population = load_population(tmp_path)
    assert len(population) == 12
    assert len(population.skipped) == 2
    assert any("broken.json: not readable JSON" in s for s in population.skipped)
    assert any("other.json" in s and "missing" in s for s in population.skipped)
    assert all(label.endswith(".json") for label in population.labels)


def test_population_csv_round_trip(tmp_path: Path):
    population = _population(50)
    path = save_population_csv(population, tmp_path / "population.csv")
    again = load_population(path)
    std = load_standard()
    a, b = rate_many(population, std), rate_many(again, std)
    assert np.array_equal(a.energy_index, b.energy_index)
    assert np.array_equal(a.water_index, b.water_index)
    assert a.grades() == b.grades()
    assert [again.label(i) for i in range(50)] == [population.label(i) for i in range(50)]


def test_population_from_a_dataframe_and_partial_columns():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "task": ["text-classification", "embeddings"],
            "unit": ["query", "query"],
            "units_done": [1000, 1000],
            "energy_j": [1026.0, 4248.0],
            "duration_s": [120.0, 120.0],
            "sampling_interval_s": [0.1, 0.1],
            "cpu_provenance": ["measured", "modelled"],
            "phase": ["inference", "inference"],
            "dataset": ["EnergyStarAI/text_classification", "EnergyStarAI/sentence_similarity"],
        }
    )
    table = rate_many(load_population(frame), load_standard())
    assert table.energy_index.tolist() == pytest.approx([1.0, 2.0])
    assert table.grades() == ["D", None]
    assert table.reasons(1) == ("cpu energy modelled",)


def test_malformed_tables_name_the_column():
    with pytest.raises(DisclosureError, match="'energy_j' missing"):
        population_from_columns({"task": ["x"], "units_done": [1], "duration_s": [1]})
    with pytest.raises(DisclosureError, match="cpu_provenance"):
        population_from_columns(
            {
                "task": ["x"],
                "units_done": [1],
                "energy_j": [1],
                "duration_s": [1],
                "cpu_provenance": ["guessed"],
            }
        )
    with pytest.raises(DisclosureError, match="'energy_j': negative"):
        population_from_columns(
            {"task": ["x"], "units_done": [1], "energy_j": [-1], "duration_s": [1]}
        )


# ----------------------------------------------------------------------- third-party figures
def _third_party(rng: random.Random, **changes) -> dict:
    """A document as greenai import table makes it: GPU energy as published, nothing else."""
    doc = _disclosure(rng, **changes)
    doc["domains"] = {"gpu": {"energy_j": doc["energy_j"], "provenance": "third-party"}}
    doc["sampling"] = {"interval_s": None}
    doc["duration_s"] = rng.uniform(1.0, 20.0)  # one response: far below any greenai minimum
    doc["footprint"] = {"computed": False, "reason": "third-party figure"}
    return doc


def test_a_third_party_population_is_calibrated_among_itself_and_then_graded():
    rng = random.Random(7)
    population = Population.from_inputs(
        [RatingInput.from_disclosure(_third_party(rng)) for _ in range(23)]
    )
    std = load_standard()
    assert set(rate_many(population, std).grades()) == {None}  # greenai does not grade them
    draft = calibrate(population, std, min_population=21, tasks=["text-classification"], relax=True)
    req = draft.tasks["text-classification"].requirements
    assert req.third_party and req.required_domains == ("gpu",) and req.measured_domains == ()
    assert math.isinf(req.max_sampling_interval_s) and req.min_duration_s == 0
    counts = _band_counts(population, draft)
    assert sum(counts) == 23 and max(counts) - min(counts) <= 1  # 23 / 7: 3 or 4 each
    again = parse_standard(draft.to_toml())  # the file says so, and reads back the same
    assert again.tasks["text-classification"].requirements == req
    assert not again.tasks["embeddings"].requirements.third_party


def test_a_class_mixing_third_party_and_greenai_results_is_refused():
    rng = random.Random(8)
    docs = [_third_party(rng) for _ in range(20)] + [_disclosure(rng) for _ in range(20)]
    population = Population.from_inputs([RatingInput.from_disclosure(d) for d in docs])
    with pytest.raises(CalibrationError, match="mixes 20 third-party figures with 20 greenai"):
        calibrate(
            population,
            load_standard(),
            min_population=10,
            tasks=["text-classification"],
            relax=True,
        )
