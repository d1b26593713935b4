"""Data-parallel training over 2 real gloo processes (torch.multiprocessing spawn, CPU).

- a rank whose batches never have a face box (so its face discriminator gets no gradient from
  data) trains in lock-step with a rank that has one, and both end with identical weights;
- `average_gradients` reduces the same parameters on every rank, zeros standing in for a
  rank's missing gradients, and leaves parameters nobody has a gradient for alone;
- a checkpoint write that fails on rank 0 stops every rank promptly (no barrier timeout).
"""
from __future__ import annotations

import json
import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from tests.test_train_data import _pose_person
from tests.test_train_loop import tiny_config
from v2vtool.io.clipdir import ClipWriter
from v2vtool.semantics.render import render_pose

HEAD = [0, 15, 16, 17, 18]  # BODY_25 nose, eyes, ears: face boxes come from these


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip(path: Path, face: bool, seed: int, n: int = 8, size: int = 48) -> None:
    rng = np.random.default_rng(seed)
    with ClipWriter(path, "pose", fps=10) as w:
        for i in range(n):
            person = _pose_person(i * 0.4 + seed, size, rng)
            if not face:
                person.pose[HEAD, 2] = 0.0
            frame = np.full((size, size, 3), 40, np.uint8)
            frame[render_pose([person], (size, size)).max(-1) > 0] = (200, 120, 60)
            w.add(frame, keypoints=[person])
        w.close(identity=str(seed))


def _run(world: int, fn, args: tuple, timeout: float = 240.0) -> None:
    """Spawn `world` ranks of fn(rank, *args); fail (never hang) after `timeout` seconds."""
    port = _free_port()
    ctx = mp.start_processes(fn, args=(world, port, *args), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.time() + timeout
    while not ctx.join(timeout=1.0):
        if time.time() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
            pytest.fail(f"distributed run did not finish within {timeout:.0f} s")


def _env(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)


def _train_rank(rank: int, world: int, port: int, data: str, out: str, report: str,
                fail_save: bool) -> None:
    _env(rank, world, port)
    from v2vtool.training import checkpoint as ckpt_io
    from v2vtool.training import train

    if fail_save and rank == 0:
        def broken(*a, **kw):
            raise OSError(28, "No space left on device")
        ckpt_io.save_training_checkpoint = broken
    cfg = tiny_config("pose", "discriminator.face=true", "discriminator.face_size=16",
                      "train.batch_size=1", "train.single_frame_steps=2",
                      "train.checkpoint_every=2")
    result = {"rank": rank}
    t0 = time.time()
    try:
        final = train([data], out, cfg, steps=4, device="cpu", progress=False)
        from safetensors.torch import load_file

        weights = load_file(str(Path(final) / "generator.safetensors"))
        result.update(ok=True, checksum=float(sum(v.double().sum() for v in weights.values())))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}",
                      trace=traceback.format_exc()[-2000:])
    result["seconds"] = time.time() - t0
    Path(report, f"rank{rank}.json").write_text(json.dumps(result))


@pytest.fixture(scope="module")
def face_and_faceless(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ddp") / "set"
    _clip(root / "with-face", face=True, seed=0)
    _clip(root / "no-face", face=False, seed=1)
    return root


def _reports(path: Path, world: int) -> list[dict]:
    return [json.loads((path / f"rank{r}.json").read_text()) for r in range(world)]


def test_two_ranks_train_when_one_rank_has_no_face(face_and_faceless, tmp_path):
    from v2vtool.data.dataset import FewShotBatchSampler

    # the premise: with batch 1 and 2 ranks, each rank gets a different clip at every step
    clips = [[FewShotBatchSampler(2, 1, 2, lambda s: 1, 0, r, 2).keys(s)[0].clip
              for s in range(4)] for r in range(2)]
    assert all(a != b for a, b in zip(*clips))
    _run(2, _train_rank, (str(face_and_faceless), str(tmp_path / "run"), str(tmp_path), False))
    reports = _reports(tmp_path, 2)
    assert all(r["ok"] for r in reports), reports
    assert reports[0]["checksum"] == reports[1]["checksum"]  # identical weights on both ranks
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    train_recs = [r for r in recs if r["type"] == "train"]
    assert [r["step"] for r in train_recs] == [1, 2, 3, 4]
    assert all("face_gan" in r and np.isfinite(r["g_total"]) for r in train_recs)


def test_failed_checkpoint_on_rank0_stops_every_rank(face_and_faceless, tmp_path):
    t0 = time.time()
    _run(2, _train_rank, (str(face_and_faceless), str(tmp_path / "run"), str(tmp_path), True))
    reports = _reports(tmp_path, 2)
    assert not reports[0]["ok"] and "No space left" in reports[0]["error"]
    assert not reports[1]["ok"] and "rank 0 could not write" in reports[1]["error"]
    assert time.time() - t0 < 200  # not the 10-minute barrier timeout


def _grad_rank(rank: int, world: int, port: int, report: str) -> None:
    _env(rank, world, port)
    import torch.distributed as dist

    from v2vtool.training import distributed as ddp

    dist.init_process_group("gloo")
    try:
        info = ddp.DistInfo(rank, world, rank)
        params = [torch.nn.Parameter(torch.zeros(3)) for _ in range(3)]
        params[0].grad = torch.full((3,), float(rank + 1))  # both ranks: 1 and 2 -> 1.5
        if rank == 0:
            params[1].grad = torch.full((3,), 4.0)  # rank 1 has none -> (4 + 0) / 2
        # params[2]: no gradient anywhere -> stays None
        flag = ddp.average_gradients(params, info, torch.tensor(float(rank == 1)))
        out = {"g0": params[0].grad.tolist(), "g1": params[1].grad.tolist(),
               "g2_none": params[2].grad is None, "flag": float(flag),
               "any": ddp.any_ranks([rank == 0, False], info)}
        Path(report, f"rank{rank}.json").write_text(json.dumps(out))
    finally:
        dist.destroy_process_group()


def test_average_gradients_same_length_on_every_rank(tmp_path):
    _run(2, _grad_rank, (str(tmp_path),), timeout=120)
    for r in _reports(tmp_path, 2):
        assert r["g0"] == [1.5] * 3 and r["g1"] == [2.0] * 3 and r["g2_none"]
        assert r["flag"] == 1.0 and r["any"] == [True, False]
