"""Log a disclosure to MLflow: key figures as metrics and params, JSON and HTML as artifacts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from greenai.measurement import Measurement


def key_figures(doc: dict[str, Any]) -> dict[str, float]:
    """Return the disclosure's headline numbers as MLflow metric names -> values (SI units)."""
    figures: dict[str, float] = {
        "greenai_energy_j": doc["energy_j"],
        "greenai_duration_s": doc["duration_s"],
        "greenai_units_done": doc["units_done"],
    }
    if doc.get("energy_per_unit_j") is not None:
        figures["greenai_energy_per_unit_j"] = doc["energy_per_unit_j"]
    for name, domain in (doc.get("domains") or {}).items():
        figures[f"greenai_energy_{name}_j"] = domain["energy_j"]
    footprint = doc.get("footprint") or {}
    for key, value in footprint.items():
        if key.endswith(("_j", "_l", "_g")) and isinstance(value, int | float):
            figures[f"greenai_{key}"] = float(value)
        elif key == "water_l" and isinstance(value, dict):
            figures.update({f"greenai_water_{k}_l": float(v) for k, v in value.items()})
    return figures


def log_disclosure(
    result: Measurement | dict[str, Any] | str | os.PathLike[str],
    *,
    html: bool = True,
    artifact_path: str = "greenai",
) -> dict[str, float]:
    """Log a disclosure to the active MLflow run (one is started if none is); return the metrics.

    Metrics: energy, per-domain energy, energy per unit, footprint figures. Params: task,
    unit, provenance, grade. Artifacts: disclosure.json and (``html``) disclosure.html.
    """
    import mlflow

    from greenai.measurement import load

    if isinstance(result, str | os.PathLike):
        result = load(result)
    m = result if isinstance(result, Measurement) else Measurement.from_dict(result)
    doc = m.to_dict()
    figures = key_figures(doc)
    rating = doc.get("rating") or {}
    params = {
        "greenai_task": m.task,
        "greenai_unit": m.unit,
        "greenai_provenance": m.provenance,
        "greenai_status": m.status,
        "greenai_grade": rating.get("grade"),
    }
    if mlflow.active_run() is None:
        mlflow.start_run()
    mlflow.log_metrics(figures)
    mlflow.log_params({k: v for k, v in params.items() if v is not None})
    with tempfile.TemporaryDirectory() as folder:
        path = m.save(Path(folder) / "disclosure.json")
        mlflow.log_artifact(str(path), artifact_path=artifact_path)
        if html:
            page = _html_page(doc, Path(folder) / "disclosure.html")
            if page is not None:
                mlflow.log_artifact(str(page), artifact_path=artifact_path)
    return figures


def _html_page(doc: dict[str, Any], path: Path) -> Path | None:
    try:
        from greenai.report.html import to_html
    except ImportError as exc:  # the HTML reporter is not in this install
        import warnings

        from greenai.errors import GreenAIWarning

        warnings.warn(f"greenai: no HTML artifact: {exc}", GreenAIWarning, stacklevel=3)
        return None
    path.write_text(to_html(doc), encoding="utf-8")
    return path
