"""Fixtures for the pretrained-weights tests: a local HTTP server on 127.0.0.1 and a registry
whose URLs point at it (or at a port nobody listens on), so no test needs the internet."""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
import torch

from v2vtool.io import pretrained


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep the test output clean
        pass


def refused_port() -> int:
    """A local port with nothing listening (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def point(monkeypatch, name: str, url: str, published: bytes | None = None) -> None:
    """Registry entry `name` -> `url`, its SHA-256 and size those of `published` (if given)."""
    entry = pretrained.get(name)
    new = replace(entry, url=url)
    if published is not None:
        new = replace(new, sha256=sha256(published), size=len(published))
    monkeypatch.setattr(pretrained, "REGISTRY",
                        MappingProxyType({**pretrained.REGISTRY, name: new}))


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache (TORCH_HOME) and no weights/ folder to find files in."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    monkeypatch.setenv("V2V_WEIGHTS", str(tmp_path / "no_weights"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed (conftest sets V2V_OFFLINE=1), every URL first pointed at a refused
    local port: a test reaches only the servers it registers."""
    monkeypatch.delenv(pretrained.ENV_OFFLINE, raising=False)
    port = refused_port()
    for name, entry in pretrained.REGISTRY.items():
        point(monkeypatch, name, f"http://127.0.0.1:{port}/{entry.file_name}")


class Server:
    def __init__(self, httpd):
        self.httpd = httpd

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def serve(self, monkeypatch, name: str, data: bytes, published: bytes | None = None) -> str:
        """Serve `data` as entry `name`'s file; the registry's hash is that of `published`
        (default: `data` itself, i.e. a good download)."""
        path = f"/{pretrained.get(name).file_name}"
        self.httpd.files[path] = data
        url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        point(monkeypatch, name, url, data if published is None else published)
        return url


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Server(httpd)
    httpd.shutdown()
    httpd.server_close()
