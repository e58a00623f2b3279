"""Licence notices of the speech sources, shipped in ``avgen/assets/licences/``.

:data:`LICENCE_FILES` maps each source family to its notices; :func:`licence_files` lists what
a kit built from given sources must carry (the kit builder copies them into ``DIR/LICENSES/``).
The noise bank writes its own notices (:func:`avgen.data.noise.bank.write_noise_bank`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from avgen.errors import DataError

LICENCE_FILES: dict[str, tuple[str, ...]] = {
    "asterisk": ("asterisk-core-sounds.txt",),
    "cmu-arctic": ("CMU-ARCTIC.txt",),
    "flite": ("flite.txt",),
    "festival": ("festvox-us-slt-hts.txt", "festvox-kallpc16k.txt", "festvox-kdlpc16k.txt"),
    "espeak-ng": ("espeak-ng-data.txt",),
}
"""Source family -> licence notices in ``avgen/assets/licences/``."""


def licences_dir() -> Path:
    """The folder of licence notices shipped with avgen (copy it to ``DIR/LICENSES/``)."""
    return Path(str(resources.files("avgen").joinpath("assets/licences")))


def licence_files(sources: set[str] | list[str]) -> list[Path]:
    """The notices the given ``UtteranceRecord.source`` values rely on (plus the README
    table), for a kit builder that copies only what it used."""
    names = {"README.md"}
    for source in sources:
        family = "asterisk" if source.startswith("asterisk-core-sounds") else source
        if family not in LICENCE_FILES:
            raise DataError(f"no licence notice known for source {source!r}")
        names.update(LICENCE_FILES[family])
    return [licences_dir() / n for n in sorted(names)]
