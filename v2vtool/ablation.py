"""Ablation sweeps (`v2v ablate`): the paper's Table 1 (appearance variants) and Fig. 7 (K,
number of training identities) on a procedural benchmark set.

Grid (each training cell gets the same budget: `steps` and/or `minutes`):
  - variants: every `--variants` appearance model trained on all `train_sizes[-1]` identities;
  - train sizes: weight generation trained on the first N training identities (seeded order);
  - K: test-time only — every trained cell is scored with the benchmark protocol at every K.
Scores come from `v2vtool.benchmark.evaluate_generator` (held-out identities, exact truth) and
include its baselines (copy, limb-warp) and the truth floor.

    ABL/cells/<variant>-n<N>/run/       the training run (train's run dir)
    ABL/cells/<variant>-n<N>/trained.json when its training finished (resume only scores it)
    ABL/cells/<variant>-n<N>/result.json  written when the cell is finished (resume skips it)
    ABL/table.csv, table.json, k.png, train_size.png, variants.png

Resumable: finished cells are skipped; an interrupted training run resumes from its checkpoint.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from v2vtool.config import Config, apply_overrides, preset
from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_path, make_parents, remove_created
from v2vtool.io.lock import LOCK_NAME, DirLock

log = logging.getLogger(__name__)
VARIANTS = ("weightgen", "adain", "concat", "encoder")
FORMAT = "v2v-ablation/1"


@dataclass(frozen=True)
class Cell:
    variant: str
    n_train: int

    @property
    def name(self) -> str:
        return f"{self.variant}-n{self.n_train}"


def parse_list(text: str, what: str, cast=int) -> list:
    try:
        vals = [cast(x.strip()) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--{what} {text!r}: expected a comma-separated list") from None
    if not vals:
        raise UserError(f"--{what}: empty list")
    if cast is int and min(vals) < 1:
        raise UserError(f"--{what} {text!r}: values must be >= 1")
    return vals


def train_identities(dataset: Path, seed: int) -> list[str]:
    """The training identities in a seeded order (train-size subsets are its prefixes)."""
    from v2vtool.data.synth import read_manifest

    ids = sorted(read_manifest(dataset)["train"])
    order = np.random.default_rng([seed, 7]).permutation(len(ids))
    return [ids[i] for i in order]


def plan_cells(variants: Sequence[str], train_sizes: Sequence[int], available: int
               ) -> tuple[list[Cell], list[str]]:
    """The training cells and notes (sizes clipped to the identities available)."""
    notes = []
    sizes = []
    for n in sorted(set(train_sizes)):
        if n > available:
            notes.append(f"train size {n} > {available} training identities: using {available}")
            n = available
        if n not in sizes:
            sizes.append(n)
    full = sizes[-1]
    cells = [Cell(v, full) for v in variants]
    if "weightgen" in variants or len(sizes) > 1:
        cells += [Cell("weightgen", n) for n in sizes if Cell("weightgen", n) not in cells]
    return cells, notes


def cell_config(base: Config, variant: str, ks: Sequence[int]) -> Config:
    return apply_overrides(base, [f"generator.appearance={variant}",
                                  f"train.k_max={max(max(ks), base.train.k_max)}"])


def _train_cell(cell: Cell, cfg: Config, dataset: Path, ids: list[str], cdir: Path,
                steps: int | None, minutes: float | None, device: str) -> Path:
    from v2vtool.data.synth import read_manifest
    from v2vtool.training import train

    man = read_manifest(dataset)
    chosen = set(ids[:cell.n_train])
    clips = [dataset / c["path"] for c in man["clips"]
             if c["identity"] in chosen and c["split"] == "train"]
    run = cdir / "run"
    resume = (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir())
    return train([str(c) for c in clips], run, cfg, steps=steps, minutes=minutes, resume=resume,
                 device=device, progress=False)


def run_cell(cell: Cell, base: Config, dataset: Path, ids: list[str], out: Path,
             ks: Sequence[int], steps: int | None, minutes: float | None, seed: int,
             max_frames: int | None, device: str = "cpu",
             status: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) and score one cell; writes cells/<name>/result.json atomically."""
    from v2vtool.benchmark import evaluate_generator
    from v2vtool.models.checkpoint import load_generator

    say = status or (lambda s: None)
    cdir = out / "cells" / cell.name
    cdir.mkdir(parents=True, exist_ok=True)
    cfg = cell_config(base, cell.variant, ks)
    trained = cdir / "trained.json"
    if trained.is_file():  # trained earlier, scoring did not finish: score only
        info = _read_json(trained)
        try:
            ckpt, t_train = Path(info["checkpoint"]), float(info["train_seconds"])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{trained}: not written by v2v ablate (no checkpoint / "
                            "train_seconds); delete it to train the cell again") from None
    else:
        t0 = time.perf_counter()
        say(f"{cell.name}: training")
        ckpt = _train_cell(cell, cfg, dataset, ids, cdir, steps, minutes, device)
        t_train = time.perf_counter() - t0
        with atomic_path(trained) as tmp:
            Path(tmp).write_text(json.dumps({"checkpoint": str(ckpt),
                                             "train_seconds": round(t_train, 1)}))
    say(f"{cell.name}: evaluating")
    loaded = load_generator(ckpt, device)
    res = evaluate_generator(loaded.generator, loaded.config, dataset, list(ks), seed=seed,
                             max_frames=max_frames, drift_frames=0)  # cells: regular rows only
    result = {"cell": cell.name, "variant": cell.variant, "train_identities": cell.n_train,
              "checkpoint": str(ckpt), "step": _step_of(ckpt), "train_seconds": round(t_train, 1),
              "benchmark": res}
    with atomic_path(cdir / "result.json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2, default=str))
    return result


def _step_of(ckpt: Path) -> int | None:
    name = Path(ckpt).name
    return int(name.split("-")[-1]) if name.startswith("step-") else None


def table_rows(results: list[dict]) -> list[dict]:
    """One row per (cell, K) for the models; the baselines (copy, limb-warp) and the truth floor
    do not depend on the trained model, so they are listed once (from the first cell)."""
    rows = []
    for r in results:
        for row in r["benchmark"]["rows"]:
            model = row["method"] == "model"
            if not model and r is not results[0]:
                continue
            rows.append({"cell": r["cell"] if model else "-",
                         "variant": r["variant"] if model else row["method"],
                         "train_identities": r["train_identities"] if model else None,
                         "k": row["k"], "method": row["method"],
                         "step": r["step"] if model else None,
                         "train_seconds": r["train_seconds"] if model else None,
                         **{k: v for k, v in row.items() if k not in ("method", "k")}})
    return rows


def write_tables(rows: list[dict], meta: dict, out: Path) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    with atomic_path(out / "table.csv") as tmp:
        Path(tmp).write_text(buf.getvalue())
    with atomic_path(out / "table.json") as tmp:
        Path(tmp).write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str))


