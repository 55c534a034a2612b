"""Logging a disclosure to MLflow, with a local file store (no server, no network)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (greenai[mlflow])")

from greenai.integrations.mlflow import log_disclosure  # noqa: E402
from greenai.meter import Meter  # noqa: E402
from tests.fakes.probes import ClockProbe, constant  # noqa: E402


def test_log_disclosure_metrics_params_and_json_artifact(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 deprecates file stores
    probe = ClockProbe("fake:gpu", time.monotonic, constant(50.0), domain="gpu")
    with Meter("image-classification", "sample", probes=[probe], handle_signals=False) as m:
        time.sleep(0.05)
        m.count(10)
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    with mlflow.start_run() as run:
        figures = log_disclosure(m.result)
    data = mlflow.get_run(run.info.run_id).data
    assert data.metrics["greenai_energy_j"] == pytest.approx(m.result.energy_j)
    assert data.metrics["greenai_energy_gpu_j"] == pytest.approx(m.result.energy_j)
    assert data.metrics["greenai_energy_per_unit_j"] == pytest.approx(m.result.energy_j / 10)
    assert data.metrics["greenai_facility_energy_j"] > data.metrics["greenai_energy_j"]
    assert set(figures) <= set(data.metrics)
    assert data.params["greenai_unit"] == "sample"
    assert data.params["greenai_provenance"] == "measured"
    local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=tmp_path))
    doc = json.loads((local / "greenai" / "disclosure.json").read_text())
    assert doc["energy_j"] == pytest.approx(m.result.energy_j)
    assert "integrity" in doc  # sealed with its content hash
    try:
        import greenai.report.html  # noqa: F401
    except ImportError:
        assert not (local / "greenai" / "disclosure.html").exists()
    else:
        assert "<html" in (local / "greenai" / "disclosure.html").read_text().lower()
