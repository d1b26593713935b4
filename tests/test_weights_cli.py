"""`v2v weights fetch | list` and the global `--offline`, through the CLI (CliRunner), against a
local HTTP server; `v2v evaluate` fetching its LPIPS backbone with no option, or skipping it
offline with the exact path."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.pretrained_server import hub, online, server, state_bytes  # noqa: F401 (fixtures)
from v2vtool.cli import app
from v2vtool.io import pretrained

FILES = {"vgg19": b"v" * 300_000, "inception": b"i" * 200_000, "alexnet": b"a" * 100_000}


def _run(*argv: str):
    return CliRunner().invoke(app, list(argv))


def _error_lines(res) -> list[str]:
    return [ln for ln in res.output.splitlines() if ln.startswith("error:")]


def _tree(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None)
                  for p in root.rglob("*")) if root.exists() else []


def _one_line_refusal(res, expect: str) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output, res.output
    errors = _error_lines(res)
    assert len(errors) == 1 and expect in errors[0], res.output
    return errors[0]


def test_fetch_all_then_list(hub, online, server, monkeypatch):
    for name, data in FILES.items():
        server.serve(monkeypatch, name, data)
    res = _run("weights", "fetch", "--all")
    assert res.exit_code == 0, res.output
    for name, data in FILES.items():
        entry = pretrained.get(name)
        assert (hub / entry.file_name).read_bytes() == data
        assert name in res.output
    assert res.output.count("fetched") == 3
    assert sorted(p.name for p in hub.iterdir()) == sorted(
        pretrained.get(n).file_name for n in FILES)  # no temporaries
    again = _run("weights", "fetch", "alexnet", "vgg19")
    assert again.exit_code == 0 and again.output.count("present") == 2, again.output
    assert len(server.requests) == 3  # nothing downloaded twice

    listed = _run("weights", "list", "--json")
    assert listed.exit_code == 0, listed.output
    doc = json.loads(listed.stdout)
    assert doc["hub_dir"] == str(hub) and doc["offline"] is False
    rows = {f["name"]: f for f in doc["files"]}
    assert set(rows) == set(FILES)
    for name, data in FILES.items():
        assert rows[name]["present"] and rows[name]["sha256"] == "ok"
        assert rows[name]["size"] == len(data)
        assert rows[name]["path"] == str(hub / pretrained.get(name).file_name)
    table = _run("weights", "list")
    assert table.exit_code == 0 and table.stdout == "", table.output  # human output: stderr
    assert table.output.count(" ok ") == 3


def test_list_missing_mismatch_and_quick(hub, monkeypatch):
    from tests.pretrained_server import point

    point(monkeypatch, "alexnet", "http://127.0.0.1:1/a", published=FILES["alexnet"])
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(b"b" * 100_000)  # right size, wrong bytes
    doc = json.loads(_run("weights", "list", "--json").stdout)
    rows = {f["name"]: f for f in doc["files"]}
    assert doc["offline"] is True  # tests/conftest.py
    assert rows["alexnet"]["sha256"] == "mismatch" and rows["alexnet"]["present"]
    assert rows["vgg19"] == {**rows["vgg19"], "present": False, "size": None,
                             "sha256": "missing", "path": str(hub / "vgg19-dcbb9e9d.pth")}
    quick = json.loads(_run("weights", "list", "--json", "--quick").stdout)
    assert {f["name"]: f["sha256"] for f in quick["files"]}["alexnet"] == "unknown"


def test_corrupted_download_is_one_line_and_leaves_nothing(hub, online, server, monkeypatch):
    server.serve(monkeypatch, "alexnet", b"x" * 5000, published=b"y" * 5000)
    line = _one_line_refusal(_run("weights", "fetch", "alexnet"), "SHA-256")
    assert "removed" in line and str(hub / "alexnet-owt-7be5be79.pth") in line
    assert _tree(hub.parent.parent) == []


@pytest.mark.parametrize("how", ["flag", "env"])
def test_fetch_offline_is_one_line_naming_the_folder(hub, online, server, monkeypatch, how):
    server.serve(monkeypatch, "alexnet", FILES["alexnet"])
    if how == "env":
        monkeypatch.setenv("V2V_OFFLINE", "1")
        res = _run("weights", "fetch", "alexnet")
    else:  # `--offline` sets V2V_OFFLINE for the process; monkeypatch restores it
        monkeypatch.setenv("V2V_OFFLINE", "0")
        res = _run("--offline", "weights", "fetch", "alexnet")
    line = _one_line_refusal(res, "offline")
    assert line.endswith(f"alexnet-owt-7be5be79.pth and put them in {hub}")
    assert server.requests == [] and _tree(hub.parent.parent) == []


def test_fetch_without_network_is_one_line(hub, online):
    res = _run("weights", "fetch", "inception")  # `online` points it at a refused port
    line = _one_line_refusal(res, "could not be downloaded (Connection refused)")
    assert f"put it at {hub / 'pt_inception-2015-12-05-6726825d.pth'} " in line
    assert _tree(hub.parent.parent) == []


@pytest.mark.parametrize("argv, expect", [
    (("weights", "fetch"), "or pass --all"),
    (("weights", "fetch", "resnet"), "unknown pretrained weights 'resnet'"),
    (("weights", "fetch", "--all", "vgg19"), "not both"),
])
def test_fetch_bad_names(hub, online, server, argv, expect):
    _one_line_refusal(_run(*argv), expect)
    assert server.requests == [] and _tree(hub.parent.parent) == []


def _frames(tmp_path, name, noise):
    rng = np.random.default_rng(0)
    d = tmp_path / name
    d.mkdir()
    base = np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(np.int64)
    for i in range(4):
        f = np.clip(base + rng.integers(-noise, noise + 1, base.shape), 0, 255)
        Image.fromarray(f.astype(np.uint8)).save(d / f"{i:06d}.png")
    return d


def test_evaluate_fetches_lpips_backbone_or_skips_it_offline(tmp_path, hub, online, server,
                                                              monkeypatch):
    import torch
    import torchvision

    real, gen = _frames(tmp_path, "real", 0), _frames(tmp_path, "gen", 30)
    args = ["evaluate", "--generated", str(gen), "--real", str(real)]
    torch.manual_seed(0)
    features = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items()
                if k.startswith("features.")}
    server.serve(monkeypatch, "alexnet", state_bytes(features))
    monkeypatch.setenv("V2V_OFFLINE", "0")
    off = _run("--offline", *args)
    assert off.exit_code == 0, off.output
    skipped = json.loads(off.stdout[off.stdout.index("{"):])["skipped"]
    assert "offline" in skipped["lpips"]
    assert f"put it at {hub / 'alexnet-owt-7be5be79.pth'} " in skipped["lpips"]
    assert server.requests == []

    monkeypatch.setenv("V2V_OFFLINE", "0")
    on = _run(*args)  # no option: the backbone is fetched into the hub cache and used
    assert on.exit_code == 0, on.output
    rep = json.loads(on.stdout[on.stdout.index("{"):])
    assert rep["metrics"]["lpips"] > 0 and "lpips" not in rep["skipped"]
    assert (hub / "alexnet-owt-7be5be79.pth").is_file()
    assert "Connection refused" in rep["skipped"]["fid"]  # FID's URL: the refused port
