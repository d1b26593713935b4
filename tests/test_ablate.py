"""`v2v ablate` on a micro grid, end to end: tables, three plots, resume without redoing cells."""
from __future__ import annotations

import csv
import json

from typer.testing import CliRunner



def test_plan_cells_clips_sizes():
    from v2vtool.ablation import Cell, plan_cells

    cells, notes = plan_cells(["weightgen", "adain"], [2, 8, 32], 4)
    assert cells == [Cell("weightgen", 4), Cell("adain", 4), Cell("weightgen", 2)]
    assert notes and "using 4" in notes[0]


def test_ablate_micro_grid_resumes(synth_dataset, tmp_path, monkeypatch):
    import v2vtool.ablation as abl
    import v2vtool.cli.ablate  # noqa: F401
    from v2vtool.cli.app import app

    out = tmp_path / "abl"
    args = ["ablate", "--data", str(synth_dataset), "--out", str(out), "--k", "1,2",
            "--train-sizes", "2,4", "--variants", "weightgen,concat", "--steps", "1",
            "--max-frames", "3", "--set", "generator.height=64", "--set", "generator.width=64",
            "--set", "generator.ngf=8", "--set", "train.batch_size=1",
            "--set", "train.single_frame_steps=1"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    for f in ("table.csv", "table.json", "k.png", "train_size.png", "variants.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert (out / "k.png").read_bytes()[:4] == b"\x89PNG"
    table = json.loads((out / "table.json").read_text())
    assert table["cells"] == ["weightgen-n4", "concat-n4", "weightgen-n2"]
    models = {(r["variant"], r["train_identities"], r["k"]) for r in table["rows"]
              if r["method"] == "model"}
    assert models == {(v, n, k) for v, n in (("weightgen", 4), ("concat", 4), ("weightgen", 2))
                      for k in (1, 2)}
    assert {r["variant"] for r in table["rows"] if r["method"] != "model"} == \
        {"copy", "limb-warp", "prior-warp", "truth"}
    with open(out / "table.csv") as f:
        assert len(list(csv.DictReader(f))) == len(table["rows"])

    # resume: nothing is retrained or re-scored
    calls = []
    monkeypatch.setattr(abl, "run_cell", lambda *a, **k: calls.append(a) or 1 / 0)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert calls == [] and json.loads((out / "table.json").read_text())["rows"] == table["rows"]

    # a different sweep in the same folder is refused with one line
    r = CliRunner().invoke(app, args[:-2] + ["--set", "train.single_frame_steps=2"])
    assert r.exit_code == 2 and "spec.json" in r.output
