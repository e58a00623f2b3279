"""What the room kit and the scene kit share on disk: JSON-lines records of dataclasses, the
kit's summary file, and the rule for reusing, resuming or replacing a kit folder.

Each kit names itself with a :class:`KitFormat` (``"room kit"``, ``avgen data rooms``,
``roomkit.json``) so that every :class:`~avgen.errors.DataError` says which kit is wrong and
which command rebuilds it. The formats themselves are defined by
:mod:`avgen.data.rooms.records` and :mod:`avgen.data.scenes.records`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgen.errors import DataError
from avgen.files import write_text_atomic


@dataclass(frozen=True)
class KitFormat:
    """How a kit is named in errors: ``name`` (``"room kit"``), the ``command`` that builds it
    (``"avgen data rooms"``), its summary file written last (``info_file``) and the build's
    options file written first (``options_file``), both relative to the kit folder."""

    name: str
    command: str
    info_file: str
    options_file: str


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> None:
    """Write dataclass records, one JSON object per line (atomic)."""
    lines = [json.dumps(dataclasses.asdict(r), ensure_ascii=False) for r in records]
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def record_from_dict(cls: type, data: Any, where: str, kit: KitFormat) -> Any:
    """``cls(**data)`` (unknown keys ignored) with a :class:`DataError` naming ``where`` if the
    fields are wrong."""
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object; rebuild the {kit.name}")
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise DataError(
            f"{where}: not a valid {cls.__name__} ({exc}); rebuild the {kit.name}"
        ) from None


def read_jsonl(path: str | os.PathLike[str], cls: type, kit: KitFormat) -> list[Any]:
    """Read records of dataclass ``cls``; a clear :class:`DataError` if the file is wrong."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: missing; the {kit.name} is incomplete (rerun `{kit.command}`)")
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}:{i}: not JSON ({exc}); rebuild the {kit.name}") from None
        out.append(record_from_dict(cls, obj, f"{p}:{i}", kit))
    return out


def write_info(root: str | os.PathLike[str], info: Any, kit: KitFormat) -> None:
    """Write the kit's summary (a dataclass) as indented JSON, atomically."""
    write_text_atomic(Path(root) / kit.info_file, json.dumps(dataclasses.asdict(info), indent=2))


def info_path(root: str | os.PathLike[str], kit: KitFormat) -> Path:
    """The summary file of a complete kit in ``root``; :class:`DataError` saying whether
    ``root`` is missing, a partial build (rerun it) or not a kit at all."""
    p = Path(root) / kit.info_file
    if not Path(root).is_dir():
        raise DataError(f"{root}: no such folder; build a {kit.name} with `{kit.command}`")
    if not p.exists():
        partial = (Path(root) / kit.options_file).is_file()
        raise DataError(
            f"{root}: "
            + (
                f"an incomplete {kit.name} (no {kit.info_file}); rerun the same "
                f"`{kit.command}` command to finish it"
                if partial
                else f"not a {kit.name} (no {kit.info_file}); build one with `{kit.command}`"
            )
        )
    return p


def check_reuse(
    root: Path,
    wanted: dict[str, Any],
    manifest: str,
    overwrite: bool,
    kit: KitFormat,
    read_info: Callable[[Path], Any],
) -> bool:
    """Whether ``root`` already holds this very kit complete (options ``wanted``, speech kit
    ``manifest``). A complete kit of other options, a partial build of other options (or an
    unreadable options file) and a folder that is not a kit are removed with ``overwrite``,
    else a :class:`DataError`; a partial build of the same options is left to resume."""
    if (root / kit.info_file).exists():
        info = read_info(root)
        if info.options == wanted and info.speech_manifest == manifest:
            return True
        if not overwrite:
            raise DataError(
                f"{root}: already holds a {kit.name} of other options or speech; "
                "choose another folder or pass --overwrite"
            )
        shutil.rmtree(root)
        return False
    started = root / kit.options_file
    if started.exists():
        try:
            previous = json.loads(started.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            previous = None
        if previous != {"options": wanted, "speech_manifest": manifest}:
            if not overwrite:
                raise DataError(
                    f"{root}: holds a partial {kit.name} of other options or speech; rerun it "
                    "with its own options, choose another folder, or pass --overwrite"
                )
            shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()) and not overwrite:
        raise DataError(
            f"{root}: exists and is not a {kit.name}; choose an empty or new folder "
            "(or pass --overwrite to replace it)"
        )
    elif root.exists() and overwrite:
        shutil.rmtree(root)
    return False
