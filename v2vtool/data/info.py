"""`v2v data info`: what a dataset folder holds (clip dirs from synth, import or extract).

`dataset_info(path)` accepts one clip dir or a folder with clip dirs below it (up to 3 levels;
a `manifest.json` from `v2v data synth` / `v2v data import` adds identities and the split) and
returns a JSON-able dict: per-clip rows and a summary (identities, clips, frames, sizes, kinds,
split, detection rates, views).

It reports what is on disk: frames counted and sized from the files (`io.clipdir.verify_clip`),
clips found, not listed. Where meta.json or the manifest disagrees, the clip row's "problems"
and the result's "problems" say how (info is a report: it never refuses a dataset it can
describe; `train` refuses the clips whose problems are errors).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from v2vtool.errors import UserError
from v2vtool.io.clipdir import Clip, is_clip_dir, read_dataset_manifest, verify_clip

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
    clips, problems = [], []
    for d in dirs:
        clip = Clip(d)
        check = verify_clip(d)
        meta = clip.meta
        ident = meta.get("identity") or (d.parent.name if d != root else d.name)
        views = Counter(meta.get("views", []))
        clips.append({
            "path": str(d.relative_to(root)) if d != root else ".",
            "identity": ident, "kind": clip.kind, "frames": check.frames,
            "meta_frames": check.meta_frames, "width": check.size[0], "height": check.size[1],
            "fps": clip.fps, "split": split_of.get(ident, meta.get("split")),
            "detection_rate": meta.get("detection_rate"),
            "views": dict(sorted(views.items())),
            "problems": check.errors + check.warnings,
        })
        problems += check.errors + check.warnings
    listed = _listed_clips(root, manifest, dirs)
    if listed is not None and listed[1]:
        problems.insert(0, f"{root / 'manifest.json'}: lists {listed[0]} clips, "
                           f"{listed[0] - len(listed[1])} of them on disk (missing: "
                           f"{', '.join(listed[1][:3])}{', ...' if len(listed[1]) > 3 else ''})")
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
    detected = sum(round(c["detection_rate"] * c["meta_frames"]) for c in clips
                   if c["detection_rate"] is not None)  # rates are of meta.json's frames
    with_kp = sum(c["meta_frames"] for c in clips if c["detection_rate"] is not None)
    summary = {
        "identities": len(identities), "clips": len(clips),
        "manifest_clips": listed[0] if listed is not None else None,
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
            "problems": problems, "clips": clips}


def _listed_clips(root: Path, manifest: dict | None, found: list[Path]
                  ) -> tuple[int, list[str]] | None:
    """(clips the manifest lists, those of them not found on disk), or None without a list."""
    if not manifest or "clips" not in manifest:
        return None
    found_set = {d.resolve() for d in found}
    paths = [c["path"] for c in manifest["clips"]]
    return len(paths), [p for p in paths if (root / p).resolve() not in found_set]
