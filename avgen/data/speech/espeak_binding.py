"""ctypes binding of libespeak-ng (standard library only), and a one-utterance synthesis script.

Initialised with ``espeakINITIALIZE_PHONEME_EVENTS`` in synchronous mode, libespeak-ng hands
every chunk of samples to a callback together with ``espeakEVENT_PHONEME`` events, each
carrying the phoneme mnemonic (up to 8 bytes) and the absolute sample position where it starts
(``speak_lib.h``, espeak-ng 1.5x). A phoneme lasts until the next event.

Run as a script (``python -I espeak_binding.py``), this module reads one JSON request
``{"text", "voice", "rate", "pitch"}`` on stdin, speaks it **in this fresh process** and
writes one JSON header line (sample rate, events, or an error) followed by the int16 samples.
A fresh process per utterance is what makes espeak-ng deterministic: its wave generator keeps
state from one utterance to the next (the pitch-flutter phase is a function-static counter in
``wavegen.c``'s ``AdvanceParameters``, never reset), so the same text spoken twice in one
process differs by a few samples. The phonemiser (``espeak_TextToPhonemes``) has no such
state and runs in-process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
EVENT_LIST_TERMINATED = 0
EVENT_PHONEME = 7
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE = 1
PARAM_PITCH = 3
EE_OK = 0


class EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", EventId),
    )


SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(Event)
)


class VoiceError(ValueError):
    """No such espeak-ng voice or variant."""


def load_library() -> ctypes.CDLL:
    """Load libespeak-ng and declare the signatures used here (raises ``OSError``)."""
    lib = ctypes.CDLL(ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
    lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.espeak_Synth.argtypes = (
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    )
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = (
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_int,
        ctypes.c_int,
    )
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = (ctypes.POINTER(ctypes.c_char_p),)
    return lib


def initialize(lib: ctypes.CDLL) -> int:
    """Initialise for synchronous synthesis with phoneme events; returns the sample rate
    (``<= 0`` on failure)."""
    return int(
        lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT
        )
    )


def data_path(lib: ctypes.CDLL) -> str:
    path = ctypes.c_char_p()
    lib.espeak_Info(ctypes.byref(path))
    return (path.value or b"").decode()


def variants(lib: ctypes.CDLL) -> frozenset[str]:
    """Names of the installed voice variants (files of ``voices/!v``)."""
    folder = os.path.join(data_path(lib), "voices", "!v")
    return frozenset(os.listdir(folder)) if os.path.isdir(folder) else frozenset()


def select_voice(lib: ctypes.CDLL, voice: str) -> None:
    """Select ``voice`` (``"en-us+f3"``); raises :class:`VoiceError` for an unknown voice or
    variant (libespeak-ng itself ignores an unknown variant silently)."""
    _, _, variant = voice.partition("+")
    if variant and variant not in variants(lib):
        raise VoiceError(
            f"espeak-ng has no voice variant {variant!r} (see "
            "`espeak-ng --voices=variant`; names are file names, e.g. f3)"
        )
    if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != EE_OK:
        raise VoiceError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)")


def text_to_phonemes(lib: ctypes.CDLL, text: str) -> list[str]:
    """Phoneme mnemonics of ``text`` in the selected voice, without stress marks or pauses."""
    buffer = ctypes.create_string_buffer(text.encode("utf-8"))
    pointer = ctypes.c_void_p(ctypes.addressof(buffer))
    out: list[str] = []
    while pointer.value:
        clause = lib.espeak_TextToPhonemes(ctypes.byref(pointer), CHARS_UTF8, ord("|") << 8)
        for word in (clause or b"").decode("utf-8", "replace").split():
            out += [m.lstrip("',%=") for m in word.split("|")]
    return [m for m in out if m and not m.startswith("_")]


def synthesize(
    lib: ctypes.CDLL, text: str, voice: str, rate: int, pitch: int
) -> tuple[bytes, list[tuple[str, int]]]:
    """Speak ``text``: int16 samples (native byte order) and ``(mnemonic, sample)`` events."""
    chunks: list[bytes] = []
    events: list[tuple[str, int]] = []

    def on_synth(wav, n_samples, event_list) -> int:
        if n_samples > 0 and wav:
            chunks.append(ctypes.string_at(wav, 2 * n_samples))
        i = 0
        while event_list[i].type != EVENT_LIST_TERMINATED:
            ev = event_list[i]
            if ev.type == EVENT_PHONEME:
                events.append((ev.id.string.decode("ascii", "replace"), int(ev.sample)))
            i += 1
        return 0

    callback = SynthCallback(on_synth)
    lib.espeak_SetSynthCallback(callback)
    select_voice(lib, voice)
    lib.espeak_SetParameter(PARAM_RATE, int(rate), 0)
    lib.espeak_SetParameter(PARAM_PITCH, int(pitch), 0)
    data = text.encode("utf-8")
    lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    return b"".join(chunks), events


def main() -> int:
    """One request on stdin -> header line + samples on stdout."""
    out = sys.stdout.buffer
    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        try:
            lib = load_library()
        except OSError as exc:
            raise RuntimeError(f"missing: cannot load libespeak-ng ({exc})") from None
        sample_rate = initialize(lib)
        if sample_rate <= 0:
            raise RuntimeError(
                "missing: libespeak-ng failed to initialise (is espeak-ng-data installed?)"
            )
        pcm, events = synthesize(
            lib, request["text"], request["voice"], request["rate"], request["pitch"]
        )
    except VoiceError as exc:
        out.write(json.dumps({"error": str(exc), "kind": "voice"}).encode() + b"\n")
        return 0
    except RuntimeError as exc:
        out.write(json.dumps({"error": str(exc), "kind": "library"}).encode() + b"\n")
        return 0
    header = {"sample_rate": sample_rate, "events": events, "byteorder": sys.byteorder}
    out.write(json.dumps(header).encode() + b"\n")
    out.write(pcm)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
