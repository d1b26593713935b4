"""Few-shot training data over clip directories.

One sample = one clip, K example frames from the clip's first `example_window` frames and a
window of T consecutive target frames (stride 1..frame_stride) elsewhere in it, all mapped
through one augmentation `View` (person-centred crop, flip) and one colour jitter:

    {"examples": (K, 3, H, W) [-1, 1], "example_semantics": (K, C, H, W) [0, 1],
     "images": (T, 3, H, W) [-1, 1], "semantics": (T, C, H, W) [0, 1],
     "flow": (T, 2, H, W) px (t -> t-1, zero at t = 0), "flow_conf": (T, 1, H, W) {0, 1},
     "face_boxes": (T, 4) px (pose with keypoints; for the face discriminator), "clip": () long,
     "example_keypoints": (K, J, 3), "keypoints": (T, J, 3) px in the sample's frame (generator
     flow_prior=keypoints: J = 25 BODY_25 joints for pose, 68 landmarks for face),
     "example_masks": (K, 1, H, W) {0, 1} the examples' person (`data/plate.person_mask`: the
     segmentation + skeleton strokes, else the keypoints' body), "plate": (4, H, W) the scene behind them (RGB in [-1, 1] + 1 where an
     example shows it, 0 where inpainted; `data/plate.py`) (both with the keypoint prior)}

Camera look (`data/realism.py`, training only): with probability data.backdrop a sample's
background is replaced by a crop of a redistributable photograph (procedural clips), and
with probability data.camera its frames get one camera's blur / noise / JPEG; one draw per
sample, the same for its examples and targets.

Semantic maps of keypoint kinds (pose / face) are rendered from keypoints.jsonl at the training
resolution with the kind's renderer (`v2vtool.semantics.kinds`); other maps (and keypoint clips
without keypoints) are read from semantics/ and resized (nearest).

A sample is a pure function of its key `(clip, K, T, seed)`. `FewShotBatchSampler` emits the
keys of training step s (K and T fixed per batch, T from the progressive schedule, clips from a
seeded per-epoch permutation sharded over DDP ranks), so resuming at step s replays exactly
the data an uninterrupted run would have seen, with any number of DataLoader workers.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from v2vtool.config import DataConfig, GeneratorConfig
from v2vtool.data.augment import ColorJitter, View, make_view, to_tensor_image
from v2vtool.data.flow import FlowEstimator, sequence_flow
from v2vtool.data.plate import background_plate, person_mask
from v2vtool.data.realism import Backdrop, Camera, composite
from v2vtool.errors import UserError, os_error_message
from v2vtool.io.clipdir import Clip, is_clip_dir, read_dataset_manifest
from v2vtool.semantics.kinds import get_kind

log = logging.getLogger(__name__)

# batch keys that are FewShotGenerator.forward's arguments of the same name
GENERATOR_INPUTS = ("examples", "example_semantics", "semantics", "example_keypoints", "keypoints",
                    "example_masks", "plate")


def generator_inputs(batch: dict, device: torch.device | str | None = None) -> dict:
    """The generator's inputs from a batch (moved to `device`): G(**generator_inputs(batch))."""
    return {k: (batch[k] if device is None else batch[k].to(device))
            for k in GENERATOR_INPUTS if k in batch}


class SampleKey(NamedTuple):
    clip: int
    k: int
    t: int
    seed: int


@dataclass(frozen=True)
class ClipEntry:
    path: Path
    kind: str
    length: int
    identity: str | None = None
    source: int = 0  # which --data folder it came from (data.mix)


def _walk_clips(root: Path) -> list[Path]:
    """Clip dirs at or below root; a symlink to a clip dir counts (a folder of links is how a
    split of clips is usually made), symlinked folders are not descended into (no cycles)."""
    if is_clip_dir(root):
        return [root]
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        keep = []
        for d in sorted(d for d in dirnames if not d.startswith(".")):
            if is_clip_dir(Path(dirpath) / d):  # a clip dir's subfolders are its frames
                found.append(Path(dirpath) / d)
            else:
                keep.append(d)
        dirnames[:] = keep
    return sorted(found)


