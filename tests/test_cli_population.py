"""The drafter's path from the CLI: import a published table, calibrate, rate, rank."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.cli import REPO, greenai_cli
from tests.interop.test_table import a40_path
from tests.report.docs import make_doc

EMBED = REPO / "reports" / "reference" / "smoke" / "vm" / "embed-infer.json"


def test_import_calibrate_rate_rank(tmp_path: Path):
    pop = tmp_path / "population" / "a40"
    res = greenai_cli(
        "import", "table", str(a40_path()), "--format", "ml-energy", "--gpu", "NVIDIA A40",
        "--task", "chat", "-o", str(pop),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("23 disclosure(s) written") and "0 row(s) left out" in res.stdout
    assert len(list(pop.glob("*.json"))) == 23
    assert greenai_cli("validate", *map(str, pop.glob("*.json"))).returncode == 0

    draft = tmp_path / "draft-chat.toml"
    calibrate = (
        "standard", "calibrate", str(tmp_path / "population"), "--method", "quantile",
        "--min-population", "21", "-o", str(draft),
    )  # fmt: skip
    res = greenai_cli(*calibrate)  # requirements are never relaxed unless asked
    assert res.returncode == 2 and not draft.exists()
    assert "23 third-party figures cannot meet its requirements (--relax" in res.stderr
    res = greenai_cli(*calibrate, "--relax")
    assert res.returncode == 0, res.stderr
    # 7 quantile bands, 3 of them narrower than the figures' stated 5 % uncertainty: merged
    line = re.search(r"text-generation/small +23 +23 +(.*)", res.stdout)
    assert line and line[1].startswith("calibrated, 4 grades (A:4 B:9 C:3 D:7); energy: 3 adj")
    assert "±5 %, stated uncertainty of third-party figures" in line[1]
    assert "--relax: third-party requirements in text-generation/small" in res.stdout
    assert len(res.stdout.splitlines()) == 5  # head, table head, one class, the rest, --relax
    text = draft.read_text()
    assert "# New in 2026.2: a class holds the work constant." in text  # comments kept

    res = greenai_cli("rate", str(tmp_path / "population"), "--standard", str(draft))
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if ".json " in line]  # one per disclosure
    assert len(rows) == 23 and all(line.endswith("conformant") for line in rows)
    assert "note (23 run(s)): third-party figure: gpu energy as published" in res.stdout

    mine = tmp_path / "chat-run.json"
    mine.write_text(json.dumps(make_doc(task="chat", units=3000)))
    shutil.copy(EMBED, tmp_path / "embed-infer.json")
    out = tmp_path / "rank.html"
    res = greenai_cli(
        "rank", str(tmp_path / "population"), str(mine), str(tmp_path / "embed-infer.json"),
        "--standard", str(draft), "-o", str(out),
    )  # fmt: skip
    assert res.returncode == 3, res.stderr  # one run could not be placed
    assert re.search(
        r"chat-run.json: 6.77 J/token: (best of 23|rank \d+ of 23, top \d+ %)", res.stdout
    )
    assert re.search(r"embed-infer.json: [0-9.]+ µJ/query: not placed", res.stdout)
    assert (
        "not placed: different task" in res.stdout and "flag: different measurement" in res.stdout
    )
    assert out.is_file() and out.with_suffix(".png").is_file()


def test_import_table_reports_bad_rows_and_needs_a_format(tmp_path: Path):
    table = tmp_path / "t.csv"
    table.write_text(
        "model,throughput,response_length,latency,energy\nm/a,1,2,3,4\nm/b,1,2,3,oops\n"
    )
    res = greenai_cli("import", "table", str(table), "--format", "ml-energy", "-o", str(tmp_path))
    assert res.returncode == 0
    assert "row 2 (line 3), column 'energy': 'oops' is not a number" in res.stderr
    assert "1 disclosure(s) written" in res.stdout and "1 row(s) left out" in res.stdout
    res = greenai_cli("import", "table", str(table), "-o", str(tmp_path))
    assert res.returncode == 2 and "--format NAME or --mapping" in res.stderr


def test_import_table_into_one_population_file_and_max_rows(tmp_path: Path):
    table = tmp_path / "t.csv"
    table.write_text("model,response_length,energy\n" + "m/a,100,200\n" * 50)
    out = tmp_path / "pop.jsonl"
    res = greenai_cli(
        "import", "table", str(table), "--format", "ml-energy", "--max-rows", "20", "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert len(out.read_text().splitlines()) == 20
    assert "stopped after 20 rows (--max-rows 20)" in res.stderr
    assert "rows/s" in res.stdout
