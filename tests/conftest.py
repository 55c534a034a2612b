"""Shared fixtures: a fake clock, a fake powercap tree, a stand-in pynvml."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests.fakes.clock import FakeClock
from tests.fakes.powercap import FakePowercap

NVML_STUB_DIR = Path(__file__).parent / "fakes" / "nvml_stub"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def powercap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePowercap:
    tree = FakePowercap(tmp_path / "sys")
    monkeypatch.setenv("GREENAI_POWERCAP_ROOT", str(tree.root))
    return tree


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch):
    """Return the stand-in pynvml module, installed as `pynvml` for this test."""
    monkeypatch.syspath_prepend(str(NVML_STUB_DIR))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    module = importlib.import_module("pynvml")
    assert module.__file__ is not None and "nvml_stub" in module.__file__
    module.configure(None)
    yield module
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    # the CPU match cache of this test session, not the user's
    monkeypatch.setenv("GREENAI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "greenai-cache"))
    for var in (
        "CUDA_VISIBLE_DEVICES",
        "GREENAI_CPU_PACKAGE_THREADS",
        "GREENAI_CPU_TDP_W",
        "GREENAI_FAKE_NVML",
        "GREENAI_NODE",  # a node name would rename the bench results folder
        "SLURMD_NODENAME",
    ):
        monkeypatch.delenv(var, raising=False)
    from greenai.probes import discover

    discover._cache.clear()
    yield
    discover._cache.clear()
