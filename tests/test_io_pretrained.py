"""Pretrained weights (v2vtool.io.pretrained): lookup order, checked downloads from a local
HTTP server, a corrupted download removed, offline and refused connections in one line."""
from __future__ import annotations

import os
import re
import socket
import time

import pytest
import torch

from tests.pretrained_server import hub, online, server, sha256  # noqa: F401 (fixtures)
from v2vtool.errors import UserError
from v2vtool.io import pretrained
from v2vtool.io.pretrained import WeightsUnavailable

DATA = bytes(range(256)) * (3 * 4096 + 17)  # ~3 MB: several reads of CHUNK


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_registry_names_files_urls_and_full_hashes():
    assert list(pretrained.REGISTRY) == ["vgg19", "inception", "alexnet"]
    for entry in pretrained.REGISTRY.values():
        prefix = re.search(r"-([0-9a-f]{8})\.pth$", entry.file_name).group(1)
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256), entry.name
        assert entry.sha256.startswith(prefix), entry.name  # torch hub's naming convention
        assert entry.url.startswith("https://") and entry.url.endswith("/" + entry.file_name)
        assert entry.size > 10**7
    assert pretrained.get("inception").url.startswith(
        "https://github.com/mseitzer/pytorch-fid/releases/")
    with pytest.raises(UserError, match="known: vgg19, inception, alexnet"):
        pretrained.get("resnet")


def test_fetch_downloads_into_the_hub_cache_checked(hub, online, server, monkeypatch):
    server.serve(monkeypatch, "alexnet", DATA)
    seen = []
    path, status = pretrained.fetch("alexnet", progress=lambda d, t: seen.append((d, t)))
    assert (path, status) == (hub / "alexnet-owt-7be5be79.pth", "fetched")
    assert path.read_bytes() == DATA
    assert _files(hub) == ["alexnet-owt-7be5be79.pth"]  # no temporary left
    assert seen[0] == (0, len(DATA)) and seen[-1] == (len(DATA), len(DATA)) and len(seen) > 3
    assert pretrained.state("alexnet").hash == "ok"
    n = len(server.requests)
    assert pretrained.fetch("alexnet") == (path, "present") and len(server.requests) == n


def test_corrupted_download_is_rejected_and_removed(hub, online, server, monkeypatch):
    corrupted = DATA[:-1] + b"\x00"
    server.serve(monkeypatch, "inception", corrupted, published=DATA)
    with pytest.raises(WeightsUnavailable) as info:
        pretrained.fetch("inception")
    msg = str(info.value)
    assert "\n" not in msg and "SHA-256" in msg and "removed" in msg
    assert sha256(corrupted)[:16] in msg and sha256(DATA)[:16] in msg
    assert server.requests == ["/pt_inception-2015-12-05-6726825d.pth"]
    assert not (hub.parent.parent).exists()  # nothing left, not even the folders it made
    with pytest.raises(WeightsUnavailable, match="SHA-256"):  # the loaders' path too
        pretrained.resolve("inception")
    assert not hub.exists()


def test_a_mismatched_file_in_the_hub_cache_is_replaced(hub, online, server, monkeypatch):
    server.serve(monkeypatch, "vgg19", DATA)
    hub.mkdir(parents=True)
    (hub / "vgg19-dcbb9e9d.pth").write_bytes(b"something else")
    assert pretrained.state("vgg19").hash == "mismatch"
    path, status = pretrained.fetch("vgg19")
    assert status == "replaced" and path.read_bytes() == DATA
    assert _files(hub) == ["vgg19-dcbb9e9d.pth"]


def test_offline_is_one_line_naming_the_exact_path(hub, server, monkeypatch):
    monkeypatch.setenv("V2V_OFFLINE", "1")
    server.serve(monkeypatch, "alexnet", DATA)
    with pytest.raises(WeightsUnavailable) as info:
        pretrained.resolve("alexnet")
    msg = str(info.value)
    assert "\n" not in msg and "offline" in msg
    assert f"put it at {hub / 'alexnet-owt-7be5be79.pth'} " in msg
    assert "v2v weights fetch alexnet" in msg and "--lpips-backbone" in msg
    with pytest.raises(WeightsUnavailable, match="not fetched: offline"):
        pretrained.fetch("alexnet")
    assert server.requests == [] and not hub.exists()


