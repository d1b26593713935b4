"""Still images -> (H, W, 3) uint8 RGB, whatever their pixel format, or a one-line UserError.

Pillow's `convert("RGB")` clips high-bit-depth gray to 255, so a 16-bit grayscale PNG would
read as an all-white frame; here 16-bit gray is scaled to 8 bits (v * 255 / 65535), 32-bit
integer gray by its range (0..255 kept, 0..65535 scaled, wider refused) and float gray from
[0, 1] or [0, 255] (anything else refused). Palette, 1-bit, CMYK, ... convert as usual; alpha
is dropped. Decompression bombs and truncated / corrupt files are refused, naming the file.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from v2vtool.errors import UserError

_SIXTEEN = ("I;16", "I;16B", "I;16L", "I;16N", "I;16S")


def image_to_rgb(im: Image.Image, where: str) -> np.ndarray:
    """An opened Pillow image -> (H, W, 3) uint8 RGB (see module docstring)."""
    mode = im.mode
    if mode in _SIXTEEN or mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)
        if arr.ndim != 2:
            raise UserError(f"{where}: unsupported image layout (mode {mode}, {arr.shape})")
        if not np.isfinite(arr).all():
            raise UserError(f"{where}: image holds NaN or infinite pixel values")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if mode in _SIXTEEN:
            scale = 255.0 / 65535.0
        elif mode == "I" and lo >= 0 and hi <= 255:
            scale = 1.0
        elif mode == "I" and lo >= 0 and hi <= 65535:
            scale = 255.0 / 65535.0
        elif mode == "F" and lo >= 0 and hi <= 1:
            scale = 255.0
        elif mode == "F" and lo >= 0 and hi <= 255:
            scale = 1.0
        else:
            raise UserError(f"{where}: {mode}-mode image with values {lo:g}..{hi:g}: not a "
                            "range that maps to 8-bit colour")
        gray = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB")).copy()


@contextlib.contextmanager
def image_errors(path: str | os.PathLike):
    """Opening / decoding an image file inside: its failures -> one-line UserErrors naming it
    (decompression bombs refused; PermissionError passes on to the CLI's OSError line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UserError(f"{path}: image too large ({exc})") from None
    except PermissionError:
        raise
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UserError(f"{path}: unreadable image ({text})") from None


def read_rgb(path: str | os.PathLike, exif: bool = False) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; `exif`: apply its orientation tag."""
    path = Path(path)
    with image_errors(path), Image.open(path) as im:
        im.load()
        if exif:
            im = ImageOps.exif_transpose(im)
        return image_to_rgb(im, str(path))
