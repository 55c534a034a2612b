"""Side-by-side comparison of disclosures, with every reason two of them are not comparable.

    cmp = compare([doc_a, doc_b], names=["A100", "H100"])         # their own ratings
    cmp = compare(docs, standard="greenai-2026.1")                # all re-rated under one
    cmp.pairs[0].reasons     # ('cpu energy measured in A100 but modelled in H100', ...)
    page = to_html(cmp); text = to_markdown(cmp)

Two runs are flagged as not comparable when they differ in task, functional unit,
measurement boundary (the set of domains), how a shared domain was obtained (measured or
modelled), completion, or (without a common standard) the standard they were rated under.
Each input's integrity is checked: verified, hash-only or unverified.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from greenai import units
from greenai.report import _plots as fmt
from greenai.report import html as page_html
from greenai.report import markdown as page_md
from greenai.report import table


@dataclass(frozen=True)
class Pair:
    """Two inputs (by name) and every reason they cannot be compared (none: comparable)."""

    a: str
    b: str
    reasons: tuple[str, ...]

    @property
    def comparable(self) -> bool:
        """Return True when nothing keeps the two runs apart."""
        return not self.reasons


@dataclass(frozen=True)
class Comparison:
    """Inputs side by side: one flat row each (table.record), every pair's comparability,
    and each input's integrity status."""

    names: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    pairs: tuple[Pair, ...]
    integrity: tuple[str, ...]  # verified | hash-only | unverified, per input
    standard: str | None = None  # "id version" every input was re-rated under; None: own ratings

    @property
    def comparable(self) -> bool:
        """Return True when every pair of inputs is comparable."""
        return all(p.comparable for p in self.pairs)

    def reasons(self, a: str, b: str) -> tuple[str, ...]:
        """Return why inputs `a` and `b` (names, either order) are not comparable."""
        for pair in self.pairs:
            if {pair.a, pair.b} == {a, b}:
                return pair.reasons
        raise KeyError(f"no pair {a!r}, {b!r}: names are {', '.join(self.names)}")

    def row(self, name: str) -> Mapping[str, Any]:
        """Return the flat row of input `name`."""
        return self.rows[self.names.index(name)]


def compare(
    docs: Sequence[Mapping[str, Any]],
    names: Sequence[str] | None = None,
    standard: Any = None,
    public_keys: tuple[str, ...] = (),
) -> Comparison:
    """Return the comparison of disclosure documents.

    standard: None to use each document's own rating block (differing standards are then
    flagged), or a Standard, a standard id or a file path to re-rate every input under it.
    public_keys: base64 Ed25519 keys you trust, for the integrity status.
    """
    docs = list(docs)
    names = tuple(names) if names is not None else tuple(f"run {i + 1}" for i in range(len(docs)))
    if len(names) != len(docs):
        raise ValueError(f"{len(names)} names given for {len(docs)} documents")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be unique, got {list(names)}")
    for name, doc in zip(names, docs, strict=True):
        table.require_document(doc, source=name)
    label = None
    if standard is not None:
        docs, label = _rerated(docs, names, standard)
    integrity = tuple(page_html.integrity_status(doc, public_keys) for doc in docs)
    pairs = tuple(
        Pair(names[i], names[j], _reasons(docs[i], docs[j], names[i], names[j], label is None))
        for i in range(len(docs))
        for j in range(i + 1, len(docs))
    )
    rows = tuple(MappingProxyType(table.record(doc)) for doc in docs)
    return Comparison(names, rows, pairs, integrity, label)


def _rerated(
    docs: list[Mapping[str, Any]], names: Sequence[str], standard: Any
) -> tuple[list[Mapping[str, Any]], str]:
    from greenai.scoring import RatingInput, rate
    from greenai.standard import load_standard

    if isinstance(standard, str | os.PathLike):
        standard = load_standard(standard)
    rated = [
        {**doc, "rating": rate(RatingInput.from_disclosure(doc, source=name), standard).to_dict()}
        for name, doc in zip(names, docs, strict=True)
    ]
    return rated, f"{standard.id} {standard.version}"


