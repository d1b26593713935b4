"""Every module the code imports is declared (issue 11): a dependency that is only present by
accident (another package's dependency, the machine's system Python) must fail here, not on a
user's first run.

Each top-level module imported anywhere under v2vtool/ (walking the AST, so imports inside
functions count) must be the standard library, v2vtool itself, or provided by a distribution
named in pyproject.toml's [project] dependencies, resolved with
importlib.metadata.packages_distributions(). tests/ and benchmarks/ may also use the `test` extra.
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the CI's); 3.10 skips this module

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def normalise(name: str) -> str:
    """PEP 503 name normalisation: `Scikit_Image` == `scikit-image`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    """The distribution name of a PEP 508 requirement ("typer[all]>=0.12; python_version<'4'")."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    if not m:
        raise ValueError(f"pyproject.toml: cannot read a name from requirement {req!r}")
    return normalise(m.group(1))


def declared(pyproject: dict, extras: tuple[str, ...] = ()) -> set[str]:
    """Normalised distribution names declared in a parsed pyproject.toml (+ the given extras)."""
    project = pyproject["project"]
    reqs = list(project.get("dependencies", []))
    for extra in extras:
        reqs += project.get("optional-dependencies", {})[extra]
    return {requirement_name(r) for r in reqs}


def imported_modules(path: Path) -> dict[str, int]:
    """Top-level module -> first line number, for every absolute import in the file."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside the package
        for n in names:
            found.setdefault(n.split(".")[0], node.lineno)
    return found


def undeclared_imports(folder: Path, declared_names: set[str],
                       provided_by: dict[str, list[str]], local: set[str] = frozenset()
                       ) -> list[str]:
    """One message per (module, file) whose module is neither stdlib, local, nor provided by a
    declared distribution. `provided_by`: importlib.metadata.packages_distributions()."""
    problems = []
    for f in sorted(folder.rglob("*.py")):
        for module, line in sorted(imported_modules(f).items()):
            if module in sys.stdlib_module_names or module == "v2vtool" or module in local:
                continue
            dists = {normalise(d) for d in provided_by.get(module, [])}
            if not dists & declared_names:
                where = f"{f.relative_to(ROOT)}:{line}"
                have = (f"provided by {', '.join(sorted(dists))}, not declared" if dists
                        else "no installed distribution provides it")
                problems.append(f"import {module} in {where}: {have} in pyproject.toml")
    return problems


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


@pytest.fixture(scope="module")
def provided_by() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def test_package_imports_only_declared_distributions(project, provided_by):
    problems = undeclared_imports(ROOT / "v2vtool", declared(project), provided_by)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("folder", ["tests", "benchmarks"])
def test_tests_and_benchmarks_import_declared_or_test_extra(project, provided_by, folder):
    local = {"tests"} | {p.stem for p in (ROOT / folder).rglob("*.py")}
    problems = undeclared_imports(ROOT / folder, declared(project, ("test",)), provided_by, local)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("dropped", ["numpy", "torch", "typer", "av", "scipy", "pillow"])
def test_dropping_a_declared_dependency_is_reported(project, provided_by, dropped):
    """The check can fail: without one declared distribution, its module is named with a file."""
    names = declared(project)
    assert dropped in names
    before = set(undeclared_imports(ROOT / "v2vtool", names, provided_by))
    new = set(undeclared_imports(ROOT / "v2vtool", names - {dropped}, provided_by)) - before
    module = {"pillow": "PIL"}.get(dropped, dropped)
    assert new and all(p.startswith(f"import {module} in v2vtool/") for p in new)
    assert all(f"provided by {dropped}, not declared" in p for p in new)


def test_an_unknown_module_is_reported_with_its_file(tmp_path, provided_by, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("import os\n\ndef f():\n    import nosuchmodule_v2v.sub\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert undeclared_imports(pkg, {"numpy"}, provided_by) == [
        "import nosuchmodule_v2v in pkg/m.py:4: no installed distribution provides it in "
        "pyproject.toml"]


def test_requirement_names_are_normalised():
    assert requirement_name("Scikit_Image>=0.22") == "scikit-image"
    assert requirement_name("typer[all] >=0.12 ; python_version < '4'") == "typer"
    assert requirement_name("mediapipe==0.10.21") == "mediapipe"
