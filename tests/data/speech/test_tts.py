"""Text-to-speech engines: speech at 16 kHz whose phone timing matches the audio."""

from __future__ import annotations

import itertools
import shutil

import librosa
import numpy as np
import pytest

from avgen.audio import SAMPLE_RATE
from avgen.data.speech import tts
from avgen.data.speech.espeak import (
    ESPEAK_LANGUAGES,
    espeak_library,
    espeak_to_arpabet,
    synthesize_raw,
)
from avgen.data.speech.phones import PHONE_SET, SILENCE
from avgen.data.speech.plan import tts_texts
from avgen.data.speech.speakers import all_speakers
from avgen.data.speech.vad import energy_vad
from avgen.errors import AvgenError, ConfigError, MissingToolError

pytestmark = pytest.mark.system

SENTENCE = "The old lighthouse keeper climbed the stairs every night at nine."
FOREIGN = {
    "es": "Por favor ingrese su contrasena seguida por la tecla de numero.",
    "fr": "Composez votre mot de passe suivi du dièse.",
    "it": "Prego digitare la propria password seguita dal tasto cancelletto.",
    "ru": "Введите пароль и нажмите решетку.",
}

ENGINES = [
    *[
        pytest.param(tts.synthesize_flite, SENTENCE, {"voice": v}, id=f"flite-{v}")
        for v in tts.FLITE_VOICES
    ],
    *[
        pytest.param(tts.synthesize_festival, SENTENCE, {"voice": v}, id=f"festival-{v}")
        for v in tts.FESTIVAL_VOICES
    ],
    pytest.param(
        tts.synthesize_espeak,
        SENTENCE,
        {"voice": "en-gb-scotland", "variant": "f3"},
        id="espeak-en",
    ),
    *[
        pytest.param(
            tts.synthesize_espeak, text, {"language": lang, "variant": "m2"}, id=f"espeak-{lang}"
        )
        for lang, text in FOREIGN.items()
    ],
]


@pytest.mark.parametrize(("engine", "text", "kwargs"), ENGINES)
def test_engine_gives_16k_speech_whose_phones_tile_the_audio_and_match_its_energy(
    engine, text, kwargs
):
    s = engine(text, **kwargs)
    assert s.sample_rate == SAMPLE_RATE
    assert s.waveform.dtype == np.float32 and s.waveform.ndim == 1
    assert 0.01 < float(np.sqrt(np.mean(s.waveform**2))) and np.abs(s.waveform).max() <= 1.0
    # canonical phones, contiguous from 0 to the end of the audio (within 50 ms)
    assert {p.phone for p in s.phones} <= PHONE_SET
    assert s.phones[0].start == 0.0
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(s.phones))
    assert abs(s.phones[-1].end - s.duration) < 0.05
    # the timing is the audio's: speech starts and stops where the spoken phones do
    speech = [p for p in s.phones if p.phone != SILENCE]
    active = np.flatnonzero(energy_vad(s.waveform))
    assert abs(active[0] * 0.01 - speech[0].start) < 0.1
    assert abs(active[-1] * 0.01 - speech[-1].end) < 0.1
    assert len(speech) >= len(text.split())


@pytest.mark.parametrize(
    ("engine", "text", "kwargs"),
    [
        pytest.param(tts.synthesize_flite, SENTENCE, {"voice": "kal16"}, id="flite"),
        pytest.param(
            tts.synthesize_festival, SENTENCE, {"voice": "cmu_us_slt_arctic_hts"}, id="festival"
        ),
        pytest.param(tts.synthesize_espeak, FOREIGN["ru"], {"language": "ru"}, id="espeak"),
    ],
)
def test_same_text_gives_the_same_samples_and_phones(engine, text, kwargs):
    a, b = engine(text, **kwargs), engine(text, **kwargs)
    np.testing.assert_array_equal(a.waveform, b.waveform)
    assert a.phones == b.phones


@pytest.mark.parametrize(
    ("engine", "kwargs"),
    [
        pytest.param(tts.synthesize_flite, {"voice": "rms"}, id="flite"),
        pytest.param(
            tts.synthesize_festival, {"voice": "cmu_us_slt_arctic_hts"}, id="festival-hts"
        ),
        pytest.param(tts.synthesize_festival, {"voice": "kal_diphone"}, id="festival-diphone"),
        pytest.param(tts.synthesize_espeak, {"variant": "f2"}, id="espeak"),
    ],
)
def test_a_faster_rate_shortens_the_speech(engine, kwargs):
    slow = engine(SENTENCE, rate=0.8, **kwargs)
    fast = engine(SENTENCE, rate=1.25, **kwargs)
    assert fast.duration < 0.85 * slow.duration
    assert fast.phones[-1].end == pytest.approx(fast.duration, abs=0.05)


