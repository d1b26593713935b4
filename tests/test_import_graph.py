"""The package's import graph (module-level AND function-level imports, read from the source):
no cycles, the inference side (synthesis, metrics, demo, benchmark) never reaches the
trainer's package, and metrics never reach up into synthesis (what they share, e.g. the
driver's view, lives below both in data/), directly or through another module."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "v2vtool"
NO_TRAINING = ("v2vtool.synthesis", "v2vtool.metrics", "v2vtool.demo", "v2vtool.benchmark")
# (importer prefix, forbidden prefix): layers that must never be reached, even indirectly
FORBIDDEN = [(start, "v2vtool.training") for start in NO_TRAINING] + [
    ("v2vtool.metrics", "v2vtool.synthesis")]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the v2vtool modules it imports anywhere in its source."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{base}.{alias.name}"
                    deps.add(sub if sub in files else base)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """module -> the module it was reached from, for everything `start` imports transitively."""
    seen, todo = {start: ""}, [start]
    while todo:
        v = todo.pop()
        for w in graph[v]:
            if w not in seen:
                seen[w] = v
                todo.append(w)
    return seen


def test_graph_reader_sees_function_level_imports():
    graph = import_graph()
    # imported only inside functions in these modules:
    assert "v2vtool.semantics.extractors" in graph["v2vtool.semantics.kinds"]
    assert "v2vtool.models.checkpoint" in graph["v2vtool.synthesis.api"]


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def _first_violation(graph: dict[str, set[str]], start: str, forbidden: str) -> str | None:
    """The import chain from `start` to a module under `forbidden`, or None."""
    via = _reachable(graph, start)
    bad = sorted(m for m in via if m.startswith(forbidden))
    if not bad:
        return None
    chain, m = [bad[0]], bad[0]
    while via[m]:
        m = via[m]
        chain.append(m)
    return f"{start} reaches {bad[0]}: {' <- '.join(chain)}"


def test_forbidden_layers_are_never_reached():
    graph = import_graph()
    for prefix, forbidden in FORBIDDEN:
        for start in sorted(m for m in graph if m.startswith(prefix)):
            found = _first_violation(graph, start, forbidden)
            if found:
                raise AssertionError(found)


def test_the_check_sees_a_metrics_to_synthesis_import():
    """The rule can fail: a metrics module importing synthesis (as metrics/sidecar.py once did)
    is reported with its chain."""
    graph = {name: set(deps) for name, deps in import_graph().items()}
    graph["v2vtool.metrics.sidecar"].add("v2vtool.synthesis.stream")
    found = _first_violation(graph, "v2vtool.metrics.evaluate", "v2vtool.synthesis")
    assert found is not None and "v2vtool.metrics.sidecar" in found
