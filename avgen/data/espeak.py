"""libespeak-ng through ctypes: speech with phoneme events, and espeak phonemes -> ARPAbet.

The ``espeak-ng`` program prints phonemes (``-x``) but not their timing. The library does:
initialised with ``espeakINITIALIZE_PHONEME_EVENTS`` in synchronous mode, it hands every chunk
of samples to a callback together with ``espeakEVENT_PHONEME`` events, each carrying the
phoneme mnemonic (up to 8 bytes) and the absolute sample position where it starts
(``speak_lib.h``, espeak-ng 1.5x). A phoneme lasts until the next event.

The phoneme mnemonics are espeak-ng's own (``phsource/ph_*``); they are mapped here to the
canonical ARPAbet set of :mod:`avgen.data.phones` by nearest articulation (what the lips do),
per language, because the same mnemonic means different sounds in different languages
(``a`` is /ae/ in English, /a/ in Spanish). Markers without a sound of their own (language
switches like ``(en)``) map to ``None`` and are merged into the phone before them.

libespeak-ng keeps global state, so one :class:`EspeakLibrary` per process (made on first
use, cached) serialises all calls with a lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avgen.data.phones import SILENCE
from avgen.errors import ConfigError, MissingToolError

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0

DEFAULT_RATE = 175
"""espeak-ng's default speaking rate in words per minute."""
DEFAULT_PITCH = 50
"""espeak-ng's default pitch (0-100)."""


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId))


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True)
class PhonemeEvent:
    """An espeak phoneme starting at ``sample`` (at the library's sample rate)."""

    mnemonic: str
    sample: int


@dataclass(frozen=True)
class EspeakOutput:
    """Raw output of one synthesis: int16-scaled float32 samples and phoneme events."""

    waveform: np.ndarray
    sample_rate: int
    events: list[PhonemeEvent]


class EspeakLibrary:
    """One loaded libespeak-ng, driven synchronously; thread-safe through a lock."""

    def __init__(self, path: str) -> None:
        try:
            self._lib = ctypes.CDLL(path)
        except OSError as exc:
            raise MissingToolError(f"cannot load libespeak-ng ({exc}); install it with: "
                                   "apt-get install libespeak-ng1") from None
        lib = self._lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int)
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p)
        self.sample_rate = int(lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT))
        if self.sample_rate <= 0:
            raise MissingToolError("libespeak-ng failed to initialise (is espeak-ng-data "
                                   "installed? apt-get install espeak-ng)")
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = (ctypes.POINTER(ctypes.c_char_p),)
        data_path = ctypes.c_char_p()
        self.version = (lib.espeak_Info(ctypes.byref(data_path)) or b"?").decode()
        self.data_path = Path((data_path.value or b"").decode())
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[PhonemeEvent] = []
        self._callback = _Callback(self._on_synth)  # keep a reference: C holds a pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, n_samples, events) -> int:  # called from C
        if n_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append(PhonemeEvent(ev.id.string.decode("ascii", "replace"),
                                                 int(ev.sample)))
            i += 1
        return 0

    def variants(self) -> frozenset[str]:
        """Names of the installed voice variants (files of ``voices/!v``)."""
        folder = self.data_path / "voices" / "!v"
        return frozenset(p.name for p in folder.iterdir()) if folder.is_dir() else frozenset()

    def synthesize(self, text: str, voice: str, *, rate: int = DEFAULT_RATE,
                   pitch: int = DEFAULT_PITCH) -> EspeakOutput:
        """Speak ``text`` with espeak voice name ``voice`` (e.g. ``"en-us+f3"``)."""
        data = text.encode("utf-8")
        _, _, variant = voice.partition("+")
        if variant and variant not in self.variants():
            # libespeak-ng would ignore an unknown variant silently
            raise ConfigError(f"espeak-ng has no voice variant {variant!r} (see "
                              "`espeak-ng --voices=variant`; names are file names, e.g. f3)")
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
                raise ConfigError(f"espeak-ng has no voice {voice!r} (see "
                                  "`espeak-ng --voices` and `--voices=variant`)")
            self._lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
            self._lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            self._chunks, self._events = [], []
            try:
                self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0,
                                       _CHARS_UTF8, None, None)
                self._lib.espeak_Synchronize()
                chunks, events = self._chunks, self._events
            finally:
                self._chunks, self._events = [], []
        wav = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32)
        return EspeakOutput(wav / 32768.0, self.sample_rate, events)


@functools.cache
def espeak_library() -> EspeakLibrary:
    """The process's libespeak-ng (loaded and initialised once)."""
    path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    return EspeakLibrary(path)


# ----------------------------------------------------------------------------------------------
# espeak-ng phoneme mnemonics -> ARPAbet (nearest articulation; the lips need visemes)
# ----------------------------------------------------------------------------------------------

_MARKER = None

