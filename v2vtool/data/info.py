"""`v2v data info`: what a dataset folder holds (clip dirs from synth, import or extract).

`dataset_info(path)` accepts one clip dir or a folder with clip dirs below it (up to 3 levels;
a `manifest.json` from `v2v data synth` / `v2v data import` adds identities and the split) and
returns a JSON-able dict: per-clip rows and a summary (identities, clips, frames, sizes, kinds,
split, detection rates, views).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir, read_dataset_manifest

MAX_DEPTH = 3


def find_clip_dirs(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    if is_clip_dir(root):
        return [root]
    if depth == 0:
        return []
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += find_clip_dirs(sub, depth - 1)
    return found


def dataset_info(path: str | os.PathLike) -> dict:
    root = Path(path)
    if not root.exists():
        raise UserError(f"{root}: not found")
    if not root.is_dir():
        raise UserError(f"{root}: not a directory (expected a clip dir or a dataset folder)")
    manifest = read_dataset_manifest(root)
    dirs = find_clip_dirs(root)
    if not dirs:
        raise UserError(f"{root}: no clip directories (meta.json + frames/) found")
    split_of: dict[str, str] = {}
    if manifest:
        for key in ("train", "test"):
            for ident in manifest.get(key, []):
                split_of[ident] = key
    clips = []
    for d in dirs:
        clip = Clip(d)
        meta = clip.meta
        ident = meta.get("identity") or (d.parent.name if d != root else d.name)
        views = Counter(meta.get("views", []))
        clips.append({
            "path": str(d.relative_to(root)) if d != root else ".",
            "identity": ident, "kind": clip.kind, "frames": len(clip),
            "width": clip.size[0], "height": clip.size[1], "fps": clip.fps,
            "split": split_of.get(ident, meta.get("split")),
            "detection_rate": meta.get("detection_rate"),
            "views": dict(sorted(views.items())),
        })
    rates = [c["detection_rate"] for c in clips if c["detection_rate"] is not None]
    frames_by_kind = Counter()
    for c in clips:
        frames_by_kind[c["kind"]] += c["frames"]
    views = Counter()
    for c in clips:
        views.update(c["views"])
    identities = sorted({c["identity"] for c in clips})
    split = None
    if split_of or any(c["split"] for c in clips):
        split = {s: sorted({c["identity"] for c in clips if c["split"] == s})
                 for s in ("train", "test")}
    detected = sum(round(c["detection_rate"] * c["frames"]) for c in clips
                   if c["detection_rate"] is not None)
    with_kp = sum(c["frames"] for c in clips if c["detection_rate"] is not None)
    summary = {
        "identities": len(identities), "clips": len(clips),
        "frames": sum(c["frames"] for c in clips),
        "sizes": sorted({f"{c['width']}x{c['height']}" for c in clips}),
        "kinds": dict(sorted(frames_by_kind.items())),
        "split": split,
        "detection_rate": None if not rates else {
            "overall": detected / with_kp if with_kp else None,
            "min_clip": min(rates), "max_clip": max(rates)},
        "views": dict(sorted(views.items())) or None,
    }
    return {"path": str(root), "format": (manifest or {}).get("format"), "summary": summary,
            "clips": clips}
