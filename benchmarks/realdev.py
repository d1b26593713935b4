"""The real development set (`../shared/realdev`, never committed, never used for shipped
weights): extract its body clips and split them by person into train and held-out folders.

    python benchmarks/realdev.py --out ../realdev_clips      # extract + split (about 2 min)
    v2v evaluate --benchmark ../realdev_clips/heldout --checkpoint weights/default --k 1,2,4

The split (`REALDEV_SPLIT`) is by person: every clip shows one person and no person appears in
two clips, so a clip is an identity. Held out: the four people the shipped model and every
development decision are measured on; train: the three clips `v2v train` may learn from to show
that a user's own footage helps (README, "Train on your own footage"). Writes OUT/body/<clip>
(one clip dir per video, `v2v extract --kind pose`), OUT/heldout/ and OUT/train/ (symlinks to
them) and OUT/split.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REALDEV_SPLIT = {
    "heldout": ["hybrik_taiji", "unianimate_dance", "pixabay_walk", "ted_upper_body"],
    "train": ["ipercore_akun_1", "musepose_dance", "ntu_S001C001P001R001A001"],
}
RULE = ("split by person (one person per clip, no person in two clips); held out: the clips "
        "every measurement of the shipped model and every development decision uses; train: "
        "the clips `v2v train` may learn from (never for shipped weights)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realdev", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "realdev")
    ap.add_argument("--out", type=Path, required=True, help="folder outside the repository")
    args = ap.parse_args()
    body = args.realdev / "body"
    if not body.is_dir():
        print(f"error: {body}: not found (realdev is not shipped; see its README)",
              file=sys.stderr)
        return 2
    videos = sorted(p for p in body.iterdir() if p.suffix.lower() in (".mp4", ".avi"))
    names = {p.stem for p in videos}
    listed = set(REALDEV_SPLIT["heldout"]) | set(REALDEV_SPLIT["train"])
    if names != listed:
        print(f"error: {body}: clips {sorted(names ^ listed)} are not in the split",
              file=sys.stderr)
        return 2
    out = args.out
    if not (out / "body").is_dir():
        subprocess.run(["v2v", "extract", *map(str, videos), "--kind", "pose", "--out",
                        str(out / "body")], check=True)
    for part, clips in REALDEV_SPLIT.items():
        (out / part).mkdir(parents=True, exist_ok=True)
        for c in clips:
            link = out / part / c
            if not link.exists():
                link.symlink_to(Path("..") / "body" / c)
    (out / "split.json").write_text(json.dumps({**REALDEV_SPLIT, "rule": RULE}, indent=2) + "\n")
    print(json.dumps({"heldout": str(out / "heldout"), "train": str(out / "train")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
