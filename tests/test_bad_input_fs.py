"""Bad-input cases that need real processes or a real filesystem fault.

- two `v2v train` processes on one run dir (the second is refused while the first runs; a
  killed holder's lock is released by the kernel), a locked sweep dir for `v2v ablate`;
- stale checkpoint temporaries of a killed write removed on resume;
- a full disk and a read-only folder, for real: each command run against a tiny tmpfs in a
  private mount namespace (`unshare -m`, skipped where that is not allowed), and a full disk
  simulated in process (a write that raises ENOSPC) where it is not;
- `--debug` shows the traceback that the one-line policy hides.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.bad_world import build, diff, snapshot
from tests.test_bad_input import check_refused
from tests.test_train_loop import TINY
from v2vtool.cli import app
from v2vtool.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SETS = [a for s in TINY for a in ("--set", s)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build(tmp_path_factory.mktemp("fsworld") / "w")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _v2v(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "v2vtool", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout:
            raise TimeoutError("condition not reached")
        time.sleep(0.1)


def _one_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ---- one writer per run directory ----------------------------------------------------------

def test_second_train_process_is_refused_while_the_first_runs(world, tmp_path):
    run = tmp_path / "run"
    first = _v2v("train", "--data", str(world / "data"), "--out", str(run), "--steps", "500",
                 "--device", "cpu", *SETS, cwd=tmp_path)
    try:
        _wait_for(lambda: (run / ".lock").is_file() and (run / ".lock").read_text().strip()
                  or first.poll() is not None)
        assert first.poll() is None, first.communicate()
        second = _v2v("train", "--data", str(world / "data"), "--out", str(run), "--steps",
                      "500", "--device", "cpu", *SETS, cwd=tmp_path)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 2, err
        assert f"is in use by pid {first.pid}" in _one_error(err)
        # --resume too (in process: same code path, no second interpreter start-up)
        res = CliRunner().invoke(app, ["train", "--data", str(world / "data"), "--out",
                                       str(run), "--resume", "--device", "cpu"])
        check_refused(res, f"is in use by pid {first.pid}")
        assert first.poll() is None  # the first one was not disturbed
    finally:
        first.kill()  # kill -9: the kernel releases the lock
        first.wait()
    assert (run / ".lock").read_text().strip() == str(first.pid)  # stale file, no lock held
    from v2vtool.io.lock import DirLock

    with DirLock(run) as lock:
        assert lock.held and (run / ".lock").read_text().strip() == str(os.getpid())
    assert not (run / ".lock").exists()  # released and removed


HOLD = "import sys, time; from v2vtool.io.lock import DirLock; DirLock(sys.argv[1]).acquire(); " \
       "print('locked', flush=True); time.sleep(600)"


def test_ablate_refuses_a_sweep_dir_in_use(world, tmp_path, monkeypatch):
    sweep = tmp_path / "abl"
    sweep.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(sweep)], env=_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.chdir(world)
        before = snapshot(tmp_path)
        res = CliRunner().invoke(app, ["ablate", "--data", "data", "--out", str(sweep),
                                       "--steps", "1", "--train-sizes", "1", "--k", "1",
                                       "--variants", "weightgen"])
        check_refused(res, f"is in use by pid {holder.pid}")
        assert diff(before, snapshot(tmp_path)) == []
    finally:
        holder.kill()
        holder.wait()


def test_resume_removes_stale_checkpoint_temporaries(world, tmp_path):
    from tests.test_train_loop import tiny_config
    from v2vtool.training import train

    run = tmp_path / "run"
    train([world / "data"], run, tiny_config("pose"), steps=1, device="cpu", progress=False)
    stale = [run / "checkpoints" / ".step-0000002.tmp-0badf00d",
             run / "checkpoints" / ".step-0000001.old-12345678"]
    for d in stale:  # what a kill during a checkpoint write leaves
        d.mkdir()
        (d / "generator.safetensors").write_bytes(b"partial")
    (run / "checkpoints" / ".latest.tmp-abcdef01").write_text("step-0000002\n")
    final = train([world / "data"], run, tiny_config("pose"), steps=2, resume=True,
                  device="cpu", progress=False)
    assert final.name == "step-0000002"
    left = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert left == ["latest", "step-0000001", "step-0000002"], left
    assert not (run / ".lock").exists()


def test_sigterm_during_synthesis_leaves_nothing(world, tmp_path):
    long = tmp_path / "long.jsonl"  # a long keypoint driver: minutes of frames
    long.write_text((world / "kp.jsonl").read_text() * 200)
    out = tmp_path / "out"
    proc = _v2v("synthesize", "-e", "clip:0", "-d", str(long), "--out", str(out / "o.mp4"),
                "--frames-dir", str(out / "f"), "--checkpoint", "ckpt", "--device", "cpu",
                cwd=world)
    try:
        _wait_for(lambda: any(out.glob(".f.tmp-*/000003.png")) or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "interrupted" in err and "Traceback" not in err, err
    assert not out.exists()  # the run made it: gone with every temporary inside


# ---- a full disk, a read-only folder ---------------------------------------------------------

DRIVER = textwrap.dedent('''
    import json, logging, os, subprocess, sys
    from typer.testing import CliRunner
    from v2vtool.cli import app
    world, mnt, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    os.chdir(world)
    out = []
    for name, opts, argv in cases:
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt], check=True)
        logging.getLogger().handlers.clear()  # bound to the previous invocation's stderr
        res = CliRunner().invoke(app, argv)
        left = sorted(os.listdir(mnt))
        subprocess.run(["umount", mnt], check=True)
        out.append({"name": name, "exit": res.exit_code, "output": res.output, "left": left,
                    "exception": repr(res.exception)})
    print("RESULTS" + json.dumps(out))
''')


def _namespace_prefix() -> list[str] | None:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return None
    args = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*args, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return args if probe.returncode == 0 else None


def test_full_disk_and_read_only_folder_for_real(world, tmp_path):
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare -m / tmpfs not permitted)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    m = str(mnt)
    full, ro = "size=48k", "size=4m,ro"  # 48 KiB fills within a few frames
    ckpt = ["--checkpoint", "ckpt", "--device", "cpu"]
    cases = [
        ("synth-full", full, ["synthesize", "-e", "clip:0", "-d", "clip", "--out", f"{m}/o.mp4",
                              "--frames-dir", f"{m}/frames", *ckpt]),
        ("train-full", full, ["train", "--data", "data", "--out", f"{m}/run", "--steps", "1",
                              "--device", "cpu", *SETS]),
        ("datasynth-full", full, ["data", "synth", "--out", f"{m}/set", "--identities", "2",
                                  "--frames", "12", "--size", "64", "--workers", "1"]),
        ("extract-full", full, ["extract", "frames", "--kind", "edges", "--out", f"{m}/x"]),
        ("synth-ro", ro, ["synthesize", "-e", "clip:0", "-d", "clip", "--out", f"{m}/o.mp4",
                          *ckpt]),
        ("eval-ro", ro, ["evaluate", "--generated", "gen.mp4", "--real", "clip", "--json",
                         f"{m}/m.json"]),
        ("import-ro", ro, ["data", "import", "src", "--format", "openpose", "--out",
                           f"{m}/imp"]),
        ("extract-ro", ro, ["extract", "frames", "--kind", "edges", "--out", f"{m}/x"]),
        ("train-ro", ro, ["train", "--data", "data", "--out", f"{m}/run", "--steps", "1",
                          "--device", "cpu", *SETS]),
        ("ablate-ro", ro, ["ablate", "--data", "data", "--out", f"{m}/abl", "--steps", "1",
                           "--train-sizes", "1", "--k", "1", "--variants", "weightgen"]),
        ("demo-ro", ro, ["demo", "--out", f"{m}/demo", "--examples-dir", "exdir", *ckpt]),
    ]
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    before = snapshot(world)
    proc = subprocess.run([*prefix, sys.executable, str(script), str(world), m,
                           json.dumps(cases)], env=_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.split("RESULTS", 1)[1])
    assert diff(before, snapshot(world)) == []  # the inputs are untouched
    # a full tmpfs reports ENOSPC, or EIO for a memory-mapped write (safetensors) that runs out
    expect = {"full": ("no space left on device", "input/output error"),
              "ro": ("read-only file system",)}
    for r in results:
        why = r["name"].rsplit("-", 1)[1]
        detail = json.dumps(r, indent=1)
        assert r["exit"] == 2, detail
        lines = [ln for ln in r["output"].splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in r["output"], detail
        assert any(e in lines[0].lower() for e in expect[why]), detail
        assert r["left"] == [], detail  # partial outputs are gone


def test_full_disk_simulated_in_process(world, tmp_path, monkeypatch):
    """Where no tmpfs can be mounted: the PNG writers (Pillow's, and io/png.py's that clip dirs
    use) raise ENOSPC after a few frames."""
    from PIL import Image

    import v2vtool.io.clipdir as clipdir

    real_save, real_png, calls = Image.Image.save, clipdir.write_png, {"n": 0}

    def full(fp):
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))

    def save(self, fp, *a, **k):
        full(fp)
        return real_save(self, fp, *a, **k)

    def write_png(path, *a, **k):
        full(path)
        return real_png(path, *a, **k)

    monkeypatch.setattr(Image.Image, "save", save)
    monkeypatch.setattr(clipdir, "write_png", write_png)
    monkeypatch.chdir(world)
    before, here = snapshot(world), snapshot(tmp_path)
    for argv in (["synthesize", "-e", "clip:0", "-d", "clip", "--out", str(tmp_path / "o.mp4"),
                  "--frames-dir", str(tmp_path / "f" / "frames"), "--checkpoint", "ckpt",
                  "--device", "cpu"],
                 ["data", "synth", "--out", str(tmp_path / "a" / "set"), "--identities", "2",
                  "--frames", "6", "--size", "64", "--workers", "1"],
                 ["extract", "frames", "--kind", "edges", "--out", str(tmp_path / "b" / "x")]):
        calls["n"] = 0
        res = CliRunner().invoke(app, argv)
        check_refused(res, "no space left on device")
        assert calls["n"] > 4  # the fault really happened mid-write
    assert diff(before, snapshot(world)) == [] and diff(here, snapshot(tmp_path)) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied_folder(world, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        monkeypatch.chdir(world)
        res = CliRunner().invoke(app, ["synthesize", "-e", "clip:0", "-d", "clip", "--out",
                                       str(locked / "o.mp4"), "--checkpoint", "ckpt",
                                       "--device", "cpu"])
        check_refused(res, "permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


# ---- --debug ----------------------------------------------------------------------------------

DEBUG_CASES = {
    "guard": ["synthesize", "-e", "ex.png", "-d", "driver.mp4", "--out", "driver.mp4",
              "--checkpoint", "ckpt"],
    "checkpoint-mismatch": ["synthesize", "-e", "ex.png", "-d", "kp_bad/nan.jsonl", "--out",
                            "o.mp4", "--checkpoint", "ck_ngf", "--device", "cpu"],
    "config": ["train", "--data", "data", "--out", "newrun", "--set", "train.batch_size=0"],
    "keypoints": ["evaluate", "--generated", "gen.mp4", "--driver", "kp_bad/inf.jsonl"],
    "os-error": ["evaluate", "--generated", "gen.mp4", "--real", "clip", "--json",
                 "text.txt/m.json"],
}


def test_debug_prints_the_traceback(world):
    """In a real process: without --debug one line, with it Python's traceback."""
    argv = DEBUG_CASES["guard"]
    plain = subprocess.run([sys.executable, "-m", "v2vtool", *argv], cwd=world, env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    _one_error(plain.stderr)
    debug = subprocess.run([sys.executable, "-m", "v2vtool", "--debug", *argv], cwd=world,
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr
    assert "v2vtool.errors.UserError: driver.mp4: --out is the input" in debug.stderr


@pytest.mark.parametrize("name", list(DEBUG_CASES))
def test_debug_reraises_the_error(world, monkeypatch, name):
    """--debug re-raises the very exception the one-line policy would print (CliRunner keeps
    it with its traceback), for each kind of error."""
    monkeypatch.chdir(world)
    before = snapshot(world)
    plain = CliRunner().invoke(app, DEBUG_CASES[name])
    check_refused(plain, None)
    res = CliRunner().invoke(app, ["--debug", *DEBUG_CASES[name]])
    assert isinstance(res.exception, (UserError, OSError)), res.output
    assert res.exc_info[2] is not None and "error:" not in res.output
    assert diff(before, snapshot(world)) == []


# ---- the snapshot can see a change (so "nothing changed" means something) -------------------

def test_snapshot_sees_changes(tmp_path):
    (tmp_path / "a").write_text("1")
    before = snapshot(tmp_path)
    (tmp_path / "a").write_text("2")
    (tmp_path / "d").mkdir()
    assert diff(before, snapshot(tmp_path)) == ["changed: a", "new: d"]


# ==== issue 21 (branch robust): Ctrl-C with workers, bind mounts ==============================

def _ctrl_c(argv: list[str], cwd: Path, started) -> tuple[int, str]:
    """Run `v2v ARGV` in its own process group, press Ctrl-C (SIGINT to the whole group, as a
    terminal does) once `started()`, return (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "v2vtool", *argv], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _wait_for(lambda: started() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err


def _writing(folder: Path, pattern: str) -> bool:
    return folder.is_dir() and any(folder.glob(pattern))


def test_ctrl_c_with_data_synth_workers(tmp_path):
    """Workers ignore Ctrl-C (no tracebacks of theirs); the main process terminates them and
    removes the dataset's temporary: one line, exit 130, nothing left."""
    code, err = _ctrl_c(["data", "synth", "--out", "set", "--identities", "8", "--frames", "40",
                         "--size", "64", "--workers", "2"], tmp_path,
                        lambda: _writing(tmp_path, ".set.tmp-*/id000*/.clip00.tmp-*/frames/*"))
    assert code == 130, err
    assert err.strip().splitlines() == ["interrupted"], err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_with_extract_processes(tmp_path):
    """`extract --processes`: the running jobs stop and remove their temporaries, jobs not
    started never start."""
    import numpy as np

    from v2vtool.io.video import VideoWriter

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):  # long enough to be mid-way at Ctrl-C
        with VideoWriter(tmp_path / f"{name}.mp4", 25, preset="ultrafast") as w:
            for _ in range(300):
                w.write(rng.integers(0, 255, (96, 96, 3), np.uint8))
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = _ctrl_c(["extract", "a.mp4", "b.mp4", "c.mp4", "--kind", "edges", "--out", "x",
                         "--workers", "2", "--processes"], tmp_path,
                        lambda: _writing(tmp_path / "x", ".*.tmp-*/frames/000002.png"))
    assert code == 130, err
    assert err.strip().splitlines() == ["interrupted"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no x/, no temporaries


BIND = textwrap.dedent('''
    import json, os, subprocess, sys
    from typer.testing import CliRunner
    from v2vtool.cli import app
    world, cases = sys.argv[1], json.loads(sys.argv[2])
    os.chdir(world)
    out = []
    for name, source, mnt, argv in cases:
        os.makedirs(mnt, exist_ok=True)
        subprocess.run(["mount", "--bind", source, mnt], check=True)
        res = CliRunner().invoke(app, argv)
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)
        out.append({"name": name, "exit": res.exit_code, "output": res.output})
    print("RESULTS" + json.dumps(out))
''')


def test_bind_mount_of_an_input_is_the_input(world, tmp_path):
    """A bind mount shows an input under another path: the guard compares device + inode, so
    an output through the mount is refused like one through the input's own path."""
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare -m / mount not permitted)")
    m = str(tmp_path / "mnt")
    ckpt = ["--checkpoint", "ckpt", "--device", "cpu"]
    cases = [  # (name, what is mounted, where, argv) with the world as working directory
        ("synth-out-in-driver-clip", "clip", m,
         ["synthesize", "-e", "ex.png", "-d", "clip", "--out", f"{m}/o.mp4", *ckpt],
         "lies inside the input"),
        ("synth-frames-dir-is-driver-frames", "clip/frames", m,
         ["synthesize", "-e", "ex.png", "-d", "clip/frames", "--out", f"{tmp_path}/o.mp4",
          "--frames-dir", m, *ckpt], "is the input"),
        ("eval-json-is-real-meta", "clip", m,
         ["evaluate", "--generated", "gen.mp4", "--real", "clip", "--json", f"{m}/meta.json"],
         "lies inside the input"),
        ("eval-json-is-generated", ".", m,
         ["evaluate", "--generated", "gen.mp4", "--real", "clip", "--json", f"{m}/gen.mp4"],
         "is the input"),
        ("train-out-in-data", "data", m,
         ["train", "--data", "data", "--out", f"{m}/run", "--steps", "1", "--device", "cpu"],
         "lies inside the input"),
        ("extract-clip-is-input", ".", m,  # the world mounted: its clip dir m/frames IS frames
         ["extract", "frames", "--kind", "edges", "--out", m, "--overwrite"], "is the input"),
    ]
    script = tmp_path / "bind.py"
    script.write_text(BIND)
    before = snapshot(world)
    proc = subprocess.run([*prefix, sys.executable, str(script), str(world),
                           json.dumps([c[:4] for c in cases])], env=_env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(proc.stdout.split("RESULTS", 1)[1])}
    assert diff(before, snapshot(world)) == []
    for name, *_, expect in cases:
        r = results[name]
        lines = [ln for ln in r["output"].splitlines() if ln.startswith("error:")]
        assert r["exit"] == 2 and len(lines) == 1, json.dumps(r, indent=1)
        assert re.search(expect, lines[0]), json.dumps(r, indent=1)


def test_worker_ctrl_c_is_raised_at_the_jobs_check_not_in_the_handler():
    """In an `extract --processes` worker, Ctrl-C must not raise from the signal handler (it can
    land in a C extension's import, which prints a traceback); it raises at the job's next
    `stop_if_interrupted()`, where the job's cleanup runs."""
    code = (
        "import os, signal\n"
        "from v2vtool.workers import init_interruptible_worker, stop_if_interrupted\n"
        "init_interruptible_worker()\n"
        "stop_if_interrupted()\n"  # no Ctrl-C yet: returns
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "import json\n"  # would be where the handler raised before
        "try:\n"
        "    stop_if_interrupted()\n"
        "except KeyboardInterrupt:\n"
        "    print('stopped at the check')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "stopped at the check" and res.stderr == "", res.stderr
