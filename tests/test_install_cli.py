"""The real entry point (a `python -m v2vtool` subprocess, not CliRunner): bad input is one
`error:` line and exit 2; `--debug` re-raises it with a traceback. This is what broke when the
CLI imported a `click` other than the one typer uses (issue 11)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _v2v(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "v2vtool", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def missing_runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    missing = str(cwd / "missing.mp4")
    # the exact commands (extract's --kind defaults to pose)
    plain = _v2v("extract", missing, "--out", "x", cwd=cwd)
    debug = _v2v("--debug", "extract", missing, "--out", "x", cwd=cwd)
    return missing, plain, debug, cwd


def test_bad_input_is_one_error_line_and_exit_2(missing_runs):
    missing, plain, _, cwd = missing_runs
    assert plain.returncode == 2, plain.stderr
    lines = [ln for ln in plain.stderr.splitlines() if ln.strip()]
    assert lines == [f"error: {missing}: no such file or directory"], plain.stderr
    assert plain.stdout == "" and not (cwd / "x").exists()


def test_debug_shows_the_traceback(missing_runs):
    missing, _, debug, _ = missing_runs
    assert debug.returncode not in (0, 2), debug.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert f"v2vtool.errors.UserError: {missing}: no such file or directory" in debug.stderr
    assert "error:" not in debug.stderr.replace("UserError:", "")


def test_no_click_import_in_the_package():
    """The package imports typer only; a `click` import would bind a click other than typer's
    bundled copy (recent typer releases carry their own as typer._click)."""
    import ast

    found = []
    for f in sorted((ROOT / "v2vtool").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{f.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "click"]
    assert found == []