def run_ablation(data: str | os.PathLike, out: str | os.PathLike, ks: Sequence[int] = (1, 2, 4, 8),
                 train_sizes: Sequence[int] = (8, 32, 128),
                 variants: Sequence[str] = VARIANTS, budget_minutes: float | None = None,
                 steps: int | None = None, config: Config | None = None, seed: int = 0,
                 max_frames: int | None = None, device: str = "cpu",
                 progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Run / resume the grid (module docstring); returns the table.json content.

    Everything is checked before anything is written; ABL is locked while the sweep runs (one
    writer); a sweep that fails before any cell trained a checkpoint leaves nothing behind."""
    from v2vtool.config_check import BIG, MAX_K, MAX_SEED, check_number, validate_config
    from v2vtool.io.guard import check_outputs, check_replaceable

    data, out = Path(data), Path(out)
    if not (data / "manifest.json").is_file():
        raise UserError(f"{data}: not a 'v2v data synth' set (no manifest.json)")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise UserError(f"--variants: unknown {', '.join(bad)} (choose from {', '.join(VARIANTS)})")
    for k in ks:
        check_number("--k", k, 1, MAX_K, integer=True)
    for n in train_sizes:
        check_number("--train-sizes", n, 1, 10**6, integer=True)
    check_number("--steps", steps, 1, BIG, integer=True)
    check_number("--budget-minutes", budget_minutes, 0, 10**7, lo_open=True)
    check_number("--max-frames", max_frames, 1, 10**7, integer=True)
    check_number("--seed", seed, 0, MAX_SEED, integer=True)
    base = validate_config(config or preset("tiny"))
    if budget_minutes is None and steps is None:
        steps = base.train.steps  # the preset's schedule length, the same for every cell
    if base.generator.kind != "pose":
        raise UserError("ablation runs on the procedural pose benchmark: the preset must be pose")
    check_outputs([("--out", out)], [("--data", data)])
    ids = train_identities(data, seed)
    if not ids:
        raise UserError(f"{data}/manifest.json: no training identities")
    from v2vtool.benchmark import plan

    plan(data, list(ks), seed)  # the scoring protocol must be possible before training
    cells, notes = plan_cells(variants, train_sizes, len(ids))
    spec = {"data": str(data), "ks": list(ks), "train_sizes": list(train_sizes),
            "variants": list(variants), "budget_minutes": budget_minutes, "steps": steps,
            "seed": seed, "max_frames": max_frames, "config": base.to_dict()}
    spec_file = out / "spec.json"
    if os.path.lexists(out) and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory (--out is a sweep directory)")
    created = make_parents(out / "x") if not out.exists() else []
    lock = DirLock(out)
    fresh = False
    try:
        lock.acquire()  # first: what is in OUT is only looked at with the lock held
        check_replaceable(out, _is_sweep, "a sweep directory of v2v ablate",
                          "choose a new --out, or the --out of the sweep to resume")
        fresh = not spec_file.is_file()
        if not fresh:
            old = _read_json(spec_file)
            if {k: old.get(k) for k in spec} != spec:
                raise UserError(f"{spec_file}: {out} holds a different sweep (other arguments);"
                                " use a new --out or the same arguments to resume")
        else:
            with atomic_path(spec_file) as tmp:
                Path(tmp).write_text(json.dumps(spec, indent=2))
        return _run_cells(cells, notes, spec, base, data, ids, out, ks, variants, steps,
                          budget_minutes, seed, max_frames, device, progress)
    except Exception:
        if fresh and lock.held and not _any_checkpoint(out):  # nothing worth resuming
            for p in list(out.iterdir()):
                if p.name != LOCK_NAME:
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        raise
    finally:
        lock.release()
        if created and out.is_dir() and not any(out.iterdir()):
            remove_created(created)


def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({' '.join(str(exc).split())[:120]})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: not a sweep spec (expected a JSON object)")
    return obj


def _is_sweep(path: Path) -> bool:
    """A folder written by v2v ablate (its spec.json)."""
    try:
        obj = json.loads((path / "spec.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and {"data", "ks", "variants", "train_sizes"} <= set(obj)


def _any_checkpoint(out: Path) -> bool:
    cells = out / "cells"
    return cells.is_dir() and any(
        (c / "result.json").is_file() or any((c / "run" / "checkpoints").glob("step-*"))
        for c in cells.iterdir() if c.is_dir())


def _run_cells(cells, notes, spec, base, data, ids, out, ks, variants, steps, budget_minutes,
               seed, max_frames, device, progress) -> dict:
    results = []
    for i, cell in enumerate(cells):
        done = out / "cells" / cell.name / "result.json"
        if done.is_file():
            results.append(_read_json(done))
            if progress:
                progress(i + 1, len(cells), f"{cell.name}: done earlier (skipped)")
            continue
        if progress:
            progress(i, len(cells), f"{cell.name}")
        results.append(run_cell(cell, base, data, ids, out, ks, steps, budget_minutes, seed,
                                max_frames, device,
                                status=(lambda s, i=i: progress(i, len(cells), s))
                                if progress else None))
        if progress:
            progress(i + 1, len(cells), f"{cell.name}: finished")
    rows = table_rows(results)
    meta = {"format": FORMAT, **{k: v for k, v in spec.items() if k != "config"},
            "cells": [c.name for c in cells], "notes": notes}
    write_tables(rows, meta, out)
    from v2vtool.ablation_plots import write_plots

    write_plots(rows, out, ks, variants)
    return {**meta, "rows": rows}
