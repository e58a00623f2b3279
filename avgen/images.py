"""Reading and writing the pictures of scenes (a room, a street), checked like audio is.

:func:`load_picture` turns any image file Pillow reads (PNG, JPEG, BMP, TIFF, WebP, ...) into
the ``(S, S, 3)`` uint8 RGB array the scene encoders take
(:data:`avgen.models.scene.embedding.PICTURE_SIZE` pixels a side), and says what it changed:
a grey or palette picture is converted to RGB, an alpha channel is composited over white, a
picture of another size is resized (bilinear, with antialiasing) after a centred crop to a
square when it is not one. A missing file, a file that is not an image, or a truncated one is
an :class:`~avgen.errors.ImageError` with one readable line. :func:`save_picture` writes a PNG
atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avgen.errors import ImageError
from avgen.files import atomic_path


@dataclass(frozen=True)
class LoadedPicture:
    """A picture ready for a scene encoder, and the changes made to get it there."""

    pixels: np.ndarray
    notes: tuple[str, ...] = field(default_factory=tuple)


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder; give a picture file")
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not a picture Pillow can read (give a PNG or JPEG of the scene)"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: the picture cannot be read ({exc})") from None
    return image


def _to_rgb(image, notes: list[str]):
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if "A" in mode or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append(f"the picture had an alpha channel ({mode}): composited over white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("L", "1", "I", "I;16", "F"):
        notes.append(f"the picture is grey ({mode}): used as RGB with three equal channels")
    else:
        notes.append(f"the picture's mode {mode} was converted to RGB")
    if mode in ("I", "I;16", "F"):
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(np.min(arr)), float(np.max(arr))
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        image = Image.fromarray(np.round(arr).astype(np.uint8))
    return image.convert("RGB")


def load_picture(path: str | os.PathLike[str], size: int | None = 128) -> LoadedPicture:
    """Read ``path`` as a ``(size, size, 3)`` uint8 RGB array (module docstring); with
    ``size=None`` the picture keeps its own shape (only converted to RGB)."""
    from PIL import Image

    path = Path(path)
    notes: list[str] = []
    image = _to_rgb(_open(path), notes)
    w, h = image.size
    if size is None:
        return LoadedPicture(np.asarray(image, dtype=np.uint8).copy(), tuple(notes))
    if w < 8 or h < 8:
        raise ImageError(f"{path}: the picture is {w}x{h} pixels; give one of at least 8x8")
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        image = image.crop((left, top, left + side, top + side))
        notes.append(f"the picture is {w}x{h}: cropped to its centred {side}x{side} square")
    if image.size != (size, size):
        notes.append(
            f"the picture was resized from {image.size[0]}x{image.size[1]} to {size}x{size}"
        )
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    pixels = np.asarray(image, dtype=np.uint8).copy()
    return LoadedPicture(pixels, tuple(notes))


def save_picture(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB array as a PNG, atomically."""
    from PIL import Image

    arr = np.asarray(pixels)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ImageError(
            f"save_picture takes an (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}"
        )
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
