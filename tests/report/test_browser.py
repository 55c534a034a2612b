"""The HTML report, comparison and label open in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from greenai.report import compare, html, label
from tests.report.docs import hostile, make_doc

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _dom(tmp_path: Path, page: Path) -> str:
    res = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _screenshot(tmp_path: Path, page: Path, size: str = "1000,1400") -> Path:
    shot = tmp_path / f"{page.stem}.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size}", page.as_uri())
    assert shot.exists(), res.stderr[-2000:]
    return shot


def _ink(png: Path) -> float:
    """Return the share of pixels that are not (near) white."""
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    return float((pixels.min(axis=2) < 0.9).mean())


def test_html_report_renders_with_its_charts(tmp_path):
    doc = hostile(make_doc())
    page = tmp_path / "report.html"
    page.write_text(html.to_html(doc))
    dom = _dom(tmp_path, page)
    assert "text-generation" in dom
    assert "<script>alert(1)</script>" not in dom  # the hostile string stayed text
    assert dom.count("<svg") >= 2  # power over time and energy charts drawn inline
    assert _ink(_screenshot(tmp_path, page)) > 0.02


def test_comparison_renders(tmp_path):
    from greenai.probes.base import Method

    cmp = compare.compare([make_doc(), make_doc(cpu_method=Method.MODEL)], names=["a", "b"])
    page = tmp_path / "compare.html"
    page.write_text(compare.to_html(cmp))
    dom = _dom(tmp_path, page)
    assert "modelled" in dom and "a" in dom and "b" in dom
    assert _ink(_screenshot(tmp_path, page)) > 0.02


def test_label_svg_renders_legibly(tmp_path):
    page = tmp_path / "label.svg"
    page.write_text(label.to_label_svg(make_doc()))
    shot = _screenshot(tmp_path, page, "420,620")  # the label's own size
    assert _ink(shot) > 0.1  # grade bands and text, not a blank page


def test_rank_page_renders_with_its_chart(tmp_path):
    from greenai.calibration import calibrate
    from greenai.interop.table import import_table, load_mapping
    from greenai.population import Results
    from greenai.report.rank import rank, write_html
    from greenai.standard import load_standard
    from tests.interop.test_table import a40_path

    docs = import_table(a40_path(), load_mapping("ml-energy"), gpu="NVIDIA A40").docs
    population = Results(docs, tuple(f"a40-{i}" for i in range(len(docs))))
    draft = calibrate(population.population, load_standard(), min_population=21, relax=True)
    ranking = rank(population, [make_doc(task="chat", units=3000)], names=["mine"], standard=draft)
    page, _ = write_html(ranking, tmp_path / "rank.html")
    dom = _dom(tmp_path, page)
    assert (
        "mine" in dom
        and re.search(r"(best|above all|rank \d+) of 23", dom)
        and dom.count("<svg") >= 1
    )
    assert "different measurement boundary" in dom
    assert _ink(_screenshot(tmp_path, page)) > 0.05  # bands drawn, not a blank page
