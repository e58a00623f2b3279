"""espeak-ng speech with phoneme timing, and espeak phonemes -> ARPAbet.

The ``espeak-ng`` program prints phonemes (``-x``) but not their timing; libespeak-ng, driven
through ctypes (:mod:`avgen.data.speech.espeak_binding`), reports each phoneme with the sample where
it starts. Synthesis runs in a fresh Python process per utterance (about 0.1 s of overhead),
because libespeak-ng carries wave-generator state from one utterance to the next and would
not give the same samples twice in one process; phonemisation without audio
(:meth:`EspeakLibrary.phonemes`) is stateless and runs in this process.

The phoneme mnemonics are espeak-ng's own (``phsource/ph_*``); they are mapped here to the
canonical ARPAbet set of :mod:`avgen.data.speech.phones` by nearest articulation (what the lips do),
per language, because the same mnemonic means different sounds in different languages
(``a`` is /ae/ in English, /a/ in Spanish). Markers without a sound of their own (language
switches like ``(en)``) map to ``None`` and are merged into the phone after them.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avgen.data.speech import espeak_binding as binding
from avgen.data.speech.phones import SILENCE
from avgen.errors import AvgenError, ConfigError, MissingToolError

DEFAULT_RATE = 175
"""espeak-ng's default speaking rate in words per minute."""
DEFAULT_PITCH = 50
"""espeak-ng's default pitch (0-100)."""
_WORKER_TIMEOUT_S = 120


@dataclass(frozen=True)
class PhonemeEvent:
    """An espeak phoneme starting at ``sample`` (at the library's sample rate)."""

    mnemonic: str
    sample: int


@dataclass(frozen=True)
class EspeakOutput:
    """Raw output of one synthesis: float32 samples in [-1, 1) and phoneme events."""

    waveform: np.ndarray
    sample_rate: int
    events: list[PhonemeEvent]


def _missing(detail: str) -> MissingToolError:
    return MissingToolError(
        f"libespeak-ng is not usable ({detail}); install it with: "
        "apt-get install espeak-ng libespeak-ng1"
    )


def synthesize_raw(
    text: str, voice: str, *, rate: int = DEFAULT_RATE, pitch: int = DEFAULT_PITCH
) -> EspeakOutput:
    """Speak ``text`` with espeak voice name ``voice`` (``"en-us+f3"``) in a fresh process."""
    request = json.dumps(
        {"text": text, "voice": voice, "rate": int(rate), "pitch": int(pitch)}
    ).encode("utf-8")
    proc = subprocess.run(
        [sys.executable, "-I", binding.__file__],
        input=request,
        capture_output=True,
        timeout=_WORKER_TIMEOUT_S,
    )
    header_line, _, payload = proc.stdout.partition(b"\n")
    try:
        header = json.loads(header_line)
    except json.JSONDecodeError:
        raise AvgenError(
            f"espeak-ng synthesis failed: {proc.stderr.decode(errors='replace').strip()[-300:]}"
        ) from None
    if "error" in header:
        if header.get("kind") == "voice":
            raise ConfigError(header["error"])
        raise _missing(header["error"])
    pcm = np.frombuffer(payload, dtype="<i2" if header["byteorder"] == "little" else ">i2")
    events = [PhonemeEvent(m, int(n)) for m, n in header["events"]]
    return EspeakOutput(pcm.astype(np.float32) / 32768.0, int(header["sample_rate"]), events)


