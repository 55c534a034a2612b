"""The import graph of greenai: no circles, and no import that runs back up a floor.

Every ``import`` in every module counts, also the lazy ones inside functions (a circle
through a lazy import is still a circle); only ``if TYPE_CHECKING:`` blocks are left out,
since they never run. The floors follow DESIGN.md's one-way data flow (probes -> sampler ->
Measurement -> footprint -> scoring -> disclosure -> reporters), with the assessment room
(footprint + rating of a Measurement) below the Measurement that carries its results.
A module may import from its own floor or any floor below it, never from one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import greenai

PACKAGE = Path(greenai.__file__).parent

# Most specific first: the first prefix a module name starts with gives its floor.
FLOORS: list[tuple[int, tuple[str, ...]]] = [
    # 0 foundation: no greenai imports but each other
    (
        0,
        (
            "_version",
            "errors",
            "units",
            "_resources",
            "jsonio",
            "safepath",
            "textfile",
            "runtime",
            "bench.stats",
            "channel",
        ),
    ),
    # 1 sources and rule books: hardware probes, the standard, site factors, the journal file,
    # and what a run says it did (work: workload, model, quality, phase)
    (1, ("probes", "standard", "site", "journal", "work")),
    # 2 what turns readings into numbers: the sampler; pure footprint, scoring, disclosure
    (2, ("sampler", "footprint", "embodied", "scoring", "disclosure")),
    # 3 assessment: footprint + rating (+ embodied) of a Measurement
    (3, ("assessment",)),
    # 4 the Measurement value and its reader
    (4, ("measurement",)),
    # 5 window accounting and the tuning machinery a meter composes
    (
        5,
        (
            "window",
            "session",
            "optimize.knobs",
            "optimize.search",
            "optimize.result",
            "optimize.tuner",
            "optimize.guard",
            "optimize",
        ),
    ),
    # 6 the meter and what rebuilds a meter's result
    (6, ("meter", "recovery")),
    # 7 what drives meters: ranks, framework callbacks, benchmark parts, offline tuning, exporter
    (7, ("distributed", "integrations", "bench", "optimize.offline", "export")),
    # 8 what reads and writes disclosures: reporters, converters to and from other formats,
    # population tools, and the MLflow logger (it publishes a finished result's report)
    # the disclosure registry (store, intake, server, page) with them
    (8, ("report", "interop", "population", "calibration", "integrations.mlflow", "registry")),
    # 9 entry points: the CLI, the public API, and the suite harness behind `greenai bench
    # run` (an entry point in DESIGN.md: it drives meters and writes the suite's reports)
    (9, ("cli", "__main__", "__init__", "bench.harness", "registry.cli")),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor(name: str) -> int:
    best: tuple[int, int] | None = None  # (prefix length, level)
    for level, prefixes in FLOORS:
        for prefix in prefixes:
            matches = name == prefix or name.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), level)
    assert best is not None, f"module greenai.{name} has no floor in tests/test_architecture.py"
    return best[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """Return the greenai modules (names without ``greenai.``) that module ``name`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("greenai."):
                    found.add(alias.name.removeprefix("greenai."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            elif node.module and (node.module == "greenai" or node.module.startswith("greenai.")):
                base = node.module.removeprefix("greenai").lstrip(".")
            else:
                base = None
            if base is not None:
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    found.add(sub if sub in modules else (base or "__init__"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return {m for m in found if m in modules or m == "__init__"}


def graph() -> dict[str, set[str]]:
    """Return module -> the greenai modules it imports."""
    modules = _modules()
    names = set(modules) | {"__init__"}
    return {name: _imports(name, path, names) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the import circles (Tarjan's strongly connected components of size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def test_every_module_has_a_floor() -> None:
    for name in _modules():
        floor(name)  # raises naming the module


def test_import_graph_has_no_circles() -> None:
    assert cycles(graph()) == []


def test_no_import_runs_back_up_a_floor() -> None:
    upward = [
        f"greenai.{a} (floor {floor(a)}) imports greenai.{b} (floor {floor(b)})"
        for a, targets in sorted(graph().items())
        for b in sorted(targets)
        if floor(b) > floor(a)
    ]
    assert upward == []


def test_the_checks_can_fail() -> None:
    # the checker itself finds a circle and sees lazy imports
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    edges = graph()
    assert "assessment" in edges["measurement"]  # a lazy import inside load()
    assert "meter" in edges["__init__"]
