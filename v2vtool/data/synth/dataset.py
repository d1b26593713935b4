"""The procedural dancer benchmark on disk: identities x clips as clip directories + manifest.

    OUT/manifest.json            {"format": "v2v-synth/1", "seed", "size", "train", "test",
                                  "identities": {id: appearance}, "clips": [...], ...}
    OUT/<identity>/clip<j>/      a clip dir (kind "pose"; meta extras "identity", "views",
                                  "yaw", "split", "dance")

Every random choice comes from numpy generators seeded with (seed, identity, clip), so the same
arguments give byte-identical files. Frames are rendered from the keypoints as stored in
keypoints.jsonl (rounded like the file), so `render_identity(ds, id, clip.keypoints, size)`
reproduces a clip's frames exactly, and renders any identity with any other motion.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from v2vtool.data.synth.appearance import Identity, render_background, sample_identity
from v2vtool.data.synth.motion import FPS, dance_clip, sample_dance, view_of
from v2vtool.data.synth.rasterize import Renderer
from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_dir
from v2vtool.io.clipdir import Clip, ClipWriter
from v2vtool.io.keypoints import Person, main_person
from v2vtool.semantics.render import render_pose
from v2vtool.workers import init_worker

log = logging.getLogger(__name__)
FORMAT = "v2v-synth/1"
GENERATOR_VERSION = 1
MIN_SIZE, MAX_SIZE = 64, 512
Progress = Callable[[int, int], None]  # (frames done, frames total)


def identity_ids(n: int) -> list[str]:
    return [f"id{i:04d}" for i in range(n)]


def _check(identities, clips_per_identity, frames, size, test_identities) -> None:
    if not 1 <= identities <= 100_000:
        raise UserError(f"--identities must be in 1..100000 (got {identities})")
    if not 1 <= clips_per_identity <= 1000:
        raise UserError(f"--clips-per-identity must be in 1..1000 (got {clips_per_identity})")
    if not 1 <= frames <= 100_000:
        raise UserError(f"--frames must be in 1..100000 (got {frames})")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"--size must be in {MIN_SIZE}..{MAX_SIZE} (got {size})")
    if not 0 <= test_identities < identities:
        raise UserError(f"--test-identities must be in 0..{identities - 1} "
                        f"(got {test_identities}; at least one training identity is needed)")


def check_seed(seed: int) -> None:
    from v2vtool.config_check import MAX_SEED, check_number

    check_number("--seed", seed, 0, MAX_SEED, integer=True)


def split_identities(ids: list[str], test_identities: int, seed: int) -> tuple[list, list]:
    """Disjoint (train, test) identity lists, drawn from the seed."""
    rng = np.random.default_rng([seed, 7_777_777])
    test = sorted(ids[i] for i in rng.choice(len(ids), test_identities, replace=False))
    return [i for i in ids if i not in set(test)], test


def _write_identity(tmp: Path, seed: int, idx: int, ident: str, split: str,
                    clips_per_identity: int, frames: int, size: int,
                    progress: Callable[[int], None] | None = None) -> tuple[dict, list]:
    """Render one identity's clips into tmp/<ident>/; returns (appearance, manifest rows)."""
    app = sample_identity(np.random.default_rng([seed, idx]))
    renderer = Renderer(app, size, render_background(app, size))
    rows = []
    for j in range(clips_per_identity):
        dance = sample_dance(np.random.default_rng([seed, idx, j, 1]), frames)
        people, yaws = dance_clip(app, dance, frames, size)
        rel = f"{ident}/clip{j:02d}"
        with ClipWriter(tmp / rel, "pose", FPS) as writer:
            for person in people:
                frame, mask = renderer.render(person)
                writer.add(frame, [person], render_pose([person], (size, size)), mask)
                if progress is not None:
                    progress(1)
            writer.close(identity=ident, split=split, source="v2v data synth",
                         extractor="v2v-synth", extractor_version=GENERATOR_VERSION,
                         views=[view_of(y) for y in yaws],
                         yaw=[round(float(y), 2) for y in yaws], dance=dance.to_dict(),
                         seed=seed)
        rows.append({"path": rel, "identity": ident, "split": split, "frames": frames})
    return app.to_dict(), rows


def _worker(args: tuple) -> tuple[dict, list]:
    return _write_identity(*args)


def generate_dataset(out: str | os.PathLike, identities: int, clips_per_identity: int,
                     frames: int, size: int, seed: int, test_identities: int,
                     progress: Progress | None = None, overwrite: bool = False,
                     workers: int = 1) -> Path:
    """Write the benchmark (see module docstring) atomically; returns `out`.

    progress(done, total) counts frames (per frame with one worker, per identity with more).
    workers > 1 renders identities in parallel processes; the bytes do not depend on it.
    """
    from v2vtool.io.guard import check_replaceable, is_dataset_output

    _check(identities, clips_per_identity, frames, size, test_identities)
    check_seed(seed)
    out = Path(out)
    if out.exists() and not overwrite:
        raise UserError(f"{out}: output exists (use --overwrite to replace it)")
    check_replaceable(out, is_dataset_output("v2v-synth/"), "a dataset written by v2v data synth")
    ids = identity_ids(identities)
    train, test = split_identities(ids, test_identities, seed)
    total, done = identities * clips_per_identity * frames, 0
    manifest = {"format": FORMAT, "generator_version": GENERATOR_VERSION, "seed": seed,
                "size": size, "fps": FPS, "frames": frames,
                "clips_per_identity": clips_per_identity, "train": train, "test": test,
                "identities": {}, "clips": []}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        jobs = [(tmp, seed, idx, ident, "test" if ident in test else "train",
                 clips_per_identity, frames, size) for idx, ident in enumerate(ids)]
        if workers <= 1 or identities == 1:
            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(done, total)
            results = [_write_identity(*job, progress=tick) for job in jobs]
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            results = []
            # workers ignore Ctrl-C and end quietly on terminate (v2vtool.workers); on success
            # the pool is closed and joined, never terminated under a running worker
            pool = ctx.Pool(min(workers, identities), initializer=init_worker)
            try:
                for res in pool.imap(_worker, jobs):  # ordered: manifest order is fixed
                    results.append(res)
                    done += clips_per_identity * frames
                    if progress is not None:
                        progress(done, total)
                pool.close()
            except BaseException:  # Ctrl-C, an error: stop the workers; atomic_dir cleans up
                pool.terminate()
                raise
            finally:
                pool.join()
        for ident, (app, rows) in zip(ids, results):
            manifest["identities"][ident] = app
            manifest["clips"] += rows
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    log.info("wrote %d clips of %d identities to %s", len(manifest["clips"]), identities, out)
    return out


