"""Tests for greenai/report/html.py: self-contained, escaped, complete."""

from __future__ import annotations

import copy
import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from greenai.disclosure import seal
from greenai.errors import DisclosureError
from greenai.probes.base import Method
from greenai.report.html import to_html
from tests.report.docs import hostile, make_doc

# Anything that would make a browser fetch: external URLs in attributes or CSS, imports.
FETCHES = re.compile(
    r"""(?:\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?!#)[a-z]+:)"""
    r"""|url\(\s*["']?\s*(?!#)|@import|<link\b|<script\b|<iframe\b|<object\b|<embed\b""",
    re.I,
)


@pytest.fixture(scope="module")
def doc():
    return make_doc(cpu_method=Method.MODEL, dram_w=5.0)


@pytest.fixture(scope="module")
def page(doc):
    return to_html(doc)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(attributes["id"])


def test_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert not FETCHES.search(page)
    parser = _Tags()
    parser.feed(page)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_charts_are_inline_svg_with_unique_ids(page, doc):
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    # label, power over time, energy by domain, by phase, water
    assert len(svgs) == 5
    for svg in svgs:
        ET.fromstring(svg)  # each is well-formed XML
    parser = _Tags()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids)), "ids clash between charts"
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', page):
        assert ref in parser.ids, f"dangling reference #{ref}"
    timeline = svgs[1]
    for device in doc["timeline"]["power_w"]:
        assert f">{device}<" in timeline


def test_every_factor_source_and_kind_appears(page, doc):
    for factor in doc["site"]["factors"].values():
        assert html.escape(factor["source"]) in page
        assert f"<td>{factor['kind']}</td>" in page


def test_method_and_provenance_of_each_domain(page):
    def domain_row(name):
        match = re.search(rf"<tr><td>{name}</td>(.*?)</tr>", page)
        assert match, name
        return re.sub(r"<[^>]+>", "|", match[1])

    assert "modelled" in domain_row("cpu") and "|model|" in domain_row("cpu")
    assert "measured" in domain_row("gpu") and "|counter|" in domain_row("gpu")
    assert "cpu modelled (model), dram modelled (model), gpu measured (counter)" in page


def test_water_on_and_off_site_and_carbon(page, doc):
    fp = doc["footprint"]
    assert "water, on site (cooling)" in page and "water, off site (power generation)" in page
    assert "not consumed; not in the total" in page  # withdrawal is shown apart
    assert re.search(r'id="carbon"', page)
    assert f"{fp['carbon_g']:.3g} g CO2e" in page


def test_grades_and_reasons(page, doc):
    assert "not graded" in page
    for reason in doc["rating"]["energy"]["reasons"]:
        assert f"<li>{html.escape(reason)}</li>" in page
    graded = to_html(make_doc())
    assert '<span class="grade E">E</span>' in graded


def test_untrusted_text_is_escaped(doc):
    payload = "<script>alert(1)</script>"
    evil = hostile(doc, payload)
    evil["site"]["factors"]["pue"]["source"] = 'see "https://evil.example/x.js" onload=x'
    evil["timeline"]["power_w"]["<img src=x>"] = evil["timeline"]["power_w"].pop("nvml:0")
    page = to_html(evil)
    assert payload not in page and "<img src=x>" not in page
    assert html.escape(payload) in page
    assert not FETCHES.search(page)  # a URL in a source string stays text
    assert "https://evil.example/x.js" in html.unescape(page)


def test_sealed_and_tampered_documents(doc):
    sealed = seal(doc)
    assert "The content hash matches the document" in to_html(sealed)
    tampered = copy.deepcopy(sealed)
    tampered["energy_j"] = 1.0
    assert "does <strong>not</strong> match" in to_html(tampered)
    assert "not sealed" in to_html(doc)


def test_missing_blocks_render_with_a_note(doc):
    bare = copy.deepcopy(doc)
    for key in ("timeline", "rating", "site", "footprint", "phases"):
        bare[key] = None
    page = to_html(bare)
    assert "The disclosure has no timeline" in page
    assert "Not rated" in page
    assert "Not computed: the disclosure has no footprint block" in page
    assert "The run declared no phases." in page


def test_rejects_non_documents():
    with pytest.raises(DisclosureError):
        to_html(None)  # type: ignore[arg-type]


def test_a_failed_gpu_is_reported():
    with pytest.warns(UserWarning):
        page = to_html(make_doc(gpu_fails_after_s=30.2))
    assert "<td>failed at 30.5 s: nvml:0: device went away</td>" in page
    assert "<li>Gap: nvml:0 not measured from 30.5 s on: nvml:0: device went away</li>" in page


def test_an_imported_third_party_figure_says_so_on_top():
    from greenai.interop.table import import_table, load_mapping
    from tests.interop.test_table import a40_path

    doc = import_table(a40_path(), load_mapping("ml-energy"), max_rows=1).docs[0]
    doc["source"]["publisher"] = "<i>board</i>"
    page = to_html(doc)
    assert "Third-party figure, as published by &lt;i&gt;board&lt;/i&gt;" in page
    assert "not a greenai measurement. Measured: gpu; not counted: cpu, dram, pue." in page
    assert "Third-party figure" not in to_html(make_doc())


def test_the_method_says_when_every_figure_is_a_counter_read_at_edges():
    counters = make_doc(cpu_method=Method.COUNTER)
    assert counters["sampling"].get("energy_reads") == "window edges"
    assert "hardware counter read at the window&#x27;s edges" in to_html(counters)
    sampled = make_doc(cpu_method=Method.MODEL)
    assert "energy_reads" not in sampled["sampling"]
    assert "Sampling every" in to_html(sampled)
