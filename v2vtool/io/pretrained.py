"""Third-party pretrained weights: VGG19 (perceptual loss), Inception (FID), AlexNet (LPIPS).

One registry (`REGISTRY`): the file torchvision / pytorch-fid publish, its official URL and its
SHA-256. `resolve(name, explicit)` is how every loader finds its file:
  1. an explicit path (a command-line option or argument), used as given;
  2. a file already on disk: torch's hub cache `torch.hub.get_dir()/checkpoints/` (where
     torchvision, pytorch-fid and lpips keep theirs), then every weights/ folder that
     `v2vtool.resources` searches, then ./weights;
  3. a download of the official URL into the hub cache, as torch.hub does it: to a temporary
     name, checked against the full SHA-256, then renamed; a mismatch removes the download.
Offline -- $V2V_OFFLINE=1, `v2v --offline`, a caller that never downloads (`fetch=False`: the
demo), or a network that does not answer within TIMEOUT_S -- `WeightsUnavailable` names the
exact path to put the file at. Files found on disk are used as they are (as torchvision does);
the hash is checked on download and by `v2v weights list` (`state`), not on every load.

The download is ours, not `torch.hub.download_url_to_file`: that one opens the URL without a
timeout, so a network that drops packets would stall `v2v train` for minutes.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator, Mapping

from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_path
from v2vtool.io.hashing import sha256_file

ENV_OFFLINE = "V2V_OFFLINE"
TIMEOUT_S = 15.0  # name lookup, connect and each read: no network fails in seconds, not minutes
CHUNK = 1 << 20

Progress = Callable[[int, "int | None"], None]  # (bytes done, bytes in total or None)


@dataclass(frozen=True)
class PretrainedFile:
    """One published weights file."""
    name: str       # what `v2v weights fetch NAME` takes
    file_name: str  # the publisher's file name (torch hub cache name)
    url: str        # the official download
    sha256: str     # full hex SHA-256 of the published file
    size: int       # bytes of the published file
    title: str      # what it is, for messages
    used_by: str    # what needs it
    option: str | None = None  # the command-line option that takes an explicit path


# The publishers give only the first 8 hex digits of each SHA-256 (in the file name, which
# torch.hub's check_hash compares). The full values and sizes below are those recorded for these
# URLs by several independent public projects; each starts with its file name's prefix. They
# were not recomputed here (the machine this was written on has no network).
REGISTRY: Mapping[str, PretrainedFile] = MappingProxyType({f.name: f for f in (
    PretrainedFile(
        "vgg19", "vgg19-dcbb9e9d.pth", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", 574_673_361,
        "torchvision VGG19, ImageNet", "perceptual loss (train, synthesize --finetune)"),
    PretrainedFile(
        "inception", "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2", 95_628_359,
        "pytorch-fid InceptionV3", "FID (evaluate)", "--fid-weights"),
    PretrainedFile(
        "alexnet", "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02", 244_408_911,
        "torchvision AlexNet, ImageNet", "LPIPS (evaluate, benchmark)", "--lpips-backbone"),
)})

NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError,
                  ConnectionError, socket.gaierror, ssl.SSLError)


class WeightsUnavailable(UserError):
    """A weights file is not on disk and could not (or may not) be downloaded, or the download
    did not match its SHA-256. The message is one line naming the exact path to put it at."""


def get(name: str) -> PretrainedFile:
    if name not in REGISTRY:
        raise UserError(f"unknown pretrained weights {name!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]


def hub_dir() -> Path:
    """torch's hub checkpoint cache ($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/...)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hub_path(entry: PretrainedFile) -> Path:
    """Where a download goes (and where the messages tell a user to put the file)."""
    return hub_dir() / entry.file_name


def search_paths(entry: PretrainedFile) -> list[Path]:
    """The places a file is looked for, in order (no explicit path)."""
    from v2vtool.resources import weights_roots

    paths = [hub_path(entry)] + [root / entry.file_name for root in weights_roots()]
    paths.append(Path.cwd() / "weights" / entry.file_name)
    return list(dict.fromkeys(paths))


def find(name: str) -> Path | None:
    """The first existing file of `search_paths`, or None."""
    return next((p for p in search_paths(get(name)) if p.is_file()), None)


