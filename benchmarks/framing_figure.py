"""README figure of `v2v synthesize --framing full|crop` on a real driver video, reproducibly.

    apt-get download opencv-doc && dpkg -x opencv-doc_*.deb opencv-doc
    python benchmarks/framing_figure.py \
        --driver opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi --out docs

Driver: OpenCV's sample video vtest.avi (768x576, 10 fps; Debian package opencv-doc, which its
copyright file ships under "Files: *", Apache-2.0 AND BSD-3-Clause): a cut of --frames frames
from --start of its --region window (x, y, w, h) scaled 2x back to 768x576 (mediapipe misses the
~80 px tall pedestrians at the original scale). docs/framing.png, rows:
  1. example: scikit-image's astronaut photo (NASA, public domain; `skimage.data.astronaut`):
     another camera, so full framing extends that photo's background around the person;
  2. examples: two other frames of the driver video itself (one static camera), so full
     framing keeps the camera's scene, with the examples' person cut out and filled in;
columns: the driver frame | --framing full (the driver's framing and size) | --framing crop
(the model's person-centred view at its resolution, 192x256 for the shipped model). Without
retargeting: the astronaut photo shows no legs, and retargeting the walking driver to that body
moves the driven person mostly out of the crop.
The shipped model was trained on procedural dancers only: the person it draws is out of domain;
the figure shows the framing, not a quality claim.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

HEIGHT = 288  # panel height in the figure


def _window(frame: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = region
    return cv2.resize(frame[y:y + h, x:x + w], (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)


def _cut(src: Path, region, start: int, frames: int, out: Path
         ) -> tuple[list[np.ndarray], float]:
    """Frames [start, start + frames) of src's region written to out (mp4); returns them and
    the fps."""
    from v2vtool.io.video import VideoWriter, open_video

    kept = []
    with open_video(src) as r:
        fps = r.fps
        for i, f in enumerate(r):
            if i >= start + frames:
                break
            if i >= start:
                kept.append(_window(f, region))
    with VideoWriter(out, fps) as w:
        for f in kept:
            w.write(f)
    return kept, fps


def _frame_at(src: Path, region, index: int) -> np.ndarray:
    from v2vtool.io.video import open_video

    with open_video(src) as r:
        for i, f in enumerate(r):
            if i == index:
                return _window(f, region)
    raise SystemExit(f"{src}: has no frame {index}")


def _panel(img: np.ndarray, label: str) -> np.ndarray:
    h, w = img.shape[:2]
    width = round(w * HEIGHT / h)
    out = cv2.resize(img, (width, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT
                     else cv2.INTER_CUBIC)
    out = np.ascontiguousarray(out)
    cv2.rectangle(out, (0, 0), (width, 18), (0, 0, 0), -1)
    cv2.putText(out, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--driver", required=True, help="vtest.avi from Debian's opencv-doc")
    ap.add_argument("--region", default="300,100,384,288", help="x,y,w,h window, scaled 2x")
    ap.add_argument("--start", type=int, default=150, help="first driver frame used")
    ap.add_argument("--frames", type=int, default=24, help="driver frames synthesized")
    ap.add_argument("--show", type=int, default=12, help="frame of the cut shown")
    ap.add_argument("--camera-examples", default="40,240",
                    help="frames of the driver video used as same-camera examples")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--out", default="docs")
    args = ap.parse_args(argv)
    from PIL import Image
    from skimage import data

    from v2vtool.io.video import read_frames
    from v2vtool.synthesis import synthesize

    driver = Path(args.driver)
    region = tuple(int(v) for v in args.region.split(","))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cut, _ = _cut(driver, region, args.start, args.frames, tmp / "driver.mp4")
        Image.fromarray(data.astronaut()).save(tmp / "astronaut.png")
        camera = []
        for i in (int(v) for v in args.camera_examples.split(",")):
            Image.fromarray(_frame_at(driver, region, i)).save(tmp / f"camera{i}.png")
            camera.append(tmp / f"camera{i}.png")
        for name, examples in (("astronaut photo", [tmp / "astronaut.png"]),
                               ("2 frames, same camera", camera)):
            shown = {}
            for framing in ("full", "crop"):
                out = tmp / f"{framing}.mp4"
                res = synthesize(examples, tmp / "driver.mp4", out, checkpoint=args.checkpoint,
                                 framing=framing, frames_dir=tmp / f"{framing}_frames",
                                 retarget=False, device="cpu")
                shown[framing] = read_frames(tmp / f"{framing}_frames")[args.show]
                print(f"{name}, {framing}: {res.size[0]}x{res.size[1]}, view {res.view}")
            rows.append([_panel(cut[args.show], "driver frame"),
                         _panel(shown["full"], f"--framing full (example: {name})"),
                         _panel(shown["crop"], "--framing crop")])
    figure = np.concatenate([np.concatenate(r, 1) for r in rows], 0)
    path = Path(args.out) / "framing.png"
    Image.fromarray(figure).save(path, optimize=True)
    print(f"wrote {path} ({figure.shape[1]}x{figure.shape[0]})")


if __name__ == "__main__":
    main()
