"""`greenai registry ...`, `greenai submit`, and rank / calibrate reading from a registry."""

from __future__ import annotations

import json
import re

import pytest

from greenai import disclosure
from greenai.cli import main
from greenai.registry.store import open_store
from tests.registry.conftest import serving, variant


@pytest.fixture
def files(tmp_path, keys, base_doc):
    """Return 8 signed disclosure files (energy spread over a factor of 4) and one unsigned."""
    out = []
    for n in range(8):
        doc = variant(base_doc, n, energy_scale=0.5 + 0.25 * n)
        path = tmp_path / f"run-{n}.json"
        path.write_text(json.dumps(disclosure.sign(doc, keys["lab-a"][0]), indent=2))
        out.append(path)
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(disclosure.seal(variant(base_doc, 99))))
    return out, unsigned


def test_add_submitter_submit_rank_calibrate_rerate(tmp_path, keys, files, capsys):
    db = str(tmp_path / "registry.db")
    pub = keys["lab-a"][0].with_suffix(".pub")
    assert main(["registry", "add-submitter", "lab-a", "--public-key", str(pub), "--db", db]) == 0
    token = re.search(r"token .*: (gai_\S+)", capsys.readouterr().out).group(1)
    signed, unsigned = files
    store = open_store(db)
    with serving(store) as url:
        code = main(
            ["submit", *map(str, signed), str(unsigned), "--registry", url, "--token", token]
        )
        out = capsys.readouterr().out
        assert code == 1  # one refused
        assert out.count(": stored (verified)") == 8
        assert f"{unsigned}: refused (HTTP 422): upload: hash-only: not signed" in out

        code = main(["rank", "--registry", url, str(signed[0]), "-o", str(tmp_path / "r.html")])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "population: 8 results" in out and "best of 8" in out  # run-0 uses least

        draft = tmp_path / "draft.toml"
        args = ["standard", "calibrate", "--registry", url, "-o", str(draft)]
        assert main([*args, "--min-population", "5", "--bands", "4"]) == 0
        out = capsys.readouterr().out
        assert "population 8" in out
        assert re.search(r"text-generation/small +8 +8 +calibrated, 4 grades", out), out

    assert main(["registry", "rerate", "--db", db, "--standard", str(draft)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"8 disclosure\(s\) re-rated under \S+", out)
    # the 8 runs disclose an 8 B model: re-rated in the size class, as `greenai rate` does
    grades = re.search(r"text-generation/small\s+8 results, graded (.*), not graded 0", out)[1]
    assert sum(int(g.split(":")[1]) for g in grades.split()) == 8
    assert len(grades.split()) == 4  # quantile bands over 4 grades: every grade used
    assert main(["registry", "audit", "--db", db]) == 0
    assert capsys.readouterr().out.count(" submit ") == 8
    store.close()


def test_submit_without_a_token_is_one_line_and_exit_2(tmp_path, files, capsys, monkeypatch):
    monkeypatch.delenv("GREENAI_REGISTRY_TOKEN", raising=False)
    assert main(["submit", str(files[0][0]), "--registry", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token" in err
    code = main(["submit", str(files[0][0]), "--registry", "http://127.0.0.1:9", "--token", "t"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no answer from the registry" in err


def test_rank_needs_a_population_or_a_registry(tmp_path, files, capsys):
    assert main(["rank", str(files[0][0])]) == 2
    assert "--registry" in capsys.readouterr().err