class EspeakLibrary:
    """libespeak-ng loaded in this process, for what has no state: voices and phonemes."""

    def __init__(self) -> None:
        try:
            self._lib = binding.load_library()
        except OSError as exc:
            raise _missing(str(exc)) from None
        self.sample_rate = binding.initialize(self._lib)
        if self.sample_rate <= 0:
            raise _missing("initialisation failed; is espeak-ng-data installed?")
        self.data_path = Path(binding.data_path(self._lib))
        self._lock = threading.Lock()

    def variants(self) -> frozenset[str]:
        """Names of the installed voice variants (files of ``voices/!v``)."""
        return binding.variants(self._lib)

    def phonemes(self, text: str, voice: str) -> list[str]:
        """The phoneme mnemonics of ``text`` without audio or pauses
        (``espeak_TextToPhonemes``, stress marks removed): fast, for checking coverage."""
        with self._lock:
            try:
                binding.select_voice(self._lib, voice)
            except binding.VoiceError as exc:
                raise ConfigError(str(exc)) from None
            return binding.text_to_phonemes(self._lib, text)


@functools.cache
def espeak_library() -> EspeakLibrary:
    """The process's libespeak-ng for phonemisation (loaded and initialised once)."""
    return EspeakLibrary()


# ----------------------------------------------------------------------------------------------
# espeak-ng phoneme mnemonics -> ARPAbet (nearest articulation; the lips need visemes)
# ----------------------------------------------------------------------------------------------

_MARKER = None

# Consonants and pauses: the same articulation in every language used here.
_COMMON: dict[str, str | None] = {
    "p": "p",
    "b": "b",
    "t": "t",
    "d": "d",
    "k": "k",
    "g": "g",
    "f": "f",
    "v": "v",
    "s": "s",
    "z": "z",
    "S": "sh",
    "Z": "zh",
    "T": "th",
    "D": "dh",
    "h": "hh",
    "x": "hh",
    "m": "m",
    "n": "n",
    "N": "ng",
    "l": "l",
    "r": "r",
    "R": "r",
    "*": "r",
    "**": "r",
    "R2": "r",
    "w": "w",
    "j": "y",
    "tS": "ch",
    "dZ": "jh",
    "t2": "t",
    "t#": "t",
    "t[": "t",
    "d[": "d",
    "z2": "z",
    "w#": "w",
    "w2": "w",
    "n-": "n",
    "n_": "n",
    "r-": "r",
    "@L": "l",
    "l^": "l",
    "n^": "n",
    "J^": "n",  # palatal lateral and nasal
    "ts": "s",
    "ts2": "s",
    "dz": "z",
    "ss": "s",  # affricates: the fricative's viseme
    "B": "b",
    "Q": "g",  # Spanish approximants (beta, gamma)
    ";": "y",  # palatal off-glide / softening
    "?": SILENCE,  # glottal stop: a closure, no lip shape
    "_": SILENCE,
    "_:": SILENCE,
    "_!": SILENCE,
    "_|": SILENCE,
}

# English vowels (phsource/ph_english and its accents).
_ENGLISH: dict[str, str | None] = {
    "a": "ae",
    "aa": "ae",
    "a#": "ah",
    "A:": "aa",
    "A@": "aa",
    "0": "aa",
    "@": "ah",
    "@-": "ah",
    "@2": "ah",
    "@5": "ah",
    "V": "ah",
    "VR": "er",
    "3": "er",
    "3:": "er",
    "IR": "er",
    "E": "eh",
    "E2": "eh",
    "E#": "eh",
    "e@": "eh",
    "eI": "ey",
    "I": "ih",
    "I#": "ih",
    "I2": "ih",
    "i@": "ih",
    "i@3": "ih",
    "i": "iy",
    "i:": "iy",
    "O:": "ao",
    "O2": "ao",
    "O@": "ao",
    "o@": "ao",
    "OI": "oy",
    "oU": "ow",
    "U": "uh",
    "U@": "uh",
    "u:": "uw",
    "aI": "ay",
    "aI2": "ay",
    "aI3": "ay",
    "aI@": "ay",
    "aU": "aw",
    "A~": "aa",
    "O~": "ao",
    "E~": "eh",
    "W~": "ah",  # nasal vowels of French loanwords
}

