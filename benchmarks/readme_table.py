"""The README's result tables, generated from the rows of benchmark JSON (never typed by hand).

    python benchmarks/readme_table.py results/real_today/benchmark.json --k 1
    python benchmarks/readme_table.py today.json:"shipped model" real.json:"trained on real" \\
        --k 1 --methods model,prior-warp,copy
    python benchmarks/readme_table.py results/real_today/benchmark.json --section cross
    python benchmarks/readme_table.py procedural.json --columns psnr,ssim,l1,pose_error

Reads `v2v evaluate --benchmark ... --json` output of either protocol (v2v-benchmark/1, the
procedural set; v2v-benchmark-real/1, real clips) and prints a markdown table to stdout: one line
per (file, method, K) row of the JSON's mean rows ("rows"; with --section cross the real
protocol's cross-identity rows), in the JSON's order. FILE:LABEL names a file's rows.
Values the JSON lacks print as "n/a".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# key -> (header, format); "{h}" in a header is the protocol's view / reference height
HEADERS = {
    "l1": ("L1", ".3f"), "psnr": ("PSNR", ".1f"), "ssim": ("SSIM", ".3f"),
    "lpips": ("LPIPS", ".3f"), "person_psnr": ("person PSNR", ".1f"),
    "ghost_l1": ("ghost L1", ".4f"), "sharpness": ("sharpness", ".2f"),
    "ring_l1": ("ring L1", ".3f"), "akd": ("AKD (px @{h})", ".2f"), "mkr": ("MKR", "%"),
    "pose_error": ("pose error (px @{h})", ".2f"), "pose_missing_rate": ("missing", "%"),
    "identity": ("identity (Hellinger)", ".3f"), "warp_error": ("warp error", ".4f"),
}
DEFAULT_COLUMNS = {
    "real": ("l1", "psnr", "ssim", "akd", "mkr", "sharpness", "ring_l1"),
    "cross": ("pose_error", "pose_missing_rate", "identity"),
    "procedural": ("psnr", "ssim", "l1", "pose_error", "pose_missing_rate", "person_psnr",
                   "ghost_l1"),
}


def load(spec: str) -> tuple[str, dict]:
    """'FILE' or 'FILE:LABEL' -> (label, result dict)."""
    path, sep, label = spec.partition(":")
    if sep and not Path(path).is_file() and Path(spec).is_file():  # a ':' in the file name
        path, label = spec, ""
    try:
        res = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"error: {path}: {exc}")
    if not isinstance(res, dict) or not str(res.get("format", "")).startswith("v2v-benchmark"):
        sys.exit(f"error: {path}: not a `v2v evaluate --benchmark` JSON")
    return label, res


def _height(res: dict) -> int:
    if res["format"].startswith("v2v-benchmark-real/"):
        return int(res["protocol"]["view_height"])
    return int(res.get("pose_reference_height", 512))


def _cell(value, fmt: str) -> str:
    if not isinstance(value, (int, float)):
        return "n/a"
    return f"{100 * value:.1f} %" if fmt == "%" else format(value, fmt)


def table(runs: list[tuple[str, dict]], section: str = "rows", ks: list[int] | None = None,
          methods: list[str] | None = None, columns: list[str] | None = None) -> str:
    """The markdown table (module docstring)."""
    first = runs[0][1]
    kind = ("cross" if section == "cross" else
            "real" if first["format"].startswith("v2v-benchmark-real/") else "procedural")
    cols = list(columns or DEFAULT_COLUMNS[kind])
    unknown = [c for c in cols if c not in HEADERS]
    if unknown:
        sys.exit(f"error: --columns: unknown {', '.join(unknown)} (known: {', '.join(HEADERS)})")
    h = _height(first)
    lines = ["| | K | " + " | ".join(HEADERS[c][0].format(h=h) for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for label, res in runs:
        rows = (res.get("cross") or {}).get("rows", []) if section == "cross" else res["rows"]
        for r in rows:
            if (ks and r["k"] not in ks and r["k"] != 0) or (methods and
                                                              r["method"] not in methods):
                continue  # (K 0: the references / truth rows, kept with any --k)
            name = f"{label} {r['method']}" if label else r["method"]
            k = str(r["k"]) if r["k"] else "-"
            lines.append(f"| {name} | {k} | " + " | ".join(
                _cell(r.get(c), HEADERS[c][1]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", help="benchmark JSON files (FILE or FILE:LABEL)")
    ap.add_argument("--section", choices=("rows", "cross"), default="rows",
                    help="rows: the mean rows; cross: the real protocol's cross-identity rows")
    ap.add_argument("--k", default="", help="only these K (comma-separated)")
    ap.add_argument("--methods", default="", help="only these methods (comma-separated)")
    ap.add_argument("--columns", default="", help="these JSON columns (comma-separated)")
    a = ap.parse_args(argv)
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    try:
        ks = [int(x) for x in split(a.k)]
    except ValueError:
        sys.exit(f"error: --k {a.k!r}: expected integers like 1,2")
    print(table([load(s) for s in a.json], a.section, ks, split(a.methods),
                split(a.columns) or None))


if __name__ == "__main__":
    main()
