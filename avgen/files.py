"""Atomic file output: a run that is interrupted never leaves a half-written file.

Write to a temporary file in the destination's folder, flush it, then ``os.replace`` it over the
destination (atomic on POSIX within one file system). A destination that cannot be written (its
folder is a file, no permission, the destination is a folder) raises
:class:`~avgen.errors.OutputError`, which names the path and the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avgen.errors import OutputError


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` met while writing ``path``."""
    reason = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return OutputError(f"{path}: cannot write here: {reason}{where}; choose another output path")


def _check_ancestor(path: Path, start: Path) -> Path:
    """The nearest existing folder at or above ``start``; :class:`OutputError` (naming
    ``path``) when that nearest existing path is a file."""
    ancestor = start
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(
            f"{path}: cannot write here: {ancestor} is a file, not a folder; "
            "choose another output path"
        )
    return ancestor


def make_folder(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``, with :class:`OutputError` when it cannot be made (a file is in the
    way, no permission)."""
    folder = Path(path)
    _check_ancestor(folder, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    return folder


def check_writable(path: str | os.PathLike[str], *, folder: bool = False) -> Path:
    """Before any work: raise :class:`OutputError` unless ``path`` can be written as a file (or,
    with ``folder=True``, made or reused as a folder): it is not a folder (not a file), its
    nearest existing ancestor is a folder, and that folder is writable."""
    dest = Path(path)
    if folder and dest.exists() and not dest.is_dir():
        raise OutputError(f"{dest}: exists and is not a folder; give a folder name")
    if not folder and dest.is_dir():
        raise OutputError(f"{dest}: is a folder; give a file name")
    ancestor = _check_ancestor(dest, dest if folder and dest.is_dir() else dest.parent)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(
            f"{dest}: cannot write here: no permission to write in {ancestor}; "
            "choose another output path"
        )
    return dest


def check_outputs_differ(
    outputs: dict[str, str | os.PathLike[str] | None],
    inputs: dict[str, str | os.PathLike[str] | None],
) -> None:
    """Raise :class:`OutputError` if two outputs, or an output and an input, are the same file
    (compared after resolving links). Keys are the option names shown to the user."""
    seen: dict[Path, str] = {}
    for role, path in inputs.items():
        if path is not None:
            seen.setdefault(Path(path).resolve(), role)
    for role, path in outputs.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise OutputError(
                f"{path}: {role} would overwrite {seen[key]}; give {role} another file name"
            )
        seen[key] = role


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    ``suffix`` defaults to the destination's, so writers that infer a format from the
    extension (soundfile, matplotlib, numpy) keep working.
    """
    dest = Path(path)
    if dest.is_dir():
        raise OutputError(f"{dest}: is a folder; give a file name")
    make_folder(dest.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{dest.name}.",
            suffix=suffix if suffix is not None else dest.suffix,
            dir=dest.parent,
        )
    except OSError as exc:
        raise _cannot_write(dest, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the usual mode (0666 minus the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise _cannot_write(dest, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
