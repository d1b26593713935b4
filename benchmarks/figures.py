"""README pictures from a checkpoint (default: the shipped model), reproducibly.

    python benchmarks/figures.py [--checkpoint weights/default] [--photo PERSON.png] [--out docs]

- docs/strip_procedural.png: rows = driver frames; columns = driver pose | the K=2 examples |
  output (K=2) | exact truth (the held-out dancer of examples/ rendered on the driver's motion).
- docs/strip_photo.png (with --photo): one real full-body photo as the only example, driven by
  examples/driver: photo | driver pose (retargeted to the photo's body) | output | the keypoint
  prior alone (the untrained architecture), per row. Redistributable photos: Debian opencv-doc's
  samples (e.g. messi5.jpg, basketball1.png; Apache-2.0 AND BSD-3-Clause per its copyright
  file): `apt-get download opencv-doc && dpkg -x opencv-doc_*.deb opencv-doc`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ROWS = (6, 20, 34, 48)  # driver frames shown


def _panel(img: np.ndarray, size: int) -> np.ndarray:
    """A picture at `size` px tall (aspect kept)."""
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    w = max(1, round(img.shape[1] * size / img.shape[0]))
    return cv2.resize(img, (w, size), interpolation=cv2.INTER_AREA if img.shape[0] > size
                      else cv2.INTER_LINEAR)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def _run(synth, driver, retarget: bool) -> list:
    from v2vtool.io.keypoints import main_person

    frames = [[main_person(f)] for f in driver.keypoints]
    return list(synth.run(frames, driver_size=driver.size, retarget=retarget,
                          source_semantics=True))


def procedural(loaded, examples: Path, size: int) -> np.ndarray:
    from v2vtool.io.clipdir import Clip
    from v2vtool.io.keypoints import main_person
    from v2vtool.synthesis.sources import load_examples
    from v2vtool.data.view import person_view
    from v2vtool.synthesis.stream import Synthesizer

    driver, truth = Clip(examples / "driver"), Clip(examples / "truth")
    exs = load_examples([str(examples / "target_front.png"), str(examples / "target_back.png")],
                        "pose")
    synth = Synthesizer(loaded.generator, loaded.config, [e.image for e in exs],
                        [e.keypoints for e in exs], example_masks=[e.mask for e in exs])
    out = _run(synth, driver, retarget=False)
    cfg = loaded.config
    fit = person_view("pose", cfg.data, driver.size, cfg.generator.size,
                      [[main_person(f)] for f in driver.keypoints[:15]])
    rows = []
    for i in ROWS:
        cells = [_label(_panel(out[i].semantic, size), f"driver {i}"),
                 *[_panel(e, size) for e in synth.examples.images],
                 _label(_panel(out[i].image, size), "output K=2"),
                 _label(_panel(fit.image(truth.frame(i)), size), "truth")]
        rows.append(np.concatenate(cells, 1))
    return np.concatenate(rows, 0)


def photo_strip(loaded, photo: Path, examples: Path, size: int) -> np.ndarray:
    """photo | driver pose (retargeted to the photo's body) | output | the keypoint prior alone
    (the same architecture untrained: what training has to improve on), per row."""
    from v2vtool.benchmark import _pose
    from v2vtool.io.clipdir import Clip
    from v2vtool.metrics.prior_warp import prior_warp_frames
    from v2vtool.synthesis.sources import load_examples
    from v2vtool.synthesis.stream import Synthesizer

    driver = Clip(examples / "driver")
    exs = load_examples([str(photo)], "pose")
    synth = Synthesizer(loaded.generator, loaded.config, [exs[0].image], [exs[0].keypoints],
                        example_masks=[exs[0].mask])
    out = _run(synth, driver, retarget=True)
    prior = prior_warp_frames(synth.examples.images, [_pose(f) for f in synth.examples.keypoints],
                              [_pose(out[i].driving) for i in ROWS], background=synth.background,
                              people=synth.examples.people, plate=synth.plate)
    rows = []
    for i, p in zip(ROWS, prior):
        rows.append(np.concatenate([_label(_panel(synth.examples.images[0], size), "photo"),
                                    _label(_panel(out[i].semantic, size), f"driver {i}"),
                                    _label(_panel(out[i].image, size), "output"),
                                    _label(_panel(p, size), "prior alone")], 1))
    return np.concatenate(rows, 0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--examples", default=None, help="default: the shipped examples/")
    ap.add_argument("--photo", default=None, help="a full-body photo of a person")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--size", type=int, default=192, help="panel height in pixels")
    a = ap.parse_args(argv)
    from v2vtool.models.checkpoint import load_generator
    from v2vtool.resources import find_examples, find_weights

    loaded = load_generator(a.checkpoint or find_weights("default"))
    examples = Path(a.examples) if a.examples else find_examples()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    pictures = {"strip_procedural.png": procedural(loaded, examples, a.size)}
    if a.photo:
        pictures["strip_photo.png"] = photo_strip(loaded, Path(a.photo), examples, a.size)
    for name, img in pictures.items():
        cv2.imwrite(str(out / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        print(out / name)


if __name__ == "__main__":
    main()
