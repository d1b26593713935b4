"""One writer per run directory: an exclusive `fcntl.flock` on RUN/.lock.

`v2v train` and `v2v ablate` hold the lock for as long as they write into RUN; a second
process asking for it gets one line ("RUN is in use by pid N") and exit 2, instead of two
runs interleaving their checkpoints and metrics. The kernel releases a flock when its process
dies (kill -9 included), so a crash never leaves a stale lock: the next run simply takes it.

The lock file holds the owner's pid (for the message). It is removed on release; a process
that locked a file that was removed meanwhile notices (inode check) and locks the new one.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from v2vtool.errors import UserError, os_error_message

LOCK_NAME = ".lock"


class DirLock:
    """Exclusive lock on a directory (module docstring). Use as a context manager or call
    `release()`; `acquire` raises UserError when another process holds it."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "DirLock":
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UserError(os_error_message(exc, self.folder)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                owner = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    who = f"pid {owner}" if owner else "another process"
                    raise UserError(f"{self.folder} is in use by {who} (one writer per run "
                                    "directory; wait for it to finish or choose another "
                                    "--out)") from None
                raise UserError(os_error_message(exc, self.path)) from None
            try:  # the file we locked must still be the one at the path
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding it: see the inode check in acquire
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "DirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
