"""Installed as a package, not only as a clone (issue 11).

Builds the sdist from a copy of the build inputs, the wheel from the unpacked sdist (what
`python -m build` does), installs the wheel with --no-deps into a second venv that reuses this
environment's packages through a .pth file, and runs the real `v2v` console script from an
unrelated directory: the shipped model, keypoint net and examples must come from the install
(<venv>/share/v2vtool/), never from this clone. About 40 s on an idle 2-core machine, most of
it the demo itself.
"""
import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "v2vtool",
                "weights", "examples")
SHIPPED = ("weights", "examples")


def _run(cmd: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "V2V_WEIGHTS")}
    env["OMP_NUM_THREADS"] = "1"
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    return res


def _ok(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    res = _run(cmd, cwd)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout}\n{res.stderr}"
    return res


def _files(top: Path) -> set[str]:
    return {p.relative_to(top).as_posix() for p in top.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def venv2(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / name)
    _ok([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
         "b.build_sdist(sys.argv[1])", tmp / "sdist"], cwd=src)
    (sdist,) = (tmp / "sdist").glob("v2vtool-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    _ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "-q", "-w", tmp / "dist", unpacked], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("v2vtool-*.whl")

    venv = tmp / "venv2"
    _ok([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    py = venv / "bin" / "python"
    purelib = _ok([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                  cwd=tmp).stdout.strip()
    # this environment's site dirs, and those its own .pth files chain to (never the clone)
    reuse = [*site.getsitepackages(), *(p for p in sys.path if Path(p).name in
                                        ("site-packages", "dist-packages"))]
    reuse = [p for i, p in enumerate(reuse) if p not in reuse[:i] and Path(p).is_dir()]
    (Path(purelib) / "reuse-first-venv.pth").write_text("\n".join(reuse) + "\n")
    # --ignore-installed: never uninstall the v2vtool that the reused environment may hold
    _ok([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
         "--ignore-installed", "--no-cache-dir", "-q", wheel], cwd=tmp)
    (tmp / "elsewhere").mkdir()
    return venv


def test_the_wheel_ships_every_weight_and_example_file(venv2):
    share = venv2 / "share" / "v2vtool"
    for top in SHIPPED:
        assert _files(share / top) == _files(ROOT / top), top
    where = _ok([venv2 / "bin" / "python", "-c", "import json, v2vtool, v2vtool.resources as r; "
                 "print(json.dumps([v2vtool.__file__, str(r.find_weights('default')), "
                 "str(r.find_weights('keypoints')), str(r.find_examples())]))"],
                cwd=venv2.parent / "elsewhere").stdout
    package, default, keypoints, examples = map(Path, json.loads(where))
    assert package.is_relative_to(venv2)  # the installed package, not this clone
    assert default == share / "weights" / "default"
    assert keypoints == share / "weights" / "keypoints"
    assert examples == share / "examples"


def test_demo_runs_from_another_directory(venv2):
    cwd = venv2.parent / "elsewhere"
    res = _run([venv2 / "bin" / "v2v", "demo", "--out", "d", "--device", "cpu"], cwd=cwd)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((cwd / "d" / "metrics.json").read_text())
    share = venv2 / "share" / "v2vtool"
    assert Path(metrics["checkpoint"]) == share / "weights" / "default"
    assert Path(metrics["driver"]) == share / "examples" / "driver"
    assert set(metrics["cases"]) == {"demo_k1", "demo_k2"}
    for case in metrics["cases"].values():
        assert (cwd / "d" / case["video"]).stat().st_size > 0
        assert "pose_error" in case["metrics"], case["skipped"]  # the keypoint net was found


def test_synthesize_without_checkpoint_and_the_console_script_errors(venv2):
    cwd = venv2.parent / "elsewhere"
    share = venv2 / "share" / "v2vtool"
    v2v = venv2 / "bin" / "v2v"
    lines = (share / "examples" / "driver" / "keypoints.jsonl").read_text().splitlines()[:4]
    (cwd / "short.jsonl").write_text("\n".join(lines) + "\n")
    res = _run([v2v, "synthesize", "--examples", share / "examples" / "target_front.png",
                "--driver", "short.jsonl", "--out", "s.mp4", "--device", "cpu"], cwd=cwd)
    assert res.returncode == 0, res.stderr
    sidecar = json.loads((cwd / "s.json").read_text())
    assert Path(sidecar["checkpoint"]) == share / "weights" / "default"

    plain = _run([v2v, "extract", "missing.mp4", "--kind", "pose", "--out", "x"], cwd=cwd)
    assert plain.returncode == 2
    assert plain.stderr.strip() == "error: missing.mp4: no such file or directory"
    debug = _run([v2v, "--debug", "extract", "missing.mp4", "--kind", "pose", "--out", "x"],
                 cwd=cwd)
    assert debug.returncode not in (0, 2) and "Traceback (most recent call last)" in debug.stderr