def _reasons(
    a: Mapping[str, Any], b: Mapping[str, Any], name_a: str, name_b: str, own_ratings: bool
) -> tuple[str, ...]:
    from greenai.standard import canonical_unit, normalise_task

    reasons = []
    rating_a, rating_b = table.rating_of(a), table.rating_of(b)
    task_a, task_b = table.text(a.get("task")), table.text(b.get("task"))
    class_a, class_b = rating_a.get("task"), rating_b.get("task")
    same_class = class_a is not None and class_a == class_b
    key_a, key_b = (normalise_task(t) if t else None for t in (task_a, task_b))
    if not same_class and key_a != key_b:
        reasons.append(f"different task: {name_a} is {task_a!r}, {name_b} is {task_b!r}")
    elif not same_class and class_a and class_b:  # one task, two classes: model-size classes
        reasons.append(
            f"different task class: {name_a} is rated in {class_a}, {name_b} in {class_b}"
        )
    unit_a, unit_b = table.text(a.get("unit")), table.text(b.get("unit"))
    key_a, key_b = (
        canonical_unit(u) or (u or "").strip().lower() or None for u in (unit_a, unit_b)
    )
    if key_a != key_b:
        reasons.append(
            f"different functional unit: {name_a} counts {unit_a!r}, {name_b} {unit_b!r}"
        )
    bound_a, bound_b = table.boundary(a), table.boundary(b)
    if bound_a != bound_b:
        reasons.append(
            f"different measurement boundary: {name_a} covers {'+'.join(bound_a) or 'nothing'}, "
            f"{name_b} covers {'+'.join(bound_b) or 'nothing'}"
        )
    prov_a = {r["domain"]: r["provenance"] for r in table.domain_rows(a)}
    prov_b = {r["domain"]: r["provenance"] for r in table.domain_rows(b)}
    for domain in sorted(set(prov_a) & set(prov_b)):
        if prov_a[domain] != prov_b[domain]:
            reasons.append(
                f"{domain} energy {prov_a[domain]} in {name_a} but {prov_b[domain]} in {name_b}"
            )
    for name, doc in ((name_a, a), (name_b, b)):
        status = table.text(doc.get("status"))
        if status != "ok":
            reasons.append(f"{name} did not complete (status {status!r})")
    if own_ratings:
        std_a, std_b = _standard(rating_a), _standard(rating_b)
        if std_a != std_b:
            reasons.append(
                f"rated under different standards: {name_a} {std_a or 'not rated'}, "
                f"{name_b} {std_b or 'not rated'} (re-rate both under one with standard=...)"
            )
    return tuple(reasons)


def not_comparable(
    a: Mapping[str, Any], b: Mapping[str, Any], name_a: str = "a", name_b: str = "b"
) -> tuple[str, ...]:
    """Return every reason two documents rated under one standard are not comparable."""
    return _reasons(a, b, name_a, name_b, own_ratings=False)


def rerated(
    docs: Sequence[Mapping[str, Any]], names: Sequence[str], standard: Any
) -> tuple[list[Mapping[str, Any]], str]:
    """Return the documents with their rating block under `standard`, and its "id version"."""
    return _rerated(list(docs), names, standard)


def _standard(rating: Mapping[str, Any]) -> str | None:
    if not rating:
        return None
    return f"{rating.get('standard_id') or '?'} {rating.get('standard_version') or '?'}"


