"""Synthesis speed and memory benchmark (CPU by default; --device cuda where available).

    python benchmarks/synthesize.py                      # tiny@128 and pose-256, 2 threads
    python benchmarks/synthesize.py --presets tiny --frames 120 --threads 1
    python benchmarks/synthesize.py --presets tiny,tiny-256 --threads 1   # + the shipped size
    python benchmarks/synthesize.py --memory 100,2000    # peak RSS vs driver length
    python benchmarks/synthesize.py --finetune-eval CKPT --dataset SYNTH --k 2 --steps 0,50

Measures, per preset (random weights: speed does not depend on their values):
- end-to-end frames/s of `synthesize` from a clip-dir driver (keypoints read + retarget +
  render + generator.step + H.264 encode), setup excluded and reported separately;
- generator-only frames/s: `generator.step` on fixed inputs with the previous frame fed back,
  on the same fast path as `synthesize` (--amp auto|bf16|none, --compile).
--memory runs `synthesize` on keypoints.jsonl drivers of the given lengths, each in a fresh
process, and reports each process's peak RSS (ru_maxrss).
--finetune-eval measures test-time finetuning on held-out reconstruction: for every test
identity of a `v2v data synth` set, K examples from its first clip, the driver = its second
clip's keypoints (no retargeting), truth = that clip's frames (mapped with the same view);
L1 / PSNR of the output vs the truth with 0 and N finetuning steps. Results: JSON on stdout, a table on
stderr.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from v2vtool.config import apply_overrides, preset
from v2vtool.io.clipdir import ClipWriter
from v2vtool.io.keypoints import Person, write_jsonl
from v2vtool.models.build import build_generator
from v2vtool.semantics.render import render_pose
from v2vtool.models.checkpoint import save_generator

PRESETS = {"tiny": ("tiny", []), "pose-256": ("pose-256", []),
           # the shipped model's size (weights/default: tiny at 192 x 256)
           "tiny-256": ("tiny", ["generator.height=256", "generator.width=192"])}
SMALL64 = ["generator.height=64", "generator.width=64", "generator.ngf=8",
           "generator.n_downsample=3", "generator.max_channels=32", "generator.flow_ngf=8",
           "generator.flow_n_blocks=1", "generator.flow_max_channels=32",
           "generator.attention_channels=8", "generator.spade_hidden=16",
           "generator.weightgen_hidden=16"]


def dancer(t: float, size: tuple[int, int]) -> list[Person]:
    """A BODY_25 stick figure waving its arms and stepping sideways (pixels of `size`)."""
    w, h = size
    u = h / 40.0
    cx, cy = w / 2 + 0.15 * w * np.sin(t / 7), h * 0.3
    j = {1: (0, 0), 0: (0, -3), 15: (-.5, -3.4), 16: (.5, -3.4), 17: (-1, -3.2), 18: (1, -3.2),
         2: (-2, 0), 5: (2, 0), 3: (-3, 3 * np.cos(t / 3)), 6: (3, 3 * np.cos(t / 4)),
         4: (-4, 6 * np.cos(t / 3)), 7: (4, 6 * np.cos(t / 4)), 8: (0, 7), 9: (-1, 7),
         12: (1, 7), 10: (-1.3, 11), 13: (1.3, 11), 11: (-1.5, 15), 14: (1.5, 15)}
    pose = np.zeros((25, 3), np.float32)
    for k, (x, y) in j.items():
        pose[k] = [cx + x * u, cy + y * u, 0.9]
    return [Person(pose=pose)]


def make_checkpoint(root: Path, name: str, overrides: list[str]) -> tuple[Path, object]:
    cfg = apply_overrides(preset(PRESETS[name][0] if name in PRESETS else name), overrides)
    torch.manual_seed(0)
    return save_generator(root / f"ckpt-{name}", cfg, build_generator(cfg.generator)), cfg


def make_clip(root: Path, size: tuple[int, int], frames: int) -> Path:
    path = root / f"driver-{size[0]}x{size[1]}-{frames}"
    with ClipWriter(path, "pose", 30.0, overwrite=True) as w:
        for i in range(frames):
            kp = dancer(i, size)
            sem = render_pose(kp, size)
            w.add(sem, keypoints=kp, semantic=sem)
        w.close()
    return path


def generator_fps(cfg, k: int, frames: int, device: str, amp: str = "auto",
                  compile: bool = False) -> float:
    """generator.step alone on the synthesis fast path (previous output fed back)."""
    from v2vtool.models.fastpath import compile_step, fast_path, inference_generator

    fast = fast_path(device, amp, "auto", compile,
                     pixels=cfg.generator.height * cfg.generator.width)
    g = inference_generator(build_generator(cfg.generator), fast)
    step = compile_step(g) if compile else g.step
    gc = cfg.generator
    c = gc.semantic_nc
    ex = fast.layout(torch.rand(1, k, 3, gc.height, gc.width) * 2 - 1)
    es = fast.layout(torch.rand(1, k, c, gc.height, gc.width))
    sem = fast.layout(torch.rand(1, c, gc.height, gc.width))
    ex_kp = kp = prev_kp = None
    if gc.keypoint_prior:
        from v2vtool.data.synth.motion import sample_prior_keypoints

        all_kp = sample_prior_keypoints(gc.kind, k + 2, gc.width, gc.height).to(device)
        ex_kp, kp, prev_kp = all_kp[None, :k], all_kp[k:k + 1], all_kp[k + 1:]
    with torch.inference_mode():
        with fast.autocast():
            state = g.prepare(ex, es, ex_kp)
            prev = step(state, sem, None, None, kp).image[:, None]
            prev = step(state, sem, prev, sem[:, None], kp, prev_kp).image[:, None]  # warm
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(frames):
            with fast.autocast():
                prev = step(state, sem, prev, sem[:, None], kp, prev_kp).image[:, None]
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return frames / (time.perf_counter() - t)


def speed(root: Path, name: str, overrides: list[str], frames: int, k: int, device: str,
          amp: str = "auto", compile: bool = False, framing: str = "crop") -> dict:
    from v2vtool.synthesis import synthesize

    ckpt, cfg = make_checkpoint(root, name, overrides)
    size = cfg.generator.size
    clip = make_clip(root, size, frames + 2 * k)
    examples = [f"{clip}:" + ",".join(str(frames + i) for i in range(k))]
    res = synthesize(examples, clip, root / f"out-{name}.mp4", checkpoint=ckpt, device=device,
                     amp=amp, compile=compile, framing=framing)
    compile_s = res.fast_path["compile_first_call_seconds"] or 0.0
    return {"preset": name, "size": f"{size[0]}x{size[1]}", "k": k, "frames": res.frames,
            "end_to_end_fps": round(res.throughput_fps, 2),
            # with --compile the loop's first frames compile (one graph per case): excluded here
            "end_to_end_fps_after_compile": round(res.frames / max(res.seconds - compile_s,
                                                                   1e-9), 2),
            "generator_fps_in_pipeline": round(res.generator_fps, 2),
            "generator_only_fps": round(generator_fps(cfg, k, max(3, frames // 2), device, amp,
                                                      compile), 2),
            "setup_seconds": round(res.setup_seconds, 2), "device": device,
            "amp": res.fast_path["amp"], "channels_last": res.fast_path["channels_last"],
            "compiled": compile,
            "compile_first_call_seconds": res.fast_path["compile_first_call_seconds"],
            "threads": torch.get_num_threads()}


def memory_child(root: Path, frames: int, threads: int) -> None:
    """(In a fresh process) synthesize from an N-frame keypoints.jsonl; print peak RSS."""
    from v2vtool.synthesis import synthesize

    torch.set_num_threads(threads)
    ckpt, cfg = make_checkpoint(root, "tiny", SMALL64)
    size = (64, 64)
    write_jsonl(root / f"kp-{frames}.jsonl", (dancer(i, size) for i in range(frames)))
    ex = make_clip(root, size, 3)
    res = synthesize([f"{ex}:0"], root / f"kp-{frames}.jsonl", root / f"mem-{frames}.mp4",
                     checkpoint=ckpt, device="cpu", driver_fps=30)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": res.frames, "peak_rss_mb": round(peak, 1),
                      "end_to_end_fps": round(res.throughput_fps, 1)}))


def finetune_eval(ckpt: str, dataset: str, k: int, steps: list[int], device: str) -> list[dict]:
    from v2vtool.io.clipdir import Clip
    from v2vtool.io.keypoints import main_person
    from v2vtool.data.view import REFERENCE_FRAMES, person_view
    from v2vtool.synthesis.stream import Synthesizer
    from v2vtool.models.checkpoint import load_generator

    loaded = load_generator(ckpt, device)
    cfg = loaded.config
    size = cfg.generator.size
    root = Path(dataset)
    manifest = json.loads((root / "manifest.json").read_text())
    rows = []
    for n in steps:
        l1s, psnrs = [], []
        for ident in manifest["test"]:
            clips = [Clip(root / c["path"]) for c in manifest["clips"] if c["identity"] == ident]
            ex, drv = clips[0], clips[1]
            idx = [round(i * (len(ex) - 1) / max(k - 1, 1)) for i in range(k)] if k > 1 else [0]
            frames = [[main_person(f)] for f in drv.keypoints]
            fit = person_view("pose", cfg.data, drv.size, size, frames[:REFERENCE_FRAMES])
            torch.manual_seed(0)
            synth = Synthesizer(loaded.generator, cfg, [ex.frame(i) for i in idx],
                                [ex.keypoints[i] for i in idx], finetune=n, seed=0)
            for f in synth.run(frames, driver_size=drv.size, retarget=False):
                truth = fit.image(drv.frame(f.index)).astype(np.float32) / 255
                err = f.image.astype(np.float32) / 255 - truth
                l1s.append(float(np.abs(err).mean()))
                psnrs.append(float(10 * np.log10(1 / max(float((err ** 2).mean()), 1e-10))))
        rows.append({"finetune_steps": n, "k": k, "identities": len(manifest["test"]),
                     "frames": len(l1s), "heldout_l1": round(float(np.mean(l1s)), 4),
                     "heldout_psnr": round(float(np.mean(psnrs)), 2)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="tiny,pose-256")
    ap.add_argument("--frames", type=int, default=0, help="driver frames (default per preset)")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="auto", choices=["auto", "bf16", "none"],
                    help="synthesis precision (auto: bf16 where native)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the generator step")
    ap.add_argument("--framing", default="crop", choices=["crop", "full"],
                    help="synthesize's output framing (crop: the model's view, as before)")
    ap.add_argument("--memory", default="", help="comma-separated driver lengths")
    ap.add_argument("--finetune-eval", default="", help="checkpoint to evaluate finetuning on")
    ap.add_argument("--dataset", default="", help="v2v data synth set (--finetune-eval)")
    ap.add_argument("--steps", default="0,50", help="finetuning steps to compare")
    ap.add_argument("--_child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args._child:
            memory_child(root, args._child, args.threads or 1)
            return
        rows = []
        if args.finetune_eval:
            rows = finetune_eval(args.finetune_eval, args.dataset, args.k,
                                 [int(x) for x in args.steps.split(",")], args.device)
        elif args.memory:
            for n in (int(x) for x in args.memory.split(",")):
                cmd = [sys.executable, __file__, "--_child", str(n), "--threads",
                       str(args.threads or 1)]
                line = subprocess.run(cmd, check=True, capture_output=True,
                                      text=True).stdout.strip().splitlines()[-1]
                rows.append({"memory": True, **json.loads(line)})
        else:
            for name in args.presets.split(","):
                frames = args.frames or (6 if name == "pose-256" else 60)
                rows.append(speed(root, name, PRESETS[name][1], frames, args.k, args.device,
                                  args.amp, args.compile, args.framing))
    print(json.dumps(rows, indent=2))
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
