"""Standard files: the shipped default, loading by id or path, round trip, and malformed files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from greenai import units
from greenai.errors import StandardError
from greenai.standard import (
    DEFAULT_STANDARD,
    GRADES,
    Bands,
    StandardFileError,
    canonical_unit,
    list_standards,
    load_standard,
    parse_standard,
)

DATA = Path(__file__).parent / "data" / "standards"
MINIMAL = (DATA / "minimal.toml").read_text(encoding="utf-8")
REQUIRED_CLASSES = (
    "training",
    "text-generation",
    "text-classification",
    "embeddings",
    "image-classification",
    "image-generation",
    "speech-recognition",
)


# ----------------------------------------------------------------------- default standard
def test_default_standard_is_a_draft_with_the_required_task_classes():
    std = load_standard()
    assert std.id == DEFAULT_STANDARD and std.version == "2026.3" and std.status == "draft"
    assert set(REQUIRED_CLASSES) <= set(std.tasks)
    assert std.bands.grades == GRADES


def test_default_references_name_sources_and_water_is_derived_from_the_site():
    std = load_standard()
    site = std.reference_site
    assert site is not None
    assert site.water_l_per_kwh == pytest.approx(0.30 + 1.10 * 3.8939)
    for task in std.tasks.values():
        assert task.energy.source.strip() and task.energy.per_unit > 0
        assert task.water.derived and "derived" in task.water.source
        expected_l = units.j_to_kwh(task.energy.per_unit) * site.water_l_per_kwh
        assert task.water.per_unit == pytest.approx(expected_l, rel=1e-12)


def test_default_reference_values_convert_from_their_stated_units():
    std = load_standard()
    # 0.285 Wh per 1000 queries -> J per query
    assert std.tasks["text-classification"].energy.per_unit == pytest.approx(0.285 * 3600 / 1000)
    assert std.tasks["text-generation"].energy.per_unit == pytest.approx(0.12)
    # GPT-3: 1287 MWh over 300e9 tokens = 15.44 J per token
    assert std.tasks["training"].energy.per_unit == pytest.approx(1287 * 3.6e9 / 300e9)
    assert std.tasks["training"].requirements.min_duration_s == 600
    assert std.tasks["text-generation"].requirements.min_duration_s == 60


def test_task_classes_are_found_by_id_alias_and_spelling():
    std = load_standard()
    assert std.task_class("Text_Classification").id == "text-classification"
    assert std.task_class("ASR").id == "speech-recognition"
    assert std.task_class("sentence similarity").id == "embeddings"
    assert std.task_class("protein-folding") is None and std.task_class(None) is None


def test_units_are_explicit_singular_and_aliases_are_listed():
    std = load_standard()
    classify = std.tasks["text-classification"]
    assert canonical_unit("Queries") == "query" and canonical_unit("furlongs") is None
    assert classify.accepts_unit("queries") and classify.accepts_unit("sample")
    assert not classify.accepts_unit("token") and not classify.accepts_unit(None)
    assert classify.functional_unit == "1000 query"


def test_round_trip_through_toml_gives_an_equal_standard():
    std = load_standard()
    again = parse_standard(std.to_toml(), source="<round trip>")
    assert again == std
    assert again.to_toml() == std.to_toml()


def test_minimal_standard_round_trips_with_explicit_water_and_overrides(tmp_path: Path):
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL)
    std = load_standard(path)
    assert not std.tasks["generate"].water.derived
    assert std.tasks["generate"].water.per_unit == pytest.approx(0.25e-3 / 1000)
    assert std.tasks["classify"].water.derived
    assert parse_standard(std.to_toml()) == std


def test_load_by_id_by_path_and_default(tmp_path: Path):
    shipped = load_standard(DEFAULT_STANDARD)
    assert load_standard(None) == shipped
    assert load_standard(Path(shipped.path)) == shipped
    assert any(s.id == DEFAULT_STANDARD and s.error is None for s in list_standards())
    unknown_id = "no standard with id 'nope-1.0'.*shipped: .*greenai-2026.1"
    with pytest.raises(StandardError, match=unknown_id):
        load_standard("nope-1.0")
    with pytest.raises(StandardError, match="no such standard file"):
        load_standard(tmp_path / "missing.toml")


def test_a_changed_file_is_read_again(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(MINIMAL)
    assert load_standard(path).title == "Test standard"
    path.write_text(MINIMAL.replace('title = "Test standard"', 'title = "Edited standard"'))
    assert load_standard(path).title == "Edited standard"


def test_bands_grade_half_open_intervals():
    bands = Bands.from_edges([0.5, 1.0, 2.0])
    assert [bands.grade(x) for x in (0.0, 0.4999, 0.5, 1.0, 1.99, 2.0, 1e300)] == [
        "A",
        "A",
        "B",
        "C",
        "C",
        "D",
        "D",
    ]
    assert bands.grade(math.nan) is None


# ----------------------------------------------------------------------- malformed files
def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _append(extra: str):
    return lambda text: text + extra


# (id, edit, key path in the error, words in the problem, text of the line it must point at)
MALFORMED = [
    (
        "unknown-key",
        _replace('title = "Test standard"', 'tittle = "Test standard"'),
        "standard.tittle",
        "unknown key",
        "tittle =",
    ),
    (
        "unknown-table",
        _replace("[bands]", "[band]"),
        "band",
        "unknown key",
        "[band]",
    ),
    (
        "missing-field",
        _replace('unit = "token"\n', ""),
        "tasks.generate.unit",
        "missing (required)",
        "[tasks.generate]",
    ),
    (
        "missing-source",
        _replace('source = "test water source"\n', ""),
        "tasks.generate.water.source",
        "missing (required)",
        "[tasks.generate.water]",
    ),
    (
        "overlapping-bands",
        _replace("B = [0.5, 1.0]", "B = [0.4, 1.0]"),
        "bands.B",
        "overlaps A",
        "B = [0.4, 1.0]",
    ),
    (
        "unordered-bands",
        _replace("B = [0.5, 1.0]\nC = [1.0, 2.0]", "B = [1.0, 2.0]\nC = [0.5, 1.0]"),
        "bands.C",
        "bands are unordered",
        "C = [0.5, 1.0]",
    ),
    (
        "gap-between-bands",
        _replace("C = [1.0, 2.0]", "C = [1.5, 2.0]"),
        "bands.C",
        "leaves a gap",
        "C = [1.5, 2.0]",
    ),
    (
        "closed-last-band",
        _replace("D = [2.0, inf]", "D = [2.0, 5.0]"),
        "bands.D",
        "larger indices get no grade",
        "D = [2.0, 5.0]",
    ),
    (
        "missing-grade",
        _replace("C = [1.0, 2.0]\n", ""),
        "bands.C",
        "C is missing",
        "[bands]",
    ),
    (
        "unit-mismatch",
        _replace('unit = "Wh/1000 query"', 'unit = "Wh/1000 token"'),
        "tasks.classify.energy.unit",
        "unit mismatch",
        'unit = "Wh/1000 token"',
    ),
    (
        "unknown-functional-unit",
        _replace('unit = "query"', 'unit = "querys"'),
        "tasks.classify.unit",
        "is not a functional unit",
        'unit = "querys"',
    ),
    (
        "power-is-not-energy",
        _replace('unit = "Wh/1000 query"', 'unit = "W/1000 query"'),
        "tasks.classify.energy.unit",
        "not a unit of energy",
        'unit = "W/1000 query"',
    ),
    (
        "duplicate-task-table",
        _append('\n[tasks.classify]\nname = "Again"\n'),
        "tasks.classify",
        "declared twice (duplicate task id)",
        None,  # tomllib reports the line; checked separately below
    ),
    (
        "duplicate-task-alias",
        _replace('aliases = ["sorting"]', 'aliases = ["sorting", "generate"]'),
        "tasks.generate",
        "duplicate task id",
        "[tasks.generate]",
    ),
    (
        "bad-type",
        _replace("per = 1000\naliases", 'per = "1000"\naliases'),
        "tasks.classify.per",
        "expected a number, found a string",
        'per = "1000"',
    ),
    (
        "bad-status",
        _replace('status = "draft"', 'status = "final"'),
        "standard.status",
        "'final' is not a status",
        'status = "final"',
    ),
    (
        "bad-version",
        _replace('version = "2026.1"', 'version = "v1"'),
        "standard.version",
        "'v1' is not a version",
        'version = "v1"',
    ),
    (
        "id-and-version-disagree",
        _replace('version = "2026.1"', 'version = "2026.2"'),
        "standard.version",
        "says version 2026.1",
        'version = "2026.2"',
    ),
    (
        "negative-reference",
        _replace("value = 2.0", "value = -2.0"),
        "tasks.classify.energy.value",
        "must be a finite number > 0",
        "value = -2.0",
    ),
    (
        "bad-date",
        _replace("date = 2026-02-01", 'date = "2026-13-01"'),
        "standard.date",
        "is not a date",
        'date = "2026-13-01"',
    ),
    (
        "unknown-domain",
        _replace('required_domains = ["cpu"]', 'required_domains = ["cpu0"]'),
        "requirements.required_domains",
        "'cpu0' is not a measurement domain",
        'required_domains = ["cpu0"]',
    ),
    (
        "bad-task-id",
        _replace("[tasks.generate]\n", "[tasks.Generate_Text]\n"),
        "tasks.Generate_Text",
        "is not a valid task id",
        "[tasks.Generate_Text]",
    ),
    (
        "no-water-and-no-site",
        lambda t: t[: t.index("[reference_site]")] + t[t.index("[requirements]") :],
        "tasks.classify.water",
        "no [reference_site] to derive one from",
        "[tasks.classify]",
    ),
    (
        "toml-syntax",
        _replace("per = 1000\naliases", "per = 1000 queries\naliases"),
        "",
        "not valid TOML",
        "per = 1000 queries",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key", "problem", "line_text"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_file_names_file_key_line_and_fix(tmp_path, edit, key, problem, line_text):
    text = edit(MINIMAL)
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(StandardFileError) as info:
        load_standard(path)
    err = info.value
    assert err.path == str(path)
    assert err.key == key
    assert problem in err.problem
    assert err.fix and "Fix: " in str(err) and str(path) in str(err)
    if line_text is not None:
        expected = next(n for n, line in enumerate(text.splitlines(), 1) if line_text in line)
        assert err.line == expected
        assert f"{path}:{expected}:" in str(err)


def test_duplicate_task_table_points_at_the_second_declaration(tmp_path: Path):
    text = MINIMAL + '\n[tasks.classify]\nname = "Again"\n'
    path = tmp_path / "dup.toml"
    path.write_text(text)
    with pytest.raises(StandardFileError) as info:
        load_standard(path)
    lines = text.splitlines()
    second = max(n for n, line in enumerate(lines, 1) if line == "[tasks.classify]")
    assert info.value.line == second


def test_unknown_key_suggests_the_close_one(tmp_path: Path):
    path = tmp_path / "typo.toml"
    path.write_text(MINIMAL.replace("[bands]", "[bnads]"))
    with pytest.raises(StandardFileError, match="did you mean 'bands'"):
        load_standard(path)


def test_there_are_at_least_eight_kinds_of_malformed_file():
    kinds = {case[3] for case in MALFORMED}
    assert len(MALFORMED) >= 8 and len(kinds) >= 8


def test_the_file_name_of_a_shipped_standard_finds_it():
    assert load_standard(f"{DEFAULT_STANDARD}.toml") == load_standard()
