"""Settings files (standards, suites, sites, importer mappings) are bounded before they are read."""

from __future__ import annotations

import os
import threading

import pytest

from greenai import textfile
from greenai.bench.suite import SuiteError, load_suite
from greenai.errors import GreenAIError
from greenai.interop.table import load_mapping
from greenai.site import Site, SiteError
from greenai.standard import StandardError, load_standard


def _big(tmp_path, name="big.toml", n=5 * 1024 * 1024):
    p = tmp_path / name
    p.write_text("# padding\n" * (n // 10))
    return p


@pytest.mark.parametrize(
    "loader, error",
    [
        (load_standard, StandardError),
        (load_suite, SuiteError),
        (Site.from_toml, SiteError),
        (load_mapping, GreenAIError),
    ],
)
def test_an_oversized_settings_file_is_refused_by_its_size_with_one_line(tmp_path, loader, error):
    p = _big(tmp_path)
    with pytest.raises(error) as err:
        loader(p)
    text = str(err.value)
    assert "big.toml" in text and "5,242,880 bytes is over the 4,194,304 byte bound" in text
    assert "Errno" not in text and "\n" not in text


def test_the_bound_can_be_raised_and_a_pipe_cannot_stream_past_it(tmp_path, monkeypatch):
    monkeypatch.setenv(textfile.MAX_ENV, "64")
    small = tmp_path / "s.toml"
    small.write_text("a = 1\n")
    assert textfile.read_text(small) == "a = 1\n"
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)

    def write_forever():
        try:
            with open(fifo, "w") as f:
                for _ in range(10_000):
                    f.write("a = 1\n" * 100)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=write_forever, daemon=True)
    t.start()
    with pytest.raises(textfile.FileTooLarge, match="more than 64 bytes"):
        textfile.read_text(fifo)
    t.join(5)
    monkeypatch.setenv(textfile.MAX_ENV, "10000000")
    assert len(textfile.read_text(_big(tmp_path))) == 5 * 1024 * 1024