def offline_requested() -> bool:
    """$V2V_OFFLINE set to 1 / true / yes (`v2v --offline` sets it for the process)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def unavailable_message(entry: PretrainedFile, why: str) -> str:
    """One line: which file, why it is missing, the exact path to put it at, how to get it."""
    alt = f", or pass {entry.option} PATH" if entry.option else ""
    return (f"{entry.file_name} ({entry.title}) not found and {why}; put it at "
            f"{hub_path(entry)} (download {entry.url}, or run `v2v weights fetch {entry.name}` "
            f"on a machine with a network{alt})")


OFFLINE_WHY = f"offline (${ENV_OFFLINE}=1 or v2v --offline)"


def resolve(name: str, explicit: str | os.PathLike | None = None, *, fetch: bool = True,
            progress: Progress | None = None, timeout: float = TIMEOUT_S) -> Path:
    """The weights file to load: `explicit`, else one on disk, else a checked download into the
    hub cache (unless `fetch` is False or offline). Raises WeightsUnavailable."""
    entry = get(name)
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            opt = f"{entry.option} " if entry.option else ""
            raise WeightsUnavailable(f"{opt}{path}: file not found (expected {entry.file_name})")
        return path
    found = find(name)
    if found is not None:
        return found
    if not fetch:
        raise WeightsUnavailable(unavailable_message(entry, "this command does not download"))
    if offline_requested():
        raise WeightsUnavailable(unavailable_message(entry, OFFLINE_WHY))
    if progress is not None:
        return download(entry, hub_path(entry), progress, timeout)
    with download_bar(f"fetching {entry.file_name}", transient=False) as bar:
        return download(entry, hub_path(entry), bar, timeout)


def fetch(name: str, progress: Progress | None = None, timeout: float = TIMEOUT_S,
          checked: "FileState | None" = None) -> tuple[Path, str]:
    """Make sure a file with the published SHA-256 is on disk -> (path, "present" | "fetched" |
    "replaced"). `checked`: this file's `state()` when the caller already has it.

    A file found with another hash is not used: the download goes to the hub cache (first in the
    search order), replacing one there."""
    entry = get(name)
    current = checked if checked is not None else state(name)
    if current.hash == "ok":
        return current.path, "present"
    if offline_requested():
        raise WeightsUnavailable(f"{entry.file_name}: not fetched: {OFFLINE_WHY}; on a machine "
                                 f"with a network download {entry.url} and put it at "
                                 f"{hub_path(entry)}")
    path = download(entry, hub_path(entry), progress, timeout)
    return path, "replaced" if current.present and current.path == path else "fetched"


@dataclass(frozen=True)
class FileState:
    """What `v2v weights list` reports for one registry entry."""
    entry: PretrainedFile
    path: Path           # where it was found, else where a download would go
    present: bool
    size: int | None
    hash: str            # "ok" | "mismatch" | "unknown" (not hashed) | "missing"

    def to_dict(self) -> dict:
        e = self.entry
        return {"name": e.name, "file": e.file_name, "used_by": e.used_by, "url": e.url,
                "present": self.present, "path": str(self.path), "size": self.size,
                "sha256": self.hash, "sha256_expected": e.sha256}


def state(name: str, verify: bool = True) -> FileState:
    """Present or not, where, size, hash status. `verify=False` compares sizes only: a size that
    differs is a mismatch, an equal one "unknown"."""
    entry = get(name)
    found = find(name)
    if found is None:
        return FileState(entry, hub_path(entry), False, None, "missing")
    size = found.stat().st_size
    if size != entry.size:
        status = "mismatch"
    elif verify:
        status = "ok" if sha256_file(found) == entry.sha256 else "mismatch"
    else:
        status = "unknown"
    return FileState(entry, found, True, size, status)


def download(entry: PretrainedFile, dest: Path, progress: Progress | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """entry.url -> dest, through a temporary name, checked against entry.sha256. On a network
    error, a mismatch or an unwritable folder: WeightsUnavailable, and nothing is left behind."""
    try:
        with atomic_path(dest) as tmp:
            try:
                digest = _copy_url(entry.url, tmp, progress, timeout)
            except NETWORK_ERRORS as exc:
                raise WeightsUnavailable(unavailable_message(
                    entry, f"could not be downloaded ({_reason(exc)})")) from None
            if digest != entry.sha256:
                raise WeightsUnavailable(
                    f"{entry.url}: downloaded file has SHA-256 {digest[:16]}..., not the "
                    f"published {entry.sha256[:16]}...; it was removed, nothing saved at {dest}")
    except WeightsUnavailable:
        raise
    except UserError as exc:  # the hub folder could not be written (read-only, disk full)
        raise WeightsUnavailable(unavailable_message(entry, f"could not be saved: {exc}")) from None
    return dest


def _copy_url(url: str, dst: Path, progress: Progress | None, timeout: float) -> str:
    """Stream `url` into `dst`; returns the hex SHA-256 of the bytes."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname:
        _lookup(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), timeout)
    request = urllib.request.Request(url, headers={"User-Agent": "v2vtool"})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=timeout) as resp, open(dst, "wb") as fh:
        length = resp.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        done = 0
        if progress is not None:
            progress(0, total)
        while block := resp.read(CHUNK):
            fh.write(block)
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def _lookup(host: str, port: int, timeout: float) -> None:
    """Name lookup with a deadline: getaddrinfo has no timeout of its own, and a DNS server
    that never answers would block for the resolver's retries."""
    box: dict = {}

    def run() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name="v2v-name-lookup", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"name lookup of {host} took over {timeout:g} s")
    if "error" in box:
        raise box["error"]


def _reason(exc: BaseException) -> str:
    """A network error in a few words ("Connection refused", "HTTP 404 Not Found")."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return " ".join(str(exc.reason).split())
        exc = exc.reason
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


@contextlib.contextmanager
def download_bar(label: str, console=None, transient: bool = True) -> Iterator[Progress]:
    """A download progress bar on stderr (rich), started by the first update; yields the
    `progress(done, total)` callback."""
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress as Bar, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
              TransferSpeedColumn(), TimeRemainingColumn(),
              console=console or Console(stderr=True), transient=transient)
    task: list = []

    def update(done: int, total: int | None) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()


__all__ = ["PretrainedFile", "REGISTRY", "WeightsUnavailable", "FileState", "get", "hub_dir",
           "hub_path", "search_paths", "find", "offline_requested", "unavailable_message",
           "resolve", "fetch", "state", "download", "download_bar",
           "ENV_OFFLINE", "TIMEOUT_S"]