# Consonants and pauses: the same articulation in every language used here.
_COMMON: dict[str, str | None] = {
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "g": "g", "f": "f", "v": "v",
    "s": "s", "z": "z", "S": "sh", "Z": "zh", "T": "th", "D": "dh", "h": "hh", "x": "hh",
    "m": "m", "n": "n", "N": "ng", "l": "l", "r": "r", "R": "r", "*": "r", "**": "r",
    "R2": "r", "w": "w", "j": "y", "tS": "ch", "dZ": "jh",
    "t2": "t", "t#": "t", "t[": "t", "d[": "d", "z2": "z", "w#": "w", "w2": "w",
    "n-": "n", "n_": "n", "r-": "r", "@L": "l",
    "l^": "l", "n^": "n", "J^": "n",          # palatal lateral and nasal
    "ts": "s", "ts2": "s", "dz": "z", "ss": "s",  # affricates: the fricative's viseme
    "B": "b", "Q": "g",                        # Spanish approximants (beta, gamma)
    ";": "y",                                  # palatal off-glide / softening
    "?": SILENCE,                              # glottal stop: a closure, no lip shape
    "_": SILENCE, "_:": SILENCE, "_!": SILENCE, "_|": SILENCE,
}

# English vowels (phsource/ph_english and its accents).
_ENGLISH: dict[str, str | None] = {
    "a": "ae", "aa": "ae", "a#": "ah", "A:": "aa", "A@": "aa", "0": "aa",
    "@": "ah", "@-": "ah", "@2": "ah", "@5": "ah", "V": "ah", "VR": "er",
    "3": "er", "3:": "er", "IR": "er",
    "E": "eh", "E2": "eh", "E#": "eh", "e@": "eh", "eI": "ey",
    "I": "ih", "I#": "ih", "I2": "ih", "i@": "ih", "i@3": "ih",
    "i": "iy", "i:": "iy",
    "O:": "ao", "O2": "ao", "O@": "ao", "o@": "ao", "OI": "oy", "oU": "ow",
    "U": "uh", "U@": "uh", "u:": "uw",
    "aI": "ay", "aI2": "ay", "aI3": "ay", "aI@": "ay", "aU": "aw",
}

# Romance-language vowels (Spanish, French, Italian): cardinal vowels.
_ROMANCE: dict[str, str | None] = {
    "a": "aa", "aa": "aa", "a#": "ah", "a-": "ah", "A~": "aa",
    "e": "eh", "e-": "eh", "E": "eh", "E~": "eh", "E#": "eh",
    "i": "iy", "i:": "iy", "I": "ih", "I2": "ih",
    "o": "ow", "O": "ao", "O~": "ao", "0": "aa",
    "u": "uw", "u:": "uw", "U": "uh",
    "y": "uw", "y-": "uw",                    # French /y/: rounded like /u/
    "Y": "uh", "W": "uh", "W~": "uh",          # French /ø/, /œ/: rounded mid vowels
    "@": "ah", "@-": "ah", "3": "er", "V": "ah",
    "aI": "ay", "aU": "aw", "eI": "ey", "eU": "ow", "oI": "oy",
}

# Russian vowels; palatalised consonants (``t;``) drop the ``;``.
_RUSSIAN: dict[str, str | None] = {
    "a": "aa", "A": "aa", "aa": "aa", "a#": "ah", "V": "ah", "@": "ah", "@-": "ah",
    "@L": "l", "0": "aa", "O": "ao", "O@": "ao", "o": "ao", "oU": "ow",
    "e": "eh", "E": "eh", "E#": "eh", "E2": "eh", "eI": "ey",
    "i": "iy", "i:": "iy", "I": "ih", "I2": "ih", "I3": "ih", "I^": "ih",
    "y": "ih",                                 # /ɨ/: spread, central
    "u": "uw", "u:": "uw", 'u"': "uw", "8": "uh", "Y": "uh", "3": "er",
    "ja": "aa", "ju": "uw",                    # iotated vowels: the vowel's viseme
    "aI": "ay", "aU": "aw",
    "S;": "sh", "tS;": "ch", "dZ;": "jh",
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

    Language-switch markers such as ``(en)`` give ``None``; a palatalised consonant
    (``t;``) maps like its plain form. Raises ``KeyError`` for a mnemonic not in the table
    (the tests check that every phoneme the kit's voices emit for its texts is covered).
    """
    try:
        table = ESPEAK_PHONEME_TABLES[language]
    except KeyError:
        raise ConfigError(f"no espeak phoneme table for language {language!r}; choose from "
                          f"{', '.join(ESPEAK_LANGUAGES)}") from None
    if mnemonic in table:
        return table[mnemonic]
    if mnemonic.startswith("(") and mnemonic.endswith(")"):
        return _MARKER
    if mnemonic.endswith(";") and mnemonic[:-1] in table:
        return table[mnemonic[:-1]]
    raise KeyError(f"espeak-ng phoneme {mnemonic!r} ({language}) has no ARPAbet mapping")
