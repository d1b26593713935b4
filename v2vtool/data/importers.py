"""Importers: published dataset layouts -> clip directories (`v2v data import`).

    SRC/images/<seq>/*.jpg|png           frames (any of jpg, jpeg, png, bmp)
    SRC/poses-openpose/<seq>/*.json      --format openpose: OpenPose per-frame JSON (BODY_25,
                                         face / hands when present) -> kind "pose"
    SRC/landmarks-dlib68/<seq>/*.json    --format dlib68: a JSON list of 68 [x, y] -> "face"
    SRC/seg_maps/<seq>/*.png             --format labelmap: 8-bit class-id PNGs -> "segmentation"

Frames pair with annotations by name: `frame000100.jpg` <-> `frame000100.json` or
`frame000100_keypoints.json` (OpenPose's own naming); Cityscapes' `_leftImg8bit` /
`_gtFine_labelIds` suffixes pair too. Images and annotations directly under `images/` and the
annotation folder (no <seq> level) form one sequence named after SRC.

Problems (mismatched counts, missing pairs, frames without a person / face, unreadable or
malformed files, size changes) are collected per file and the frame is skipped; the import
fails (UserError, nothing written) only when no usable frame remains. Folders are read in
natural name order (`frame2` before `frame10`); indices missing from a sequence's numbered
image names are one warning line and recorded in its meta.json ("missing_frames").
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_dir
from v2vtool.io.clipdir import ClipWriter
from v2vtool.io.keypoints import drop_implausible, read_dlib68, read_openpose_json
from v2vtool.io.sequence import list_sequence, missing_record, natural_sorted, warn_missing
from v2vtool.semantics.render import render_face, render_pose

log = logging.getLogger(__name__)
IMPORT_FORMAT = "v2v-import/1"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
# format -> (annotation folder, annotation extension, clip kind)
FORMATS = {
    "openpose": ("poses-openpose", ".json", "pose"),
    "dlib68": ("landmarks-dlib68", ".json", "face"),
    "labelmap": ("seg_maps", ".png", "segmentation"),
}
_SUFFIXES = ("_keypoints", "_leftImg8bit", "_gtFine_labelIds", "_gtFine_labelTrainIds",
             "_labelIds", "_landmarks", "_pose", "_seg")
Progress = Callable[[int, int], None]


@dataclass
class Problem:
    file: str
    message: str


@dataclass
class ImportReport:
    out: Path
    format: str
    clips: list[dict] = field(default_factory=list)  # name, path, frames, skipped
    problems: list[Problem] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(c["frames"] for c in self.clips)

    @property
    def implausible_keypoints(self) -> int:
        return sum(c.get("implausible_keypoints", 0) for c in self.clips)

    def to_dict(self) -> dict:
        return {"out": str(self.out), "format": self.format, "clips": self.clips,
                "frames": self.frames, "implausible_keypoints": self.implausible_keypoints,
                "problems": [asdict(p) for p in self.problems]}


def pair_key(stem: str) -> str:
    """Frame name without the suffixes datasets add to annotation / image names."""
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if stem.endswith(suf) and len(stem) > len(suf):
                stem, changed = stem[: -len(suf)], True
    return stem


def _files(folder: Path, exts) -> list[Path]:
    return list(list_sequence(folder, exts).files)


def find_sequences(src: Path, fmt: str) -> list[tuple[str, Path, Path]]:
    """[(name, image folder, annotation folder (may not exist))] in name order."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if not src.is_dir():
        raise UserError(f"{src}: not a directory")
    images, anno = src / "images", src / FORMATS[fmt][0]
    if not images.is_dir():
        raise UserError(f"{src}: no images/ folder (expected {src}/images/<seq>/*.jpg)")
    seqs = []
    if _files(images, IMAGE_EXTS):
        seqs.append((src.name, images, anno))
    for sub in natural_sorted(p for p in images.iterdir() if p.is_dir()):
        seqs.append((sub.name, sub, anno / sub.name))
    if not seqs:
        raise UserError(f"{images}: no image sequences (expected images/<seq>/*.jpg)")
    return seqs


def _read_image(path: Path) -> np.ndarray:
    from v2vtool.io.image import read_rgb

    try:
        return read_rgb(path)
    except UserError as exc:  # the caller names the file
        raise UserError(str(exc).replace(f"{path}: ", "", 1)) from None