def find_clips(data_dirs: Sequence[str | os.PathLike], split: str = "train") -> list[ClipEntry]:
    """Clip dirs under `data_dirs` (a clip dir, or a folder of them, searched recursively).

    Where a folder has a manifest.json listing clips with a "split", only clips of `split`
    are returned (held-out identities are never trained on); without a manifest every clip is
    a training clip and there is no held-out set (split != "train" gives nothing).
    """
    entries: list[ClipEntry] = []
    for source, d in enumerate(data_dirs):
        root = Path(d)
        if not root.exists():
            raise UserError(f"{root}: data directory not found")
        if not root.is_dir():
            raise UserError(f"{root}: not a directory (expected clip dirs from `v2v extract`, "
                            "`v2v data synth` or `v2v data import`)")
        manifest = read_dataset_manifest(root)
        if manifest is not None and "clips" in manifest:
            for c in manifest["clips"]:
                if c.get("split", "train") != split:
                    continue
                path = root / c["path"]
                if not is_clip_dir(path):
                    raise UserError(f"{root / 'manifest.json'}: listed clip {c['path']} is missing")
                entries.append(_entry(path, c.get("identity"), source))
        elif split == "train":
            entries.extend(_entry(p, None, source) for p in _walk_clips(root))
    seen: set[Path] = set()
    unique = []
    for e in entries:  # the same clip reached through two --data arguments counts once
        key = e.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


def _entry(path: Path, identity, source: int = 0) -> ClipEntry:
    clip = Clip(path)
    ident = identity if identity is not None else clip.meta.get("identity")
    return ClipEntry(path, clip.kind, len(clip), None if ident is None else str(ident), source)


def mix_groups(entries: list[ClipEntry], mix: Sequence[float], data_dirs) -> list[list[int]]:
    """data.mix weights -> the clip indices of each weighted --data folder (UserError when the
    weights do not match the folders or a weighted folder has no training clip)."""
    dirs = list(data_dirs)
    if len(mix) != len(dirs):
        raise UserError(f"data.mix has {len(mix)} weights for {len(dirs)} --data folders "
                        f"({', '.join(str(d) for d in dirs)})")
    groups = [[i for i, e in enumerate(entries) if e.source == g] for g in range(len(dirs))]
    for g, (w, d) in enumerate(zip(mix, dirs)):
        if w > 0 and not groups[g]:
            raise UserError(f"{d}: data.mix gives it weight {w:g} but it has no training clip")
    return groups


def check_clips(entries: list[ClipEntry], data_dirs, kind: str, preset_name: str,
                min_frames: int) -> None:
    """Guards: no clips, clip kind vs the model's kind, clips shorter than the target window."""
    where = ", ".join(str(d) for d in data_dirs)
    if not entries:
        raise UserError(f"{where}: no training clip directories found (expected folders with "
                        "meta.json + frames/ from `v2v extract` / `v2v data synth`)")
    kinds = sorted({e.kind for e in entries})
    if kinds != [kind]:
        bad = next(e for e in entries if e.kind != kind)
        raise UserError(f"{bad.path}: clip kind {bad.kind!r} does not match preset "
                        f"{preset_name!r}, which trains kind {kind!r} (set generator.kind or "
                        "pick a matching preset)")
    short = [e for e in entries if e.length < min_frames]
    if short:
        raise UserError(f"{short[0].path}: clip has {short[0].length} frames, shorter than the "
                        f"training window of {min_frames} frames ({len(short)} such clips; "
                        "lower train.seq_len_max or drop them)")


def item_seed(seed: int, step: int, rank: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank, index]).generate_state(1)[0])