# ----------------------------------------------------------------------- what to show
def _metrics() -> list[tuple[str, Callable[[Mapping[str, Any]], str]]]:
    def per(key: str, quantity: str) -> Callable[[Mapping[str, Any]], str]:
        return lambda r: units.per_unit(r[key], r["unit"], quantity)

    def grade(kind: str) -> Callable[[Mapping[str, Any]], str]:
        return lambda r: r[f"{kind}_grade"] or ("not graded" if r["standard_id"] else "not rated")

    return [
        ("task", lambda r: fmt.plain(r["task"])),
        ("units counted", lambda r: fmt.amount(r["units_done"], r["unit"])),
        ("status", lambda r: fmt.plain(r["status"])),
        ("hardware", lambda r: r["gpu"] or fmt.plain(r["cpu"])),
        ("measurement boundary", lambda r: fmt.plain(r["boundary"])),
        ("energy provenance", lambda r: fmt.plain(r["provenance"])),
        *((f"{d} energy", lambda r, d=d: _domain_text(r, d)) for d in table.DOMAINS),
        ("duration", lambda r: fmt.seconds(r["duration_s"])),
        ("IT energy", lambda r: fmt.energy(r["energy_j"])),
        ("energy per unit", per("energy_per_unit_j", "J")),
        ("mean power", lambda r: fmt.power(r["power_w"])),
        ("water per unit (consumption)", per("water_per_unit_l", "L")),
        ("carbon per unit", per("carbon_per_unit_g", "g CO2e")),
        ("embodied carbon per unit", per("embodied_carbon_per_unit_g", "g CO2e")),
        ("embodied water per unit (fab)", per("embodied_water_per_unit_l", "L")),
        ("carbon per unit, operational + embodied", per("total_carbon_per_unit_g", "g CO2e")),
        ("water per unit, operational + embodied", per("total_water_per_unit_l", "L")),
        ("SCI (ISO/IEC 21031)", per("sci_per_unit_g", "g CO2e")),
        ("site (grid)", lambda r: f"{fmt.plain(r['site'])} ({fmt.plain(r['grid'])})"),
        ("standard", lambda r: f"{fmt.plain(r['standard_id'])} {r['standard_version'] or ''}"),
        ("energy index", lambda r: fmt.index(r["energy_index"])),
        ("energy grade", grade("energy")),
        ("water index", lambda r: fmt.index(r["water_index"])),
        ("water grade", grade("water")),
    ]


def _domain_text(row: Mapping[str, Any], domain: str) -> str:
    energy_j = row[f"{domain}_energy_j"]
    if energy_j is None:
        return "not in boundary"
    return f"{fmt.energy(energy_j)} ({row[f'{domain}_provenance'] or '?'})"


def _grid(cmp: Comparison) -> list[list[str]]:
    """Return the side-by-side cells: one row per metric, one column per input."""
    cells = [[label, *(show(row) for row in cmp.rows)] for label, show in _metrics()]
    cells.append(["integrity", *cmp.integrity])
    return cells


def _pair_lines(cmp: Comparison) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(p.a, p.b, p.reasons) for p in cmp.pairs]


def _heading(cmp: Comparison) -> str:
    if cmp.standard:
        return f"All inputs re-rated under {cmp.standard}."
    return "Each input keeps its own rating."


# ----------------------------------------------------------------------- Markdown
def to_markdown(cmp: Comparison) -> str:
    """Return the comparison as Markdown: a side-by-side table, comparability, integrity."""
    esc = page_md.escape
    out = [f"# Comparison of {len(cmp.names)} disclosures", "", esc(_heading(cmp)), ""]
    out += page_md.md_table(
        ["", *(esc(n) for n in cmp.names)], [[esc(c) for c in row] for row in _grid(cmp)]
    )
    out += ["", "## Comparability", ""]
    if not cmp.pairs:
        out.append("Only one input: nothing to compare.")
    for a, b, reasons in _pair_lines(cmp):
        if not reasons:
            out.append(f"- {esc(a)} and {esc(b)}: comparable.")
            continue
        out.append(f"- {esc(a)} and {esc(b)}: **not comparable**:")
        out += [f"  - {esc(r)}" for r in reasons]
    out += ["", "## Integrity", ""]
    out += [f"- {esc(n)}: {esc(s)}" for n, s in zip(cmp.names, cmp.integrity, strict=True)]
    out += ["", _INTEGRITY_NOTE]
    return "\n".join(out).rstrip() + "\n"


_INTEGRITY_NOTE = (
    "verified: content hash and signature check out against a key you trust; hash-only: "
    "the content hash matches but no trusted signature vouches for the publisher; "
    "unverified: no hash, or the content was changed after sealing."
)