def read_manifest(dataset_dir: str | os.PathLike) -> dict:
    from v2vtool.io.clipdir import check_manifest

    path = Path(dataset_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{path}: not found (not a 'v2v data synth' dataset)") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({' '.join(str(exc).split())[:160]})") \
            from None
    check_manifest(manifest, path)
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    missing = [k for k in ("clips", "train", "test", "identities", "size") if k not in manifest]
    if missing:
        raise UserError(f"{path}: missing {', '.join(map(repr, missing))}")
    if type(manifest["size"]) is not int or not MIN_SIZE <= manifest["size"] <= MAX_SIZE:
        raise UserError(f"{path}: 'size' must be an integer in {MIN_SIZE}..{MAX_SIZE}")
    return manifest


def load_identity(dataset_dir: str | os.PathLike, identity_id: str) -> Identity:
    manifest = read_manifest(dataset_dir)
    if identity_id not in manifest["identities"]:
        known = ", ".join(sorted(manifest["identities"])[:5])
        raise UserError(f"{Path(dataset_dir) / 'manifest.json'}: no identity "
                        f"{identity_id!r} (known: {known}, ...)")
    try:
        return Identity.from_dict(manifest["identities"][identity_id])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{Path(dataset_dir) / 'manifest.json'}: identity {identity_id!r} has "
                        f"no valid appearance ({type(exc).__name__}: {exc})") from None


def _frame_size(size) -> tuple[int, int]:
    """int S or (W, H) -> (W, H), each 16..4096 (the keypoints' pixel frame)."""
    w, h = (size, size) if np.isscalar(size) else (size[0], size[1])
    w, h = int(w), int(h)
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise UserError(f"frame size {w}x{h} is outside 16..4096 pixels")
    return w, h


def render_identity(dataset_dir: str | os.PathLike, identity_id: str,
                    keypoint_frames: Iterable, size) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The TRUE frames of an identity for any motion.

    keypoint_frames: Frames (lists of Person; the main person is used) or Persons, BODY_25 in
    pixel coordinates of `size` (int S for S x S, or (w, h)). Yields (frame (H, W, 3) uint8,
    mask (H, W) uint8 0/255). A frame with nobody gives the empty background.
    """
    w, h = _frame_size(size)
    app = load_identity(dataset_dir, identity_id)
    renderer = Renderer(app, min(w, h), render_background(app, (w, h)))
    for frame in keypoint_frames:
        person = frame if isinstance(frame, Person) else main_person(frame)
        yield renderer.render(person)


def dance_keypoints(dataset_dir: str | os.PathLike, identity_id: str, frames: int,
                    rng: np.random.Generator) -> list[Person]:
    """`identity_id`'s body dancing a fresh procedural dance of any length (drawn from `rng`,
    as the dataset's clips are): one Person per frame, in pixels of the dataset's size."""
    size = int(read_manifest(dataset_dir)["size"])
    app = load_identity(dataset_dir, identity_id)
    people, _ = dance_clip(app, sample_dance(rng, frames), frames, size)
    return people


def render_motion_clip(dataset_dir: str | os.PathLike, identity_id: str,
                       motion_clip: str | os.PathLike, out: str | os.PathLike,
                       overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Clip dir of identity `identity_id` performing the motion of `motion_clip` (exact truth:
    keypoints and pose maps are the motion clip's, frames are rendered for the identity)."""
    from v2vtool.io.guard import check_outputs

    check_outputs([("--out", out)], [("--motion-from", motion_clip), ("--dataset", dataset_dir)])
    src = Clip(motion_clip)
    if not src.has_keypoints:
        raise UserError(f"{src.path}: clip has no keypoints.jsonl to take the motion from")
    size = _frame_size(src.size)
    frames = src.keypoints
    load_identity(dataset_dir, identity_id)  # fail before writing anything
    with ClipWriter(out, "pose", src.fps, overwrite=overwrite) as writer:
        pictures = render_identity(dataset_dir, identity_id, frames, size)
        for i, (frame, (img, mask)) in enumerate(zip(frames, pictures)):
            writer.add(img, frame, render_pose(frame, size), mask)
            if progress is not None:
                progress(i + 1, len(frames))
        extra = {k: src.meta[k] for k in ("views", "yaw") if k in src.meta}
        return writer.close(identity=identity_id, source="v2v data synth --motion-from",
                            motion_from=src.path.name, motion_identity=src.meta.get("identity"),
                            extractor="v2v-synth", extractor_version=GENERATOR_VERSION, **extra)