def _median_f0(wav: np.ndarray) -> float:
    f0 = librosa.yin(wav, fmin=60, fmax=400, sr=SAMPLE_RATE, frame_length=1024, hop_length=256)
    voiced = librosa.feature.rms(y=wav, frame_length=1024, hop_length=256)[0][: len(f0)]
    return float(np.median(f0[voiced > 0.3 * voiced.max()]))


@pytest.mark.parametrize(
    ("engine", "kwargs"),
    [
        pytest.param(tts.synthesize_flite, {"voice": "slt"}, id="flite"),
        pytest.param(tts.synthesize_festival, {"voice": "ked_diphone"}, id="festival-diphone"),
        pytest.param(tts.synthesize_espeak, {"variant": "m1"}, id="espeak"),
    ],
)
def test_a_higher_pitch_raises_the_fundamental(engine, kwargs):
    low = _median_f0(engine(SENTENCE, pitch=0.85, **kwargs).waveform)
    high = _median_f0(engine(SENTENCE, pitch=1.2, **kwargs).waveform)
    assert high > 1.15 * low


def test_festival_reads_its_segment_files_and_quotes_text_safely():
    segs = "#\n0.1650 100 pau\n0.2550 100 hh\n0.2850 100 ax\n"
    assert tts.parse_festival_segs(segs) == [("pau", 0.165), ("hh", 0.255), ("ax", 0.285)]
    s = tts.synthesize_festival('He said "hi" \\ and left.', "kal_diphone")
    assert s.duration > 0.5


def test_espeak_phonemes_of_every_kit_voice_and_text_map_to_arpabet():
    """Every phoneme the kit's espeak-ng voices emit for its texts has a mapping (not a
    fallback guess): all texts through the phonemiser, a sample through synthesis events."""
    library = espeak_library()
    voices = sorted({(s.voice, s.language) for s in all_speakers() if s.engine == "espeak"})
    assert {lang for _, lang in voices} == set(ESPEAK_LANGUAGES)
    unmapped = set()
    for voice, language in voices:
        texts = tts_texts(language)
        mnemonics = {m for text in texts for m in library.phonemes(text, voice)}
        for text in texts[:: max(1, len(texts) // 4)]:
            mnemonics |= {e.mnemonic for e in synthesize_raw(text, voice).events}
        for m in mnemonics:
            try:
                espeak_to_arpabet(m, language)
            except KeyError:
                unmapped.add((language, m))
    assert not unmapped


def test_espeak_mapping_is_language_aware():
    assert espeak_to_arpabet("a", "en") == "ae"
    assert espeak_to_arpabet("a", "es") == "aa"
    assert espeak_to_arpabet("y", "fr") == "uw"
    assert espeak_to_arpabet("y", "ru") == "ih"
    assert espeak_to_arpabet("t;", "ru") == "t"
    assert espeak_to_arpabet("(en)", "ru") is None
    assert espeak_to_arpabet("_:", "it") == SILENCE
    with pytest.raises(KeyError):
        espeak_to_arpabet("Q#@", "en")


@pytest.mark.parametrize(
    "call",
    [
        lambda: tts.synthesize_flite("hello", "nobody"),
        lambda: tts.synthesize_festival("hello", "nobody_diphone"),
        lambda: tts.synthesize_espeak("hello", variant="nobody"),
        lambda: tts.synthesize_espeak("hello", voice="xx-nowhere"),
        lambda: tts.synthesize_espeak("hallo", language="de"),
        lambda: tts.synthesize_flite("hello", "rms", pitch=1.2),
        lambda: tts.synthesize_festival("hello", "cmu_us_slt_arctic_hts", pitch=1.2),
        lambda: tts.synthesize_flite("hello", rate=5.0),
    ],
)
def test_bad_options_raise_a_config_error(call):
    with pytest.raises(ConfigError):
        call()


@pytest.mark.parametrize(
    "engine", [tts.synthesize_flite, tts.synthesize_festival, tts.synthesize_espeak]
)
def test_empty_text_is_refused(engine):
    with pytest.raises(AvgenError, match="empty"):
        engine("  \n ")


@pytest.mark.parametrize(
    "engine", [tts.synthesize_flite, tts.synthesize_festival, tts.synthesize_espeak]
)
def test_a_missing_engine_raises_missing_tool_error(engine, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(MissingToolError, match="apt-get install"):
        engine("hello")