# ----------------------------------------------------------------------- HTML
def to_html(cmp: Comparison) -> str:
    """Return the comparison as one self-contained HTML page with side-by-side charts."""
    e, Safe = page_html.e, page_html.Safe
    title = f"Comparison of {len(cmp.names)} disclosures"
    parts = [f"<h1>{e(title)}</h1>", f'<p class="sub">{e(_heading(cmp))}</p>']
    parts.append('<h2 id="comparability">Comparability</h2>')
    if not cmp.pairs:
        parts.append('<p class="how">Only one input: nothing to compare.</p>')
    for a, b, reasons in _pair_lines(cmp):
        if reasons:
            items = "".join(f"<li>{e(r)}</li>" for r in reasons)
            parts.append(
                f'<div class="warn"><p><strong>{e(a)}</strong> and <strong>{e(b)}</strong> '
                f"are not comparable:</p><ul>{items}</ul></div>"
            )
        else:
            parts.append(
                f'<p class="ok"><strong>{e(a)}</strong> and <strong>{e(b)}</strong> '
                "are comparable.</p>"
            )
    grid = _grid(cmp)
    grade_rows = {"energy grade", "water grade"}
    cells = [
        [
            row[0],
            *(
                page_html.grade_badge(c) if row[0] in grade_rows and c in fmt.GRADE_COLOURS else c
                for c in row[1:]
            ),
        ]
        for row in grid
    ]
    parts += [
        '<h2 id="side-by-side">Side by side</h2>',
        page_html.html_table(["", *cmp.names], cells),
        '<h2 id="charts">Charts</h2>',
        '<div class="flex">',
        *_charts(cmp),
        "</div>",
        '<h2 id="integrity">Integrity</h2>',
        page_html.html_table(
            ["input", "status", "content hash (SHA-256)"],
            [
                [n, s, r["sha256"]]
                for n, s, r in zip(cmp.names, cmp.integrity, cmp.rows, strict=True)
            ],
        ),
        f'<p class="how">{e(_INTEGRITY_NOTE)}</p>',
    ]
    footer = Safe("Made by greenai from the disclosure documents; nothing was measured again.")
    return page_html.page(title, "\n".join(parts), footer)


def _charts(cmp: Comparison) -> list[str]:
    names = list(cmp.names)
    kinds = {r["unit"] for r in cmp.rows}
    per = f"per {next(iter(kinds)) or 'unit'}" if len(kinds) == 1 else "per unit (units differ)"

    def share(key: str, row: Mapping[str, Any]) -> float:
        value, count = row[key], row["units_done"]
        return value / count if value is not None and count else 0.0

    energy = fmt.bar_chart(
        names,
        {
            d: [share(f"{d}_energy_j", r) for r in cmp.rows]
            for d in table.DOMAINS
            if any(r[f"{d}_energy_j"] for r in cmp.rows)
        },
        f"IT energy {per} (J)",
        colours=fmt.DOMAIN_COLOURS,
    )
    water = fmt.bar_chart(
        names,
        {
            "on site": [share("water_onsite_l", r) for r in cmp.rows],
            "off site": [share("water_offsite_l", r) for r in cmp.rows],
        },
        f"water {per} (L)",
        colours={"on site": "#4c9ed9", "off site": "#1f4e79"},
    )
    index = fmt.bar_chart(
        names,
        {
            "energy index": [r["energy_index"] for r in cmp.rows],
        },
        "energy index (1 = reference)",
        colours={"energy index": "#444444"},
        reference=1.0,
    )
    return [
        page_html.chart(energy, "No energy per unit to chart (no units counted)."),
        page_html.chart(water, "No water per unit to chart (no footprint)."),
        page_html.chart(index, "No energy index to chart (no ratings)."),
    ]


__all__ = [
    "Comparison",
    "Pair",
    "compare",
    "not_comparable",
    "rerated",
    "to_html",
    "to_markdown",
]