def test_fetch_false_never_downloads(hub, online, server, monkeypatch):
    server.serve(monkeypatch, "alexnet", DATA)
    with pytest.raises(WeightsUnavailable, match="this command does not download"):
        pretrained.resolve("alexnet", fetch=False)
    assert server.requests == []


def test_refused_connection_fails_fast(hub, online):
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as info:
        pretrained.resolve("vgg19")
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert "\n" not in msg and "could not be downloaded (Connection refused)" in msg
    assert f"put it at {hub / 'vgg19-dcbb9e9d.pth'} " in msg
    assert not hub.exists()


def test_http_error_is_named(hub, online, server, monkeypatch):
    server.serve(monkeypatch, "alexnet", DATA)
    server.httpd.files.clear()
    with pytest.raises(WeightsUnavailable, match=r"could not be downloaded \(HTTP 404 "):
        pretrained.resolve("alexnet")


def test_name_lookup_has_a_deadline(hub, online, monkeypatch):
    from tests.pretrained_server import point

    point(monkeypatch, "alexnet", "http://weights.example.invalid/alexnet-owt-7be5be79.pth")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(3))
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match=r"name lookup of weights.example.invalid took "
                                                 r"over 0.2 s"):
        pretrained.resolve("alexnet", timeout=0.2)
    assert time.perf_counter() - t0 < 2


def test_unwritable_hub_cache_is_one_line(tmp_path, online, server, monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "file.txt" / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    monkeypatch.setenv("V2V_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    server.serve(monkeypatch, "alexnet", DATA)
    with pytest.raises(WeightsUnavailable, match="could not be saved") as info:
        pretrained.resolve("alexnet")
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]


def test_lookup_order_explicit_then_hub_then_weights_folders(hub, tmp_path, monkeypatch):
    weights = tmp_path / "no_weights"  # the V2V_WEIGHTS folder of the `hub` fixture
    weights.mkdir()
    (weights / "alexnet-owt-7be5be79.pth").write_bytes(b"w")
    assert pretrained.resolve("alexnet") == weights / "alexnet-owt-7be5be79.pth"
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(b"h")
    assert pretrained.resolve("alexnet") == hub / "alexnet-owt-7be5be79.pth"
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"e")
    assert pretrained.resolve("alexnet", explicit) == explicit
    with pytest.raises(WeightsUnavailable, match=r"--lpips-backbone .*nope.pth: file not found "
                                                 r"\(expected alexnet-owt-7be5be79.pth\)"):
        pretrained.resolve("alexnet", tmp_path / "nope.pth")


def test_state_reports_ok_mismatch_missing_unknown(hub, monkeypatch):
    from tests.pretrained_server import point

    point(monkeypatch, "alexnet", "http://127.0.0.1:1/a", published=DATA)
    point(monkeypatch, "vgg19", "http://127.0.0.1:1/v", published=DATA)
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(DATA)
    (hub / "vgg19-dcbb9e9d.pth").write_bytes(DATA[:-1] + b"\x01")  # same size, other bytes
    got = {n: pretrained.state(n) for n in pretrained.REGISTRY}
    assert [got[n].hash for n in ("alexnet", "vgg19", "inception")] == ["ok", "mismatch",
                                                                         "missing"]
    assert got["alexnet"].size == len(DATA) and got["alexnet"].present
    assert got["inception"].path == hub / "pt_inception-2015-12-05-6726825d.pth"
    assert not got["inception"].present and got["inception"].size is None
    quick = {n: pretrained.state(n, verify=False).hash for n in ("alexnet", "vgg19")}
    assert quick == {"alexnet": "unknown", "vgg19": "unknown"}  # sizes match: not hashed
    (hub / "vgg19-dcbb9e9d.pth").write_bytes(b"short")
    assert pretrained.state("vgg19", verify=False).hash == "mismatch"