def _read_labelmap(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise UserError(f"not a class-id PNG (mode {im.mode}; expected 8-bit ids)")
            arr = np.asarray(im)
    except OSError as exc:
        raise UserError(f"unreadable label map ({exc})") from None
    if arr.max(initial=0) > 255:
        raise UserError(f"class id {int(arr.max())} does not fit 8 bits")
    return arr.astype(np.uint8)


def _annotation(fmt: str, path: Path, size: tuple[int, int], implausible: list[int]):
    """-> (keypoints Frame or None, semantic map). Raises UserError with a short message.
    Points more than a frame size outside the image count as missing (added to
    `implausible[0]`)."""
    if fmt == "labelmap":
        lab = _read_labelmap(path)
        if (lab.shape[1], lab.shape[0]) != size:
            raise UserError(f"label map is {lab.shape[1]}x{lab.shape[0]}, image is "
                            f"{size[0]}x{size[1]}")
        return None, lab
    try:
        frame = read_openpose_json(path) if fmt == "openpose" else read_dlib68(path)
    except UserError as exc:
        raise UserError(str(exc).replace(f"{path}: ", "")) from None
    had_points = bool(frame)
    frame, dropped = drop_implausible(frame, size)
    implausible[0] += dropped
    if had_points and not frame:
        raise UserError(f"all {dropped} keypoints lie more than one frame size outside the "
                        f"{size[0]}x{size[1]} image (treated as missing)")
    if not frame:
        raise UserError("no person in frame" if fmt == "openpose" else "no face in frame")
    if fmt == "openpose":
        if not any(p.pose[:, 2].any() or p.face[:, 2].any() for p in frame):
            raise UserError("no keypoint with confidence > 0")
        return frame, render_pose(frame, size)
    return frame, render_face(frame, size)


def _import_sequence(fmt, name, img_dir, anno_dir, dest, fps, report) -> None:
    ext, kind = FORMATS[fmt][1], FORMATS[fmt][2]
    problems = report.problems
    if not anno_dir.is_dir():
        problems.append(Problem(str(img_dir), f"no annotation folder {anno_dir}"))
        return
    seq = list_sequence(img_dir, IMAGE_EXTS)
    images, annos = list(seq.files), _files(anno_dir, (ext,))
    warn_missing(str(img_dir), seq.missing, "recorded in meta.json (frames are not invented)")
    if len(images) != len(annos):
        problems.append(Problem(str(anno_dir), f"{len(images)} images but {len(annos)} "
                                f"annotation files"))
    by_key: dict[str, Path] = {}
    for a in annos:
        by_key.setdefault(pair_key(a.stem), a)
    used, size, skipped, implausible = set(), None, 0, [0]
    writer = ClipWriter(dest, kind, fps)
    try:
        for img_path in images:
            anno = by_key.get(pair_key(img_path.stem))
            if anno is None:
                problems.append(Problem(str(img_path), "no matching annotation file"))
                skipped += 1
                continue
            used.add(anno)
            try:
                rgb = _read_image(img_path)
            except UserError as exc:
                problems.append(Problem(str(img_path), str(exc)))
                skipped += 1
                continue
            this = (rgb.shape[1], rgb.shape[0])
            if size is not None and this != size:
                problems.append(Problem(str(img_path), f"size {this[0]}x{this[1]} differs "
                                        f"from the sequence's {size[0]}x{size[1]}"))
                skipped += 1
                continue
            try:
                keypoints, semantic = _annotation(fmt, anno, this, implausible)
            except UserError as exc:
                problems.append(Problem(str(anno), str(exc)))
                skipped += 1
                continue
            size = this
            writer.add(rgb, keypoints, semantic)
        for a in annos:
            if a not in used:
                problems.append(Problem(str(a), "no matching image"))
        if writer.count == 0:
            writer.abort()
            problems.append(Problem(str(img_dir), "no usable frames; sequence skipped"))
            return
        extra = {"missing_frames": missing_record(seq.missing)} if seq.missing else {}
        writer.close(source=str(img_dir.resolve()), extractor=f"import-{fmt}",
                     importer=fmt, identity=name, frames_skipped=skipped,
                     implausible_keypoints=implausible[0], **extra)
    except BaseException:
        writer.abort()
        raise
    report.clips.append({"name": name, "path": dest.name, "frames": writer.count,
                         "skipped": skipped, "kind": kind, "width": size[0],
                         "height": size[1], "implausible_keypoints": implausible[0]})


def import_dataset(src: str | os.PathLike, out: str | os.PathLike, fmt: str,
                   fps: float = 30.0, overwrite: bool = False,
                   progress: Progress | None = None) -> ImportReport:
    """Convert SRC (layout in the module docstring) into clip dirs OUT/<seq>/ + manifest.json.

    Raises UserError when no usable frame remains (then nothing is written).
    """
    from v2vtool.config_check import check_number
    from v2vtool.io.guard import check_outputs, check_replaceable, is_dataset_output

    src, out = Path(src), Path(out)
    check_number("--fps", fps, 0, 1000, lo_open=True)
    seqs = find_sequences(src, fmt)
    check_outputs([("--out", out)], [("SRC", src)])
    if out.exists() and not overwrite:
        raise UserError(f"{out}: output exists (use --overwrite to replace it)")
    check_replaceable(out, is_dataset_output(IMPORT_FORMAT.split("/")[0] + "/"),
                      "a dataset written by v2v data import")
    report = ImportReport(out=out, format=fmt)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for i, (name, img_dir, anno_dir) in enumerate(seqs):
            _import_sequence(fmt, name, img_dir, anno_dir, tmp / name, fps, report)
            if progress is not None:
                progress(i + 1, len(seqs))
        if not report.clips:
            first = report.problems[0] if report.problems else Problem(str(src), "empty")
            raise UserError(f"{src}: nothing usable to import ({len(report.problems)} "
                            f"problems; first: {first.file}: {first.message})")
        manifest = {"format": IMPORT_FORMAT, "importer": fmt, "source": str(src.resolve()),
                    "fps": fps,
                    "clips": [{"path": c["path"], "identity": c["name"], "frames": c["frames"]}
                              for c in report.clips],
                    "problems": [asdict(p) for p in report.problems]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    log.info("imported %d clips (%d frames) into %s", len(report.clips), report.frames, out)
    return report
