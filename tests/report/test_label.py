"""Tests for greenai/report/label.py: the SVG and PNG label."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from greenai.probes.base import Method
from greenai.report import label
from tests.report.docs import H100, hostile, make_doc

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def graded():
    return make_doc()


@pytest.fixture(scope="module")
def ungraded():
    return make_doc(cpu_method=Method.MODEL)


def _texts(svg: str) -> list[tuple[str, float]]:
    root = ET.fromstring(svg)
    return [(t.text or "", float(t.get("font-size"))) for t in root.iter(f"{SVG}text")]


def test_fixed_size_and_well_formed(graded, ungraded):
    for doc in (graded, ungraded):
        root = ET.fromstring(label.to_label_svg(doc))
        assert (root.get("width"), root.get("height")) == (str(label.WIDTH), str(label.HEIGHT))


def test_grade_is_marked_on_both_scales(graded):
    grade = graded["rating"]["energy"]["grade"]
    assert grade == graded["rating"]["water"]["grade"]
    texts = _texts(label.to_label_svg(graded))
    marker = [t for t, size in texts if size == 22 and len(t) == 1]
    assert marker == [grade, grade]
    for letter in "ABCDEFG":  # each band letter once per scale
        assert sum(t == letter and size == 17 for t, size in texts) == 2
    assert "NOT GRADED" not in label.to_label_svg(graded)
    assert f'aria-label="energy grade {grade}, water grade {grade}"' in label.to_label_svg(graded)


def test_not_graded_shows_the_reason_and_no_marker(ungraded):
    svg = label.to_label_svg(ungraded)
    texts = [t for t, _ in _texts(svg)]
    assert texts.count("NOT GRADED") == 2
    assert ungraded["rating"]["energy"]["reasons"][0] in texts
    assert not [t for t, size in _texts(svg) if size == 22 and len(t) == 1]


def test_unrated_document_says_so(graded):
    doc = copy.deepcopy(graded)
    doc["rating"] = None
    svg = label.to_label_svg(doc)
    assert "the disclosure has no rating" in svg
    assert "not rated" in svg


def test_figures_task_hardware_standard_and_date(graded):
    svg = label.to_label_svg(graded)
    texts = [t for t, _ in _texts(svg)]
    assert "203 mJ/token" in texts  # 290 W x 70 s / 100 000 tokens, as every report spells it
    assert "figures per token" in texts
    water_l = graded["rating"]["water"]["measured_l"]  # per 1000 tokens
    assert f"{water_l * 1e9 / 1000:.3g} nL/token" in texts
    assert "text-generation" in texts
    assert H100 in texts
    assert "greenai-2026.3 (draft)" in texts
    assert graded["started_at"][:10] in texts


def test_cpu_only_run_names_the_cpu(graded):
    doc = make_doc(gpu_w=None)
    assert doc["host"]["cpu"] in [t for t, _ in _texts(label.to_label_svg(doc))]


def test_untrusted_and_long_text_is_escaped_and_cut(graded):
    doc = hostile(graded, "<script>" + "x" * 200)
    svg = label.to_label_svg(doc)
    ET.fromstring(svg)
    assert "<script>" not in svg
    task = [t for t, size in _texts(svg) if size == 17 and t.startswith("task")][0]
    assert task.endswith("…") and len(task) < 60


def test_png_matches_the_layout(tmp_path, graded):
    image = pytest.importorskip("matplotlib.image")
    path = label.write_label_png(graded, tmp_path / "label.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    scale = label.PNG_SCALE
    assert pixels.shape[:2] == (label.HEIGHT * scale, label.WIDTH * scale)
    row = "ABCDEFG".index(graded["rating"]["energy"]["grade"])
    x = int((label._COLUMN_X[0] + label._MARKER_X + 20) * scale)

    def brightness(band: int) -> float:
        y = int((label._BAND_TOP + band * label._BAND_PITCH + label._BAND_H / 2) * scale)
        return float(pixels[y, x, :3].mean())

    assert brightness(row) < 0.2  # the black marker
    assert brightness((row + 3) % 7) > 0.9  # no marker on another band


def test_no_text_runs_off_the_label(graded):
    doc = hostile(graded, "W" * 300)
    root = ET.fromstring(label.to_label_svg(doc))
    for t in root.iter(f"{SVG}text"):
        width = len(t.text or "") * float(t.get("font-size")) * label._CHAR_W
        x = float(t.get("x"))
        left = {"end": x - width, "middle": x - width / 2}.get(t.get("text-anchor"), x)
        assert left >= 0 and left + width <= label.WIDTH, t.text
