"""The one exception type for bad user input: the CLI prints its message on one line, exit 2.

Operating-system errors (a read-only output folder, a full disk, a path under a regular file,
a file that cannot be read) are facts about the user's files too: `os_error_message` turns
one into that one line, naming the user's path rather than a temporary name.
"""
from __future__ import annotations

import errno
import os


class UserError(Exception):
    """Bad input (file, option, data). The message names the file and what is wrong."""


_HINTS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a parent of this path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EFBIG: "file too large",
}


def _is_temporary(name: str) -> bool:
    base = os.path.basename(str(name))
    return base.startswith(".") and (".tmp-" in base or ".old-" in base)


def os_error_message(exc: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for an OSError: '<path>: <what went wrong>'. `path` (the final output) is
    named when the error is about a temporary file of it, or names no file at all."""
    name = exc.filename
    if path is not None and (name is None or _is_temporary(str(name))):
        name = path
    what = _HINTS.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__)
    what = what.splitlines()[0] if what else type(exc).__name__
    return f"{name}: {what}" if name is not None else what