# Romance-language vowels (Spanish, French, Italian): cardinal vowels.
_ROMANCE: dict[str, str | None] = {
    "a": "aa",
    "aa": "aa",
    "a#": "ah",
    "a-": "ah",
    "A~": "aa",
    "e": "eh",
    "e-": "eh",
    "E": "eh",
    "E~": "eh",
    "E#": "eh",
    "i": "iy",
    "i:": "iy",
    "I": "ih",
    "I2": "ih",
    "o": "ow",
    "O": "ao",
    "O~": "ao",
    "0": "aa",
    "u": "uw",
    "u:": "uw",
    "U": "uh",
    "y": "uw",
    "y-": "uw",  # French /y/: rounded like /u/
    "Y": "uh",
    "W": "uh",
    "W~": "uh",  # French /ø/, /œ/: rounded mid vowels
    "@": "ah",
    "@-": "ah",
    "3": "er",
    "V": "ah",
    "aI": "ay",
    "aU": "aw",
    "eI": "ey",
    "eU": "ow",
    "oI": "oy",
}

# Russian vowels; palatalised consonants (``t;``) drop the ``;``.
_RUSSIAN: dict[str, str | None] = {
    "a": "aa",
    "A": "aa",
    "aa": "aa",
    "a#": "ah",
    "V": "ah",
    "@": "ah",
    "@-": "ah",
    "@L": "l",
    "0": "aa",
    "O": "ao",
    "O@": "ao",
    "o": "ao",
    "oU": "ow",
    "e": "eh",
    "E": "eh",
    "E#": "eh",
    "E2": "eh",
    "eI": "ey",
    "i": "iy",
    "i:": "iy",
    "I": "ih",
    "I2": "ih",
    "I3": "ih",
    "I^": "ih",
    "y": "ih",  # /ɨ/: spread, central
    "u": "uw",
    "u:": "uw",
    'u"': "uw",
    "8": "uh",
    "Y": "uh",
    "3": "er",
    "ja": "aa",
    "ju": "uw",  # iotated vowels: the vowel's viseme
    "aI": "ay",
    "aU": "aw",
    "S;": "sh",
    "tS;": "ch",
    "dZ;": "jh",
}

ESPEAK_PHONEME_TABLES: dict[str, dict[str, str | None]] = {
    "en": {**_COMMON, **_ENGLISH},
    "es": {**_COMMON, **_ROMANCE},
    "fr": {**_COMMON, **_ROMANCE},
    "it": {**_COMMON, **_ROMANCE},
    "ru": {**_COMMON, **_RUSSIAN},
}
"""Per language: espeak-ng mnemonic -> canonical ARPAbet phone (``None``: a silent marker)."""

ESPEAK_LANGUAGES: tuple[str, ...] = tuple(ESPEAK_PHONEME_TABLES)


def espeak_to_arpabet(mnemonic: str, language: str) -> str | None:
    """The canonical phone for espeak-ng phoneme ``mnemonic`` spoken in ``language``.

    Language-switch markers such as ``(en)`` give ``None``; a palatalised (``t;``) or long
    (``k:``) phoneme not in the table maps like its plain form. Raises ``KeyError`` for a
    mnemonic not in the table (the tests check that every phoneme the kit's voices emit for
    its texts is covered).
    """
    try:
        table = ESPEAK_PHONEME_TABLES[language]
    except KeyError:
        raise ConfigError(
            f"no espeak phoneme table for language {language!r}; choose from "
            f"{', '.join(ESPEAK_LANGUAGES)}"
        ) from None
    if mnemonic in table:
        return table[mnemonic]
    if mnemonic.startswith("(") and mnemonic.endswith(")"):
        return _MARKER
    if mnemonic[-1:] in (";", ":") and mnemonic[:-1] in table:  # palatalised or long
        return table[mnemonic[:-1]]
    raise KeyError(f"espeak-ng phoneme {mnemonic!r} ({language}) has no ARPAbet mapping")