class FewShotDataset(Dataset):
    """Map-style dataset indexed by `SampleKey` (see the module docstring for the sample)."""

    def __init__(self, entries: list[ClipEntry], gen_cfg: GeneratorConfig, data_cfg: DataConfig,
                 augment: bool = True, with_flow: bool = True):
        self.entries = entries
        self.kind = gen_cfg.kind
        self.spec = get_kind(gen_cfg.kind)
        self.n_classes = gen_cfg.n_classes
        self.size = gen_cfg.size
        self.cfg = data_cfg
        self.augment = augment
        self.with_flow = with_flow
        self.with_keypoints = gen_cfg.keypoint_prior
        self.with_warp = gen_cfg.keypoint_prior and gen_cfg.warp_ref  # masks + plate
        self._clips: dict[int, Clip] = {}
        self._flow: FlowEstimator | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def clip(self, i: int) -> Clip:
        if i not in self._clips:
            self._clips[i] = Clip(self.entries[i].path)
        return self._clips[i]

    def indices(self, key: SampleKey) -> tuple[list[int], list[int], bool, ColorJitter]:
        """Example frame ids, target frame ids, flip, jitter of a key (all from its seed)."""
        rng = np.random.default_rng(key.seed)
        n = self.entries[key.clip].length
        if key.t > n:
            raise UserError(f"{self.entries[key.clip].path}: {n} frames < window {key.t}")
        max_stride = max(1, min(self.cfg.frame_stride, (n - 1) // max(1, key.t - 1)))
        stride = int(rng.integers(1, max_stride + 1))
        span = (key.t - 1) * stride + 1
        start = int(rng.integers(0, n - span + 1))
        targets = [start + i * stride for i in range(key.t)]
        window = max(1, min(self.cfg.example_window, n))
        examples = rng.choice(window, size=key.k, replace=key.k > window).tolist()
        flip = bool(self.augment and self.cfg.flip and rng.random() < 0.5)
        jitter = ColorJitter.sample(rng, self.cfg.color_jitter if self.augment else 0.0)
        return [int(e) for e in examples], targets, flip, jitter

    def _semantic(self, clip: Clip, i: int, view: View) -> torch.Tensor:
        if self.spec.keypoints and clip.has_keypoints:
            arr = self.spec.render(view.keypoints(clip.keypoints[i]), self.size)
        else:
            arr = view.label(clip.semantic(i))
        return self.spec.to_tensor(arr, self.n_classes)

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        # Per-sample tensors are small: torch's intra-op thread pool only adds overhead here
        # (measured 190 ms -> 17 ms per K=2, T=8 sample at 64 px on a busy 2-core machine when
        # loading in the main process). DataLoader workers already run single-threaded.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._load(SampleKey(*key))
        except OSError as exc:  # crosses DataLoader workers as a one-line UserError
            raise UserError(os_error_message(exc)) from None
        finally:
            torch.set_num_threads(threads)

    def _look(self, key: SampleKey, clip: Clip, view: View):
        """This sample's camera look (module docstring): frame (H, W, 3), source index,
        position in the sample -> frame; None when it keeps the clip's own look."""
        if not self.augment or (self.cfg.backdrop <= 0 and self.cfg.camera <= 0):
            return None
        rng = np.random.default_rng([key.seed, 1])  # apart from `indices`' stream
        backdrop = camera = None
        # procedural clips only: their masks are exact and their painted background is what
        # the photo replaces; real footage keeps its own background
        synthetic = clip.meta.get("extractor") == "v2v-synth" and clip.mask(0) is not None
        if rng.random() < self.cfg.backdrop and synthetic:
            backdrop = Backdrop.sample(rng).image(self.size)
        if rng.random() < self.cfg.camera:
            camera = Camera.sample(rng)
        if backdrop is None and camera is None:
            return None

        def look(frame: np.ndarray, i: int, n: int) -> np.ndarray:
            if backdrop is not None:
                frame = composite(frame, view.label(clip.mask(i)), backdrop)
            return camera(frame, n) if camera is not None else frame
        return look

    def _load(self, key: SampleKey) -> dict[str, torch.Tensor]:
        clip = self.clip(key.clip)
        examples, targets, flip, jitter = self.indices(key)
        use_crop = self.cfg.crop and self.spec.body and clip.has_keypoints
        kp = [clip.keypoints[i] for i in examples + targets] if use_crop else None
        view = make_view(clip.size, self.size, kp, use_crop, self.cfg.crop_scale, flip)
        ex_rgb = [view.image(clip.frame(i)) for i in examples]
        tg_rgb = [view.image(clip.frame(i)) for i in targets]
        look = self._look(key, clip, view)
        if look is not None:
            ex_rgb = [look(f, i, n) for n, (f, i) in enumerate(zip(ex_rgb, examples))]
            tg_rgb = [look(f, i, len(examples) + n) for n, (f, i) in enumerate(zip(tg_rgb, targets))]
        sample = {
            "examples": jitter(torch.stack([to_tensor_image(f) for f in ex_rgb])),
            "example_semantics": torch.stack([self._semantic(clip, i, view) for i in examples]),
            "images": jitter(torch.stack([to_tensor_image(f) for f in tg_rgb])),
            "semantics": torch.stack([self._semantic(clip, i, view) for i in targets]),
            "clip": torch.tensor(key.clip),
        }
        if self.with_keypoints:
            if not clip.has_keypoints:
                raise UserError(f"{clip.path}: no keypoints.jsonl; generator.flow_prior=keypoints "
                                "needs keypoints (or set generator.flow_prior=none)")
            kp = lambda i: torch.from_numpy(self.spec.prior_keypoints(  # noqa: E731
                view.keypoints(clip.keypoints[i])))
            sample["example_keypoints"] = torch.stack([kp(i) for i in examples])
            sample["keypoints"] = torch.stack([kp(i) for i in targets])
            if self.with_warp:
                sample.update(self._scene(clip, view, examples, ex_rgb,
                                          sample["example_keypoints"].numpy(), jitter))
        if self.spec.body and clip.has_keypoints:
            sample["face_boxes"] = face_boxes([view.keypoints(clip.keypoints[i]) for i in targets])
        if self.with_flow:
            if self._flow is None:
                self._flow = FlowEstimator()
            sample["flow"], sample["flow_conf"] = sequence_flow(tg_rgb, self._flow)
        return sample


    def _scene(self, clip: Clip, view: View, examples: list[int], ex_rgb: list[np.ndarray],
               example_keypoints: np.ndarray, jitter: ColorJitter) -> dict[str, torch.Tensor]:
        """The examples' person masks and the background plate behind them (one crop: the
        examples' pixels are the targets' pixels)."""
        masks = [clip.mask(i) for i in examples]
        people = [person_mask(None if m is None else view.label(m), kp, self.size, self.kind)
                  for m, kp in zip(masks, example_keypoints)]
        plate, known = background_plate(ex_rgb, people)
        return {"example_masks": torch.from_numpy(np.stack(people)[:, None].astype(np.float32)),
                "plate": torch.cat([jitter(to_tensor_image(plate)),
                                    torch.from_numpy(known[None].astype(np.float32))])}


def face_boxes(frames: list) -> torch.Tensor:
    """(T, 4) face boxes (x0, y0, x1, y1) of the tallest person per frame (zeros: none)."""
    from v2vtool.data.face_boxes import face_boxes_from_pose

    poses = np.zeros((len(frames), 25, 3), np.float32)
    for t, frame in enumerate(frames):
        if frame:
            poses[t] = max(frame, key=lambda p: np.ptp(p.pose[p.pose[:, 2] > 0, 1])
                           if (p.pose[:, 2] > 0).sum() > 1 else 0.0).pose
    return face_boxes_from_pose(poses)


class FewShotBatchSampler(Sampler):
    """Infinite stream of per-step key batches for one rank, starting at `start_step`.

    Step s: K ~ U{1..k_max} (one K per global batch), T = seq_len(s), and the global batch's
    clips are positions s*B*P .. (s+1)*B*P-1 of a seeded per-epoch permutation of the clips;
    rank r takes its contiguous B of them. Everything derives from (seed, s): no hidden state.
    """

    def __init__(self, n_clips: int, batch_size: int, k_max: int, seq_len: Callable[[int], int],
                 seed: int, rank: int = 0, world_size: int = 1, start_step: int = 0,
                 end_step: int | None = None, groups: list[list[int]] | None = None,
                 weights: Sequence[float] = ()):
        self.n, self.b, self.k_max, self.seq_len = n_clips, batch_size, k_max, seq_len
        self.seed, self.rank, self.world = seed, rank, world_size
        self.start, self.end = start_step, end_step
        # data.mix: each slot first draws its --data folder by weight, then takes that folder's
        # next clip; without it all clips form one group
        self.groups = groups if groups and weights else [list(range(n_clips))]
        w = np.asarray(weights if groups and weights else [1.0], np.float64)
        self.weights = w / w.sum()
        self._perm: dict[tuple[int, int], np.ndarray] = {}

    def _clip_at(self, pos: int, group: int = 0) -> int:
        members = self.groups[group]
        epoch, i = divmod(pos, len(members))
        if (group, epoch) not in self._perm:
            salt = [1] if len(self.groups) == 1 else [1, group]  # one group: as before mixing
            self._perm = {(group, epoch): np.random.default_rng(
                [self.seed, epoch, *salt]).permutation(len(members))}
        return members[int(self._perm[(group, epoch)][i])]

    def keys(self, step: int) -> list[SampleKey]:
        rng = np.random.default_rng([self.seed, step, 2])
        k = int(rng.integers(1, self.k_max + 1))
        t = int(self.seq_len(step))
        base = step * self.b * self.world + self.rank * self.b
        if len(self.groups) > 1:  # the global batch's folders, drawn the same on every rank
            folders = np.random.default_rng([self.seed, step, 3]).choice(
                len(self.groups), size=self.b * self.world, p=self.weights)
            folders = folders[self.rank * self.b:(self.rank + 1) * self.b]
        else:
            folders = np.zeros(self.b, int)
        return [SampleKey(self._clip_at(base + j, int(folders[j])), k, t,
                          item_seed(self.seed, step, self.rank, j)) for j in range(self.b)]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        step = self.start
        while self.end is None or step < self.end:
            yield self.keys(step)
            step += 1

    def __len__(self) -> int:
        if self.end is None:
            raise TypeError("infinite sampler")
        return max(0, self.end - self.start)


def validation_keys(entries: list[ClipEntry], n: int, t: int, seed: int) -> list[SampleKey]:
    """Fixed held-out samples: K = 1, T = t, up to n clips spread over the held-out set."""
    if not entries:
        return []
    picks = np.linspace(0, len(entries) - 1, num=min(n, len(entries))).round().astype(int)
    return [SampleKey(int(c), 1, min(t, entries[c].length), item_seed(seed, 2**31 - 1, 0, j))
            for j, c in enumerate(dict.fromkeys(picks.tolist()))]
