"""Train the benchmark keypoint network on TRUE procedural frames (never on generator outputs).

    python -m v2vtool.metrics.train_keynet --out weights/keypoints [--steps 3000] [--seed 1000]

Data: `generate_dataset` sets with their own seeds (different identities from any benchmark set
generated with another seed), at 64 px and 128 px (resized to the net's input). Augmentation
(blur, noise, brightness/contrast) makes it tolerant of the softer look of generated frames.
The floor (its own error on true frames of unseen identities, at the pose-error reference
height) is measured after training and stored in config.json.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from v2vtool.io.clipdir import Clip
from v2vtool.io.keypoints import main_person
from v2vtool.metrics.keypoint_net import (KeyNet, KeyNetConfig, KeyNetEstimator, preprocess,
                                          save_keynet, target_heatmaps)
from v2vtool.metrics.pose import REFERENCE_HEIGHT, pose_error

log = logging.getLogger(__name__)


def load_true_frames(root: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """All frames + main-person BODY_25 of every clip of a synth set."""
    frames, poses = [], []
    for c in sorted(root.glob("id*/clip*")):
        clip = Clip(c)
        for i in range(len(clip)):
            p = main_person(clip.keypoints[i])
            if p is not None:
                frames.append(clip.frame(i))
                poses.append(np.asarray(p.pose, np.float32))
    return frames, poses


def make_sets(tmp: Path, seed: int, identities: int, frames: int
              ) -> tuple[list, list, list, list]:
    from v2vtool.data.synth import generate_dataset

    out_f, out_p, ev_f, ev_p = [], [], [], []
    for size, n_id, s, dest_f, dest_p in ((64, identities, seed, out_f, out_p),
                                          (128, max(2, identities // 3), seed + 1, out_f, out_p),
                                          (64, 8, seed + 2, ev_f, ev_p),
                                          (128, 4, seed + 3, ev_f, ev_p)):
        d = generate_dataset(tmp / f"s{s}_{size}", identities=n_id, clips_per_identity=2,
                             frames=frames, size=size, seed=s, test_identities=1)
        f, p = load_true_frames(d)
        dest_f += f
        dest_p += p
    return out_f, out_p, ev_f, ev_p


def augment(img: np.ndarray, pose: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Random zoom/shift (the benchmark's person-centred crops frame dancers differently),
    blur, noise, brightness/contrast. Returns the image and its transformed keypoints."""
    n = img.shape[0]
    s = float(rng.uniform(0.7, 1.3))
    tx, ty = rng.uniform(-0.12, 0.12, 2) * n
    c = (n - 1) / 2
    m = np.array([[s, 0, c - s * c + tx], [0, s, c - s * c + ty]], np.float32)
    x = cv2.warpAffine(img, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pose = pose.copy()
    pose[:, :2] = pose[:, :2] * s + m[:, 2]
    x = x.astype(np.float32)
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.3, 1.2)))
    x = (x - 128) * rng.uniform(0.85, 1.15) + 128 + rng.uniform(-15, 15)
    if rng.random() < 0.5:
        x = x + rng.normal(0, rng.uniform(1, 8), x.shape)
    return np.clip(x, 0, 255).astype(np.uint8), pose


def floor_error(est: KeyNetEstimator, frames: list, poses: list) -> dict:
    """The estimator's own pose error on true frames (grouped by frame height)."""
    out = {}
    for h in sorted({f.shape[0] for f in frames}):
        idx = [i for i, f in enumerate(frames) if f.shape[0] == h]
        preds = []
        for s in range(0, len(idx), 64):
            preds += est.batch([frames[i] for i in idx[s:s + 64]])
        r = pose_error(preds, [poses[i] for i in idx], frame_height=h)
        out[f"{h}px"] = {"pose_error": r.error, "missing_rate": r.missing_rate,
                         "frames": r.frames, "reference_height": REFERENCE_HEIGHT}
    return out


def train_keynet(out: str | Path, steps: int = 3000, seed: int = 1000, identities: int = 48,
                 frames: int = 24, batch_size: int = 32, lr: float = 2e-3) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a tiny net: one thread avoids oversubscription on shared CPUs
    rng = np.random.default_rng(seed)
    cfg = KeyNetConfig()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tr_f, tr_p, ev_f, ev_p = make_sets(Path(tmp), seed, identities, frames)
    log.info("data: %d train / %d eval frames (%.0fs)", len(tr_f), len(ev_f), time.time() - t0)
    net = KeyNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    net.train()
    for step in range(steps):
        idx = rng.integers(0, len(tr_f), batch_size)
        xs, ys = [], []
        for i in idx:
            img, pose = augment(tr_f[i], tr_p[i], rng)
            xs.append(preprocess(img, cfg))
            ys.append(target_heatmaps(pose, img.shape[0], cfg))
        x, y = torch.stack(xs), torch.from_numpy(np.stack(ys))
        loss = ((net(x) - y) ** 2).mean() * 100
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps - 1:
            log.info("step %d loss %.4f (%.0fs)", step, loss.item(), time.time() - t0)
    net.eval()
    est = KeyNetEstimator(net, cfg)
    floor = floor_error(est, ev_f, ev_p)
    info = {"trained_on": f"v2v data synth true frames, seeds {seed}..{seed + 1} "
                          f"({len(tr_f)} frames, 64 and 128 px)",
            "steps": steps, "seed": seed, "train_seconds": round(time.time() - t0, 1),
            "parameters": sum(p.numel() for p in net.parameters()),
            "floor_on_true_frames": floor,
            "floor_data": f"unseen identities, seeds {seed + 2}, {seed + 3}"}
    save_keynet(out, net, cfg, info)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="weights/keypoints")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--identities", type=int, default=48)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    info = train_keynet(a.out, steps=a.steps, seed=a.seed, identities=a.identities)
    print(info)


if __name__ == "__main__":
    main()
