"""A population of results (greenai's own or imported tables), as documents and a DataFrame.

    pop = greenai.population.load("population/")   # folders, .json and .jsonl files
    df = pop.to_frame()                             # pandas: one row per result
    pop.population                                  # numpy columns for rate_many / calibrate

Files that are not readable disclosures are skipped and listed in `skipped`, so one bad file
does not stop a ranking. pandas is imported only by to_frame().
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenai.errors import DisclosureError

if TYPE_CHECKING:
    import pandas as pd

    from greenai.scoring import Population

SUFFIXES = (".json", ".jsonl")
SUMMARY_KINDS = ("greenai.bench-summary", "greenai.serve-summary")
# Columns to_frame() adds in front of report.table's: where each result comes from.
SOURCE_COLUMNS = (
    ("label", "string"),
    ("model", "string"),
    ("source_format", "string"),
    ("source_file", "string"),
    ("source_sha256", "string"),
    ("source_row", "Int64"),
)


@dataclass(frozen=True)
class Results:
    """Result documents with a label each (file, file[n] or file:line), and what was skipped."""

    docs: tuple[Mapping[str, Any], ...]
    labels: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def population(self) -> Population:
        """Return the results as scoring.Population columns (invalid documents left out)."""
        from greenai.scoring import Population

        return Population.from_disclosures(self.docs, self.labels, skip_invalid=True)

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame: one row per result, source columns then report.table's COLUMNS."""
        import pandas as pd

        from greenai.report.table import COLUMNS, record

        rows = []
        for label, doc in zip(self.labels, self.docs, strict=True):
            source = doc.get("source") if isinstance(doc.get("source"), Mapping) else {}
            rows.append(
                {
                    "label": label,
                    "model": source.get("model"),
                    "source_format": source.get("format"),
                    "source_file": source.get("file"),
                    "source_sha256": source.get("sha256"),
                    "source_row": source.get("row"),
                    **record(doc),
                }
            )
        columns = (*SOURCE_COLUMNS, *COLUMNS)
        frame = pd.DataFrame.from_records(rows, columns=[name for name, _ in columns])
        return frame.astype(dict(columns))


def load(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Results:
    """Return the results in a folder (recursively), a .json file (one or a list), a .jsonl
    file (one document per line), or a list of those."""
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    docs: list[Mapping[str, Any]] = []
    labels: list[str] = []
    skipped: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise DisclosureError(f"{path}: no such file or folder")
        for file in files:
            for label, doc in _read(file, skipped):
                docs.append(doc)
                labels.append(label)
    from greenai.disclosure import drop_duplicates

    docs, labels, repeats = drop_duplicates(docs, labels)  # a copy is one result, said once
    return Results(tuple(docs), tuple(labels), (*skipped, *repeats))


def _read(path: Path, skipped: list[str]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Yield (label, document) of one file; what cannot be read goes to skipped."""
    from greenai import jsonio
    from greenai.report.table import require_document

    try:
        size = path.stat().st_size
        if size > jsonio.max_bytes():
            skipped.append(f"{path}: {size:,} bytes is over the {jsonio.max_bytes():,} byte bound")
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        skipped.append(f"{path}: not readable ({exc})")
        return
    if path.suffix == ".jsonl":
        parts = [(f"{path}:{n}", line) for n, line in enumerate(text.splitlines(), 1) if line]
    else:
        parts = [(str(path), text)]
    for label, part in parts:
        try:
            value = jsonio.loads(part, label)
        except jsonio.JSONInputError as exc:
            skipped.append(str(exc))
            continue
        if isinstance(value, dict) and value.get("kind") in SUMMARY_KINDS:
            continue  # a suite's summary sits beside its disclosures; it is not one
        items = value if isinstance(value, list) else [value]
        for n, doc in enumerate(items):
            name = label if len(items) == 1 else f"{label}[{n}]"
            try:
                yield name, require_document(doc, source=name)
            except DisclosureError as exc:
                skipped.append(str(exc))


__all__ = ["Results", "load"]
